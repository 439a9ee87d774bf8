"""Fixtures for the data tests: "downloaded" source videos in codecs other than imrkit's.

Helpers are handed out as fixtures because tests run with ``--import-mode=importlib``,
where a test module cannot import ``conftest``.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest


def _source_frames(num_frames: int, width: int, height: int, seed: int = 0):
    """RGB frames of a smooth random texture sliding right 3 px per frame."""
    import cv2

    rng = np.random.default_rng(seed)
    cells = rng.integers(
        0, 256, size=(height // 8 + 1, (width + 3 * num_frames) // 8 + 1, 3), dtype=np.uint8
    )
    texture = cv2.resize(
        cells, (cells.shape[1] * 8, cells.shape[0] * 8), interpolation=cv2.INTER_CUBIC
    )
    for index in range(num_frames):
        start = 3 * (num_frames - index)
        yield np.ascontiguousarray(texture[:height, start : start + width])


def write_source_video(
    path: Path,
    *,
    codec: str = "libx264",
    num_frames: int = 50,
    width: int = 320,
    height: int = 240,
    fps: int = 25,
    gop: int = 30,
    b_frames: int = 2,
    forced_keyframes: tuple[int, ...] = (),
    seed: int = 0,
) -> Path:
    """Encode a video the way a dataset might ship it: another codec, GOP, B-frames.

    ``forced_keyframes`` lists frames encoded as I-frames off the GOP grid (scene cuts).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = gop
        stream.codec_context.max_b_frames = b_frames
        options = {"g": str(gop), "bf": str(b_frames)}
        if codec == "libx264":
            options["preset"] = "ultrafast" if not b_frames else "veryfast"
        stream.options = options
        for index, rgb in enumerate(_source_frames(num_frames, width, height, seed)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            if index in forced_keyframes:
                frame.pict_type = av.video.frame.PictureType.I
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def _picture_types(path: Path) -> str:
    """'IPPB...' for every decoded frame of a video (PyAV 14+: pict_type is an int)."""
    with av.open(str(path)) as container:
        return "".join(" IPB"[int(frame.pict_type)] for frame in container.decode(video=0))


@pytest.fixture
def make_source_video(tmp_path):
    """``make_source_video(relative_path, **options)`` writes a source video under tmp_path."""

    def make(relative: str, **options) -> Path:
        return write_source_video(tmp_path / relative, **options)

    return make


@pytest.fixture
def source_frames():
    """The frames ``make_source_video`` encodes: ``source_frames(num_frames, width, height)``."""
    return _source_frames


@pytest.fixture
def picture_types():
    """``picture_types(path)`` -> 'IPPB...', one letter per decoded frame."""
    return _picture_types
