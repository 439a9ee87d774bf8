"""``read_clip`` gives, bit for bit, what it gave before it was made cheaper (issue 24).

``tests/codec/data/`` holds three 160x128 videos of the benchmarks' natural-like pan
(:func:`imrkit.bench.loader.synthetic_frames`, 48 frames): MPEG-4 Part 2 as ``imrkit
prepare`` writes it (GOP 12, no B-frames), MPEG-4 Part 2 with 2 B-frames (keyint 250), and
H.264 (x264, 3 B-frames with pyramid, 3 references, keyint 250), and ``reader_reference.npz``:
the streams the reader produced for each of :data:`READS` before issue 24 made it cheaper.
Every read is compared: motion in full, I-frames and residuals frame by frame (a digest, and
the sums that say how far a changed frame moved), frame indices, coded types and frames
decoded. The videos are committed, not regenerated, so an encoder upgrade cannot move the
reference; they are decoded with whatever FFmpeg PyAV ships.

Regenerate only when a change of the output is intended (and say why in the commit):
``python tests/codec/test_reader_reference.py`` (``--keep-videos`` keeps the videos).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"
REFERENCE = DATA / "reader_reference.npz"
SIZE = (160, 128)  # width, height
NUM_FRAMES = 48
VIDEOS = {
    "mpeg4_gop12": "ref_mpeg4_gop12.avi",
    "mpeg4_b": "ref_mpeg4_b.mp4",
    "h264_b": "ref_h264_b.mp4",
}
# name -> read_clip keyword arguments; views are (top, left, height, width, size, flip).
READS = {
    "start": dict(start_gop=0, num_gops=3),
    "second": dict(start_gop=1, num_gops=2),
    "accumulate": dict(start_gop=0, num_gops=2, accumulate=True),
    "positions": dict(start_gop=1, num_gops=2, p_positions=(1, 3, 11)),
    "views": dict(
        start_gop=0, num_gops=2, views=((8, 4, 112, 112, 64, True), (0, 40, 128, 120, 64, False))
    ),
}


def read(name: str, how: str) -> dict[str, np.ndarray]:
    """The streams of one reference read, by array name (``views``: one set per view)."""
    from imrkit.codec.crop import OutputView
    from imrkit.codec.reader import read_clip

    kwargs = dict(READS[how])
    if "views" in kwargs:
        kwargs["views"] = [OutputView(*view) for view in kwargs["views"]]
    clips = read_clip(DATA / VIDEOS[name], **kwargs)
    clips = clips if isinstance(clips, list) else [clips]
    out = {}
    for number, clip in enumerate(clips):
        key = f"{name}/{how}/{number}"
        for stream in ("motion", "frame_indices", "coded_types"):
            out[f"{key}/{stream}"] = np.asarray(getattr(clip, stream))
        for stream in ("iframes", "residual"):  # pixels: per-frame digests and sums
            digests, sums = frame_digests(getattr(clip, stream))
            out[f"{key}/{stream}_sha256"], out[f"{key}/{stream}_sums"] = digests, sums
        out[f"{key}/num_decoded"] = np.asarray(clip.num_decoded)
    return out


def frame_digests(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame of ``frames`` (F x ...): the SHA-256 of its bytes (F,), and its sum, sum of
    absolute values and sum of squares, int64 (F x 3), which say how far a changed frame
    moved. Pixel streams are stored this way: in full they would be 7 MB."""
    digests = np.array(
        [hashlib.sha256(np.ascontiguousarray(f).tobytes()).hexdigest() for f in frames]
    )
    flat = frames.reshape(len(frames), -1).astype(np.int64)
    sums = np.stack([flat.sum(1), np.abs(flat).sum(1), (flat**2).sum(1)], axis=1)
    return digests, sums


def write_videos() -> None:
    from imrkit.bench.loader import synthetic_frames
    from imrkit.codec.encode import encode_any, encode_frames

    DATA.mkdir(exist_ok=True)
    frames = list(synthetic_frames(NUM_FRAMES, *SIZE, seed=5))
    encode_frames(frames, DATA / VIDEOS["mpeg4_gop12"], container_format="avi")
    encode_any(
        frames,
        DATA / VIDEOS["mpeg4_b"],
        codec="mpeg4",
        gop_size=250,
        b_frames=2,
        options={"g": "250", "bf": "2", "qmin": "3", "qmax": "8"},
    )
    encode_any(
        frames,
        DATA / VIDEOS["h264_b"],
        codec="libx264",
        gop_size=250,
        b_frames=3,
        options={"crf": "23", "threads": "1"},
    )


def main() -> None:
    if "--keep-videos" not in sys.argv:
        write_videos()
    arrays = {}
    for name in VIDEOS:
        for how in READS:
            arrays.update(read(name, how))
    np.savez_compressed(REFERENCE, **arrays)
    print(f"wrote {REFERENCE} ({REFERENCE.stat().st_size / 1024:.0f} KiB)")


@pytest.fixture(scope="module")
def reference():
    with np.load(REFERENCE) as stored:
        return {key: stored[key] for key in stored.files}


@pytest.mark.parametrize("how", list(READS))
@pytest.mark.parametrize("name", list(VIDEOS))
def test_read_clip_matches_the_frozen_reference(reference, name, how):
    now = read(name, how)
    expected = {key: value for key, value in reference.items() if key.startswith(f"{name}/{how}/")}
    assert sorted(now) == sorted(expected)
    for key, value in expected.items():
        if key.endswith("_sha256"):
            sums = key.replace("_sha256", "_sums")
            changed = np.flatnonzero(now[key] != value)
            assert changed.size == 0, (
                f"{key}: frames {changed.tolist()} changed (sum, |sum|, sum of squares "
                f"now {now[sums][changed].tolist()}, was {expected[sums][changed].tolist()})"
            )
        elif how == "views" and key.endswith("/motion"):
            # Resampled by float32 matrix products, whose summation order is the BLAS
            # kernel's: it differs by CPU (AVX2 and AVX-512 disagreed in the last bit on 0.4%
            # of values). Two ulps of the field's largest value; any real change is far more.
            ulp = np.spacing(np.abs(value).max().astype(np.float32))
            np.testing.assert_allclose(now[key], value, rtol=0, atol=2 * ulp, err_msg=key)
        else:
            np.testing.assert_array_equal(now[key], value, err_msg=key)


if __name__ == "__main__":
    main()


def test_reads_in_threads_match_the_reference(reference):
    """The reader's reused buffers are per read or per thread: clips read concurrently in a
    thread pool are the reference's (a shared buffer would mix them)."""
    from concurrent.futures import ThreadPoolExecutor

    jobs = [(name, how) for name in VIDEOS for how in ("start", "second")] * 2
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda job: read(*job), jobs))
    for arrays in results:
        for key, value in arrays.items():
            np.testing.assert_array_equal(value, reference[key], err_msg=key)
