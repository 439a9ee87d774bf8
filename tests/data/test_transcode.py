"""transcode: any source -> MPEG-4 Part 2, I every 12th frame only, no B-frames, resized."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from imrkit.cli import main
from imrkit.codec.transcoding import COVIAR_SIZE, TranscodeConfig, output_size, transcode
from imrkit.errors import CorruptVideoError, NotAVideoError, VideoError, VideoNotFoundError


def stream_info(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        return context.name, context.pix_fmt, stream.width, stream.height, stream.average_rate


def imrkit_layout(num_frames: int) -> str:
    return (("I" + "P" * 11) * (num_frames // 12 + 1))[:num_frames]


@pytest.mark.parametrize(("codec", "name"), [("libx264", "h264.mp4"), ("mpeg4", "mpeg4.avi")])
def test_source_gop_is_replaced_by_the_fixed_layout(
    make_source_video, picture_types, tmp_path, codec, name
):
    # GOP 30, B-frames and a "scene cut" keyframe at 17: everything IMRNet must not see.
    src = make_source_video(name, codec=codec, num_frames=50, gop=30, forced_keyframes=(17,))
    source_types = picture_types(src)
    assert "B" in source_types and source_types[17] == "I" and source_types[12] != "I"

    dst = transcode(src, tmp_path / "out" / "video.avi")
    assert stream_info(dst)[:4] == ("mpeg4", "yuv420p", 342, 256)  # 320x240, short side 256
    assert picture_types(dst) == imrkit_layout(50)  # I at 0, 12, 24, 36, 48 only; no B


def test_frames_keep_their_order_and_content(make_source_video, tmp_path, source_frames):
    src = make_source_video("src.mp4", num_frames=30, width=160, height=128)
    dst = transcode(src, tmp_path / "same.avi", TranscodeConfig(short_side=None))
    with av.open(str(dst)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    expected = list(source_frames(30, 160, 128))
    assert len(decoded) == 30
    errors = [
        np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(decoded, expected, strict=True)
    ]
    # two lossy generations, yet every frame is close to its own source frame ...
    assert max(errors) < 12
    # ... and far from its neighbour (the pattern moves 3 px per frame)
    assert np.abs(decoded[10].astype(int) - expected[11].astype(int)).mean() > 2 * errors[10]


def test_resizing_rules(make_source_video, tmp_path):
    src = make_source_video("portrait.mp4", num_frames=13, width=240, height=320, b_frames=0)
    assert stream_info(transcode(src, tmp_path / "a.avi"))[2:4] == (256, 342)
    coviar = TranscodeConfig(size=COVIAR_SIZE)
    assert stream_info(transcode(src, tmp_path / "b.mp4", coviar))[2:4] == (340, 256)
    keep = TranscodeConfig(short_side=None)
    assert stream_info(transcode(src, tmp_path / "c.avi", keep))[2:4] == (240, 320)


@pytest.mark.parametrize(
    ("size", "config", "expected"),
    [
        ((320, 240), TranscodeConfig(), (342, 256)),
        ((340, 256), TranscodeConfig(), (340, 256)),
        ((1920, 1080), TranscodeConfig(), (456, 256)),
        ((400, 226), TranscodeConfig(), (454, 256)),  # 453.1 -> nearest even
        ((320, 240), TranscodeConfig(short_side=128), (170, 128)),
        ((320, 240), TranscodeConfig(size=(340, 256)), (340, 256)),
        ((321, 241), TranscodeConfig(short_side=None), (320, 240)),
    ],
)
def test_output_size(size, config, expected):
    width, height = output_size(*size, config)
    assert (width, height) == expected and width % 2 == 0 and height % 2 == 0


def test_frame_rate_is_kept_or_set(make_source_video, tmp_path):
    src = make_source_video("src.mp4", num_frames=13, fps=25, b_frames=0)
    assert stream_info(transcode(src, tmp_path / "a.avi"))[4] == 25
    assert stream_info(transcode(src, tmp_path / "b.avi", TranscodeConfig(fps=30)))[4] == 30


def test_unreadable_sources_raise_video_errors_naming_the_file(make_source_video, tmp_path):
    good = make_source_video("good.avi", codec="mpeg4", num_frames=40)
    data = good.read_bytes()
    cases = {
        "missing.avi": (None, VideoNotFoundError),
        "empty.avi": (b"", NotAVideoError),
        "notes.avi": (b"these are not the frames you are looking for\n" * 20, NotAVideoError),
        "head_only.avi": (data[:3000], CorruptVideoError),
        "truncated.avi": (data[: len(data) // 2], CorruptVideoError),
    }
    for name, (content, error) in cases.items():
        src = tmp_path / name
        if content is not None:
            src.write_bytes(content)
        dst = tmp_path / "out" / name
        with pytest.raises(error) as raised:
            transcode(src, dst)
        assert isinstance(raised.value, VideoError) and str(src) in str(raised.value)
        assert not dst.exists()
    assert not [p.name for p in (tmp_path / "out").iterdir()]  # no partial file left


def test_failed_transcode_leaves_an_existing_output_untouched(tmp_path):
    src, dst = tmp_path / "broken.avi", tmp_path / "video.avi"
    src.write_bytes(b"RIFF" + bytes(100))
    dst.write_bytes(b"previous output")
    with pytest.raises(VideoError):
        transcode(src, dst)
    assert dst.read_bytes() == b"previous output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.avi", "video.avi"]


def test_output_container_must_be_known(make_source_video, tmp_path):
    from imrkit.errors import ConfigError

    src = make_source_video("src.mp4", num_frames=5, b_frames=0)
    with pytest.raises(ConfigError):
        transcode(src, tmp_path / "video.gif")
    with pytest.raises(ConfigError):
        TranscodeConfig(size=(341, 256))


def test_cli_transcode(make_source_video, tmp_path, capsys, picture_types):
    src = make_source_video("src.mp4", num_frames=24, b_frames=0)
    dst = tmp_path / "out.avi"
    assert main(["transcode", str(src), str(dst), "--size", "340x256", "--quantizer", "8"]) == 0
    assert stream_info(dst)[2:4] == (340, 256) and picture_types(dst) == imrkit_layout(24)
    assert main(["transcode", str(tmp_path / "nope.avi"), str(dst)]) == 2
    assert "nope.avi" in capsys.readouterr().err


def test_decoded_frame_is_close_to_a_resized_source(make_source_video, tmp_path, source_frames):
    src = make_source_video("src.mp4", num_frames=12, width=320, height=240, b_frames=0)
    dst = transcode(src, tmp_path / "small.avi", TranscodeConfig(size=(160, 128)))
    with av.open(str(dst)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    references = [
        cv2.resize(frame, (160, 128), interpolation=cv2.INTER_AREA)
        for frame in source_frames(12, 320, 240)
    ]
    error_first, error_later = (
        np.abs(first.astype(int) - references[i].astype(int)).mean() for i in (0, 6)
    )
    assert error_first < 16 and error_first < 0.6 * error_later
