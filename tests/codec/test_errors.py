"""Bad input: every failure is an imrkit.VideoError naming the file, the problem, the fix."""

from __future__ import annotations

import os

import av
import numpy as np
import pytest

from imrkit.codec.encode import encode_any, encode_frames
from imrkit.codec.inspect import inspect_frames
from imrkit.codec.reader import probe, read_clip
from imrkit.errors import (
    CorruptVideoError,
    NotAVideoError,
    UnsupportedVideoError,
    VideoError,
    VideoNotFoundError,
    VideoTooShortError,
)


def encode_with(path, frames, codec="mpeg4", b_frames=0, gop_size=12):
    """Encode with settings imrkit does not write (B-frames, another codec or GOP size)."""
    options = {"bf": str(b_frames), "g": str(gop_size), "sc_threshold": "1000000000"}
    if codec == "h264":
        options.update(sc_threshold="0", **{"x264-params": "scenecut=0"})
    return encode_any(
        frames, path, codec=codec, gop_size=gop_size, b_frames=b_frames, options=options
    )


def audio_only(path):
    """A WAV file with one second of a tone and no video stream."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        stream.layout = "mono"
        samples = (np.sin(np.arange(8000) / 8) * 3000).astype(np.int16)[None]
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def bad_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("bad")


@pytest.fixture(scope="module")
def pan_bytes(pan_video) -> bytes:
    return pan_video.path.read_bytes()


@pytest.fixture(scope="module")
def bad_files(bad_dir, pan_video, pan_bytes):
    """name -> (path, expected error class) for every kind of bad input."""
    frames = pan_video.frames
    files = {}

    def add(name, error, data=None):
        path = bad_dir / name
        if data is not None:
            path.write_bytes(data)
        files[name] = (path, error)
        return path

    add("missing.mp4", VideoNotFoundError)
    (bad_dir / "folder.mp4").mkdir()
    add("folder.mp4", NotAVideoError)
    add("empty.mp4", NotAVideoError, b"")
    add("notes.mp4", NotAVideoError, b"these are not the frames you are looking for\n" * 50)
    add("noise.avi", NotAVideoError, np.random.default_rng(0).bytes(5000))
    add("truncated.mp4", CorruptVideoError, pan_bytes[: len(pan_bytes) // 2])
    damaged = bytearray(pan_bytes)
    middle = len(damaged) // 2
    damaged[middle : middle + 2000] = np.random.default_rng(0).bytes(2000)
    add("damaged.mp4", CorruptVideoError, bytes(damaged))
    files["tone.wav"] = (audio_only(bad_dir / "tone.wav"), NotAVideoError)
    # Codecs whose decoders export no motion vectors (issue 10: B-frames, H.264 and other
    # GOP sizes now read directly; tests/codec/test_formats.py checks them).
    files["hevc.mp4"] = (
        encode_with(bad_dir / "hevc.mp4", frames, codec="hevc"),
        UnsupportedVideoError,
    )
    files["vp9.webm"] = (
        encode_with(bad_dir / "vp9.webm", frames, codec="vp9"),
        UnsupportedVideoError,
    )
    return files


@pytest.fixture(scope="module")
def readable_files(bad_dir, pan_video):
    """Files the reader used to refuse and now reads directly (issue 10)."""
    frames = pan_video.frames
    return {
        "bframes.mp4": encode_with(bad_dir / "bframes.mp4", frames, b_frames=2),
        "h264.mp4": encode_with(bad_dir / "h264.mp4", frames, codec="h264"),
        "gop10.mp4": encode_with(bad_dir / "gop10.mp4", frames, gop_size=10),
    }


CASES = [
    "missing.mp4",
    "folder.mp4",
    "empty.mp4",
    "notes.mp4",
    "noise.avi",
    "truncated.mp4",
    "damaged.mp4",
    "tone.wav",
    "hevc.mp4",
    "vp9.webm",
]


@pytest.mark.parametrize("name", CASES)
def test_read_clip_bad_input(bad_files, name):
    path, error = bad_files[name]
    with pytest.raises(error) as caught:
        read_clip(path, 0, 2)
    message = str(caught.value)
    assert str(path) in message and caught.value.path == str(path)
    assert caught.value.reason and caught.value.hint  # what is wrong, what to do


def test_missing_file_is_also_file_not_found(bad_files):
    with pytest.raises(FileNotFoundError):
        read_clip(bad_files["missing.mp4"][0])


@pytest.mark.parametrize(
    "name", ["missing.mp4", "empty.mp4", "notes.mp4", "truncated.mp4", "tone.wav"]
)
def test_probe_bad_input(bad_files, name):
    path, error = bad_files[name]
    with pytest.raises(error):
        probe(path)
    with pytest.raises(error):
        next(iter(inspect_frames(path)))


@pytest.mark.parametrize("name, codec", [("hevc.mp4", "HEVC"), ("vp9.webm", "VP9")])
def test_probe_describes_videos_read_clip_refuses(bad_files, name, codec):
    """Both messages name the codec and its decoder (PyAV reports the decoder: libvpx-vp9
    where FFmpeg was built to prefer it), the codecs that do read, and the fix."""
    path = bad_files[name][0]
    info = probe(path)
    named = f"codec is {codec} (decoder {info.codec})"
    (problem,) = info.problems()
    assert named in problem and "no motion vectors" in problem
    assert "H.264" in problem and "imrkit prepare" in problem
    with pytest.raises(UnsupportedVideoError) as caught:
        read_clip(path, 0, 1)
    assert named in caught.value.reason and "imrkit prepare" in str(caught.value)


def test_probe_has_no_problem_with_any_gop_structure(readable_files):
    h264 = probe(readable_files["h264.mp4"])
    assert h264.codec == "h264" and h264.problems() == []
    bframes = probe(readable_files["bframes.mp4"])
    assert bframes.has_b_frames and bframes.problems() == []
    gop10 = probe(readable_files["gop10.mp4"])
    assert gop10.gop_size == 10 and gop10.problems() == []
    for path in readable_files.values():
        clip = read_clip(path, 0, 3)
        assert clip.iframes.shape == (3, 96, 128, 3)


def test_errors_do_not_leak_file_descriptors(bad_files):
    def open_fds():
        return len(os.listdir("/proc/self/fd"))

    for name in CASES:  # warm up caches that open files once
        with pytest.raises(VideoError):
            read_clip(bad_files[name][0], 0, 2)
    before = open_fds()
    for _ in range(5):
        for name in CASES:
            with pytest.raises(VideoError):
                read_clip(bad_files[name][0], 0, 2)
    assert open_fds() == before


def test_too_short(tmp_path, pan_video):
    two_gops = encode_frames(pan_video.frames[:24], tmp_path / "two.mp4")
    with pytest.raises(VideoTooShortError) as caught:
        read_clip(two_gops, 0, 5)
    assert "2 usable GOPs" in str(caught.value) and "loop=True" in str(caught.value)
    with pytest.raises(VideoTooShortError):
        read_clip(two_gops, 1, 2)
    assert read_clip(two_gops, 1, 1).gop_indices.tolist() == [1]
    assert read_clip(two_gops, 0, 5, loop=True).gop_indices.tolist() == [0, 1, 0, 1, 0]


def test_partial_last_gop(tmp_path, pan_video):
    # 12 + 11 frames: the second GOP reaches position 10, so it is usable; 12 + 10 is not.
    enough = encode_frames(pan_video.frames[:23], tmp_path / "23.mp4")
    assert read_clip(enough, 0, 2).frame_indices[-1] == 22
    short = encode_frames(pan_video.frames[:22], tmp_path / "22.mp4")
    assert probe(enough).usable_gops() == 2 and probe(short).usable_gops() == 1
    assert probe(short).num_gops == 2  # it has two I-frames all the same
    with pytest.raises(VideoTooShortError):
        read_clip(short, 0, 2)


def test_less_than_one_gop_even_with_loop(tmp_path, pan_video):
    tiny = encode_frames(pan_video.frames[:8], tmp_path / "tiny.mp4")
    with pytest.raises(VideoTooShortError):
        read_clip(tiny, 0, 1, loop=True)


@pytest.mark.parametrize("start_gop, num_gops", [(-1, 2), (0, 0)])
def test_bad_arguments(pan_video, start_gop, num_gops):
    with pytest.raises(ValueError):
        read_clip(pan_video.path, start_gop, num_gops)
