"""prepare_dataset: mirrors a dataset tree, resumes, reports failures, never half-writes."""

from __future__ import annotations

import av
import pytest

import imrkit.codec.transcoding as transcode_module
from imrkit.cli import main
from imrkit.data.prepare import FAILURES_FILE, prepare_dataset
from imrkit.errors import ConfigError, ImrkitError

VIDEOS = [
    "Archery/v_Archery_g01_c01.avi",
    "Archery/v_Archery_g02_c01.avi",
    "Bowling/v_Bowling_g01_c01.avi",
    "Bowling/extra/clip.mp4",
]
SIDE_FILES = {
    "classInd.txt": "1 Archery\n2 Bowling\n",
    "trainlist01.txt": "Archery/v_Archery_g02_c01.avi 1\n",
    "testlist01.txt": "Archery/v_Archery_g01_c01.avi\n",
    "annotations/train.csv": "label,youtube_id\narchery,abc\n",
}


@pytest.fixture
def source_dataset(tmp_path, make_source_video):
    """A small "downloaded" dataset: mixed codecs and GOPs, split files, hidden junk."""
    root = tmp_path / "src"
    for index, relative in enumerate(VIDEOS):
        codec = "mpeg4" if relative.endswith(".avi") else "libx264"
        make_source_video(
            f"src/{relative}",
            codec=codec,
            num_frames=26,
            width=160,
            height=120,
            gop=30,
            b_frames=2,
            seed=index,
        )
    for relative, text in SIDE_FILES.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    (root / ".DS_Store").write_text("junk")
    (root / "README.md").write_text("not copied")
    return root


def outputs(dst):
    return sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file())


def mtimes(dst):
    return {p: p.stat().st_mtime_ns for p in dst.rglob("*.avi")}


def check_video(path, num_frames=26):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        types = "".join(" IPB"[int(f.pict_type)] for f in container.decode(stream))
        assert stream.codec_context.name == "mpeg4"
        assert (stream.width, stream.height) == (342, 256)
    assert types == ("I" + "P" * 11) * 2 + "IP"[: num_frames - 24]


def test_mirrors_the_tree_and_copies_split_files(source_dataset, tmp_path):
    dst = tmp_path / "dst"
    report = prepare_dataset(source_dataset, dst, workers=1, progress=False)
    expected_videos = [v.replace(".mp4", ".avi") for v in VIDEOS]
    assert outputs(dst) == sorted(expected_videos + list(SIDE_FILES))
    for relative in expected_videos:
        check_video(dst / relative)
    for relative, text in SIDE_FILES.items():
        assert (dst / relative).read_text() == text
    assert report.ok and sorted(report.converted) == sorted(VIDEOS)
    assert sorted(report.copied) == sorted(SIDE_FILES) and not report.skipped
    assert "4 converted" in report.summary() and "0 failed" in report.summary()


def test_rerun_skips_finished_videos(source_dataset, tmp_path):
    dst = tmp_path / "dst"
    prepare_dataset(source_dataset, dst, workers=1, progress=False)
    before = mtimes(dst)
    again = prepare_dataset(source_dataset, dst, workers=1, progress=False)
    assert mtimes(dst) == before
    assert not again.converted and sorted(again.skipped) == sorted(VIDEOS)

    removed = dst / VIDEOS[2]
    removed.unlink()
    resumed = prepare_dataset(source_dataset, dst, workers=1, progress=False)
    assert resumed.converted == [VIDEOS[2]] and len(resumed.skipped) == 3
    after = mtimes(dst)
    assert {p: t for p, t in after.items() if p != removed} == {
        p: t for p, t in before.items() if p != removed
    }
    check_video(removed)

    forced = prepare_dataset(source_dataset, dst, workers=1, progress=False, overwrite=True)
    assert len(forced.converted) == 4 and not forced.skipped


