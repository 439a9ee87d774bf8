"""Where ``read_clip``'s time goes, stage by stage (issue 24).

:func:`stage_times` reads a clip with timing wrappers around the functions that do each
stage's work, and charges every call its own (exclusive) CPU time, so nested stages are not
counted twice:

- ``side_data``: looking up a frame's ``MOTION_VECTORS`` side data and converting it to
  PyAV's structured array (:class:`imrkit.codec.decoder._Picture`);
- ``motion_vectors``: turning a frame's block vectors into its per-frame field on the cell
  grid (reference distances, B-frame scaling: :meth:`SegmentDecoder._motion`), including
  the candidate references' luma for H.264;
- ``reference_matching``: H.264 only, matching each block against its candidate reference
  frames (:func:`imrkit.codec.references._match_costs`);
- ``dense_motion``: expanding the cell grid to the per-pixel field the clip holds
  (:meth:`imrkit.codec.motion.BlockMotion.dense`);
- ``rgb``: converting the frames the clip needs to RGB (swscale);
- ``residual``: the motion-compensated prediction and the difference
  (:class:`imrkit.codec.residual.MotionCompensator`);
- ``decode``: everything else, which is opening the file, demuxing, FFmpeg's decoding
  and the reader's per-frame bookkeeping: compare it with a plain decode of the same frames.

The wrappers cost about a microsecond a call (a few hundred calls a clip). They patch module
and class attributes for the duration of the call only, in this process.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Callable, Iterator

STAGES = (
    "decode",
    "side_data",
    "motion_vectors",
    "reference_matching",
    "dense_motion",
    "rgb",
    "residual",
)


class _Clock:
    """Exclusive CPU time per stage: a call's time minus its timed callees'."""

    def __init__(self):
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self._inner: list[float] = []  # per open call: time spent in timed callees

    def wrap(self, stage: str, function: Callable) -> Callable:
        @functools.wraps(function)
        def timed(*args, **kwargs):
            start = time.process_time()
            self._inner.append(0.0)
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.process_time() - start
                inner = self._inner.pop()
                self.seconds[stage] += elapsed - inner
                if self._inner:
                    self._inner[-1] += elapsed

        return timed


@contextlib.contextmanager
def _timed_stages(clock: _Clock) -> Iterator[None]:
    from imrkit.codec import decoder, motion, references, residual

    picture = decoder._Picture
    patches = [
        (decoder, "_rgb", clock.wrap("rgb", decoder._rgb)),
        (
            decoder.SegmentDecoder,
            "_motion",
            clock.wrap("motion_vectors", decoder.SegmentDecoder._motion),
        ),
        (references, "_match_costs", clock.wrap("reference_matching", references._match_costs)),
        (motion.BlockMotion, "dense", clock.wrap("dense_motion", motion.BlockMotion.dense)),
        (
            residual.MotionCompensator,
            "residual",
            clock.wrap("residual", residual.MotionCompensator.residual),
        ),
        (decoder, "accumulated_residual", clock.wrap("residual", decoder.accumulated_residual)),
        (
            picture,
            "side_data",
            property(clock.wrap("side_data", picture.side_data.fget)),
        ),
        (picture, "vectors", property(clock.wrap("side_data", picture.vectors.fget))),
    ]
    saved = [(owner, name, owner.__dict__[name]) for owner, name, _ in patches]
    try:
        for owner, name, replacement in patches:
            setattr(owner, name, replacement)
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def stage_times(
    path: str | os.PathLike, start_gop: int = 0, num_gops: int = 5, repeats: int = 5
) -> dict[str, float]:
    """Median CPU seconds of each of :data:`STAGES` over ``repeats`` reads of one clip,
    and ``total``: the whole read (run on one thread: OpenCV is set to one).

    Returns:
        ``{stage: seconds, ..., "total": seconds}``; the stages add up to the total.
    """
    import statistics

    import cv2

    from imrkit.codec.reader import read_clip

    cv2.setNumThreads(1)
    read_clip(path, start_gop, num_gops)  # warm up: imports, caches, the page cache
    runs: list[dict[str, float]] = []
    for _ in range(repeats):
        clock = _Clock()
        with _timed_stages(clock):
            start = time.process_time()
            read_clip(path, start_gop, num_gops)
            total = time.process_time() - start
        timed = sum(clock.seconds.values())
        clock.seconds["decode"] += total - timed  # what no wrapper saw
        runs.append({**clock.seconds, "total": total})
    return {key: statistics.median(run[key] for run in runs) for key in (*STAGES, "total")}