def test_interrupted_run_leaves_only_finished_files_and_resumes(
    source_dataset, tmp_path, monkeypatch
):
    real = transcode_module._transcode_stream
    calls = []

    def interrupted_on_third(source, src, partial, muxer, config):
        calls.append(src)
        if len(calls) == 3:
            partial.write_bytes(b"half a video")  # what a killed encoder leaves
            raise KeyboardInterrupt
        return real(source, src, partial, muxer, config)

    monkeypatch.setattr(transcode_module, "_transcode_stream", interrupted_on_third)
    dst = tmp_path / "dst"
    with pytest.raises(KeyboardInterrupt):
        prepare_dataset(source_dataset, dst, workers=1, progress=False)
    finished = sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*.avi"))
    assert len(finished) == 2 and not list(dst.rglob(".*"))  # no partial file
    for relative in finished:
        check_video(dst / relative)

    monkeypatch.setattr(transcode_module, "_transcode_stream", real)
    resumed = prepare_dataset(source_dataset, dst, workers=1, progress=False)
    assert len(resumed.converted) == 2 and sorted(resumed.skipped) == finished


def test_failures_are_reported_not_fatal(source_dataset, tmp_path, capsys):
    good = (source_dataset / VIDEOS[0]).read_bytes()
    (source_dataset / "Bowling/truncated.avi").write_bytes(good[: len(good) // 2])
    (source_dataset / "Bowling/notes.avi").write_text("not a video\n" * 50)
    dst = tmp_path / "dst"
    (dst / "Bowling").mkdir(parents=True)
    (dst / "Bowling/.stale.avi.part").write_bytes(b"left by a killed run")

    code = main(["prepare", str(source_dataset), str(dst), "--workers", "2", "--quiet"])
    assert code == 1
    out = capsys.readouterr().out
    assert "4 converted" in out and "2 failed" in out
    assert "Bowling/notes.avi: NotAVideoError" in out
    assert "Bowling/truncated.avi: CorruptVideoError" in out
    failures = (dst / FAILURES_FILE).read_text().splitlines()
    assert [line.split("\t")[0] for line in failures] == [
        "Bowling/notes.avi",
        "Bowling/truncated.avi",
    ]
    assert not (dst / "Bowling/notes.avi").exists() and not (dst / "Bowling/truncated.avi").exists()
    assert not list(dst.rglob(".*"))  # stale and new partial files gone
    for relative in VIDEOS:
        check_video(dst / relative.replace(".mp4", ".avi"))

    # fixing the source and running again clears the failure list
    (source_dataset / "Bowling/truncated.avi").unlink()
    (source_dataset / "Bowling/notes.avi").unlink()
    assert main(["prepare", str(source_dataset), str(dst), "--workers", "1", "--quiet"]) == 0
    assert "4 already done" in capsys.readouterr().out
    assert not (dst / FAILURES_FILE).exists()


def test_mp4_outputs_and_bad_arguments(source_dataset, tmp_path):
    dst = tmp_path / "dst"
    report = prepare_dataset(
        source_dataset,
        dst,
        workers=1,
        progress=False,
        extension="mp4",
        config=transcode_module.TranscodeConfig(size=(160, 128)),
    )
    assert report.ok
    assert sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*.mp4")) == sorted(
        v.rsplit(".", 1)[0] + ".mp4" for v in VIDEOS
    )
    with pytest.raises(ConfigError):
        prepare_dataset(source_dataset, source_dataset, progress=False)
    with pytest.raises(ConfigError):
        prepare_dataset(source_dataset, dst, extension=".gif", progress=False)
    with pytest.raises(ImrkitError, match="does not exist"):
        prepare_dataset(tmp_path / "nowhere", dst, progress=False)


def test_only_needed_transcodes_what_read_clip_cannot_read(
    source_dataset, make_source_video, tmp_path
):
    """MPEG-4 with B-frames and H.264 are read directly (linked); HEVC is transcoded."""
    make_source_video(
        "src/Bowling/v_Bowling_g02_c01.mkv",
        codec="libx265",
        num_frames=26,
        width=160,
        height=120,
        gop=30,
        b_frames=0,
        seed=9,
    )
    dst = tmp_path / "dst"
    report = prepare_dataset(source_dataset, dst, workers=1, progress=False, only_needed=True)
    assert report.ok, report.failed
    assert report.converted == ["Bowling/v_Bowling_g02_c01.mkv"]
    assert report.linked == sorted(VIDEOS)
    check_video(dst / "Bowling/v_Bowling_g02_c01.avi")
    for relative in VIDEOS:  # the same file, under its own name
        assert (dst / relative).read_bytes() == (source_dataset / relative).read_bytes()
    assert "1 converted, 4 linked (read directly)" in report.summary()
    again = prepare_dataset(source_dataset, dst, workers=1, progress=False, only_needed=True)
    assert len(again.skipped) == 5 and not again.converted and not again.linked
