"""``imrkit prepare --shard I/N``: disjoint shards whose union is the unsharded result."""

from __future__ import annotations

import hashlib

import pytest

from imrkit.cli import main
from imrkit.data.prepare import FAILURES_FILE, Shard, prepare_dataset
from imrkit.errors import ConfigError

NUM_SHARDS = 3


@pytest.fixture
def generated_folder(tmp_path, make_source_video):
    """Nine small videos in three classes, split files, and one unreadable video."""
    root = tmp_path / "src"
    for index in range(9):
        make_source_video(
            f"src/class{index % 3}/clip{index}.mp4",
            num_frames=13,
            width=64,
            height=48,
            gop=30,
            b_frames=0,
            seed=index,
        )
    (root / "class0" / "broken.avi").write_bytes(b"not a video")
    (root / "classInd.txt").write_text("1 class0\n2 class1\n3 class2\n")
    (root / "trainlist01.txt").write_text("class0/clip0.avi 1\n")
    (root / "testlist01.txt").write_text("class1/clip1.avi\n")
    return root


def _tree(folder) -> dict[str, str]:
    """Relative path -> content digest of every file but the failure lists."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith("prepare_failures")
    }


def test_shards_are_disjoint_and_their_union_is_the_unsharded_result(generated_folder, tmp_path):
    whole = prepare_dataset(generated_folder, tmp_path / "whole", workers=1, progress=False)
    sharded = tmp_path / "sharded"
    reports = [
        prepare_dataset(
            generated_folder, sharded, workers=1, progress=False, shard=Shard(i, NUM_SHARDS)
        )
        for i in range(NUM_SHARDS)
    ]
    for kind in ("converted", "copied"):
        parts = [set(getattr(r, kind)) for r in reports]
        assert sum(len(p) for p in parts) == len(set().union(*parts))  # disjoint
        assert set().union(*parts) == set(getattr(whole, kind))  # complete
    assert sum(bool(r.converted) for r in reports) >= 2  # the work is really split
    assert _tree(sharded) == _tree(tmp_path / "whole")  # the same files, byte for byte

    # Each shard keeps its own failure list: the broken video is in exactly one.
    assert [v for v, _ in whole.failed] == ["class0/broken.avi"]
    lists = sorted(sharded.glob("prepare_failures*"))
    (owner,) = [r for r in reports if r.failed]
    assert [p.name for p in lists] == [owner.shard.failures_file]
    assert "class0/broken.avi" in lists[0].read_text()
    assert not (sharded / FAILURES_FILE).exists()

    # A shard resumes on its own: a rerun of one shard redoes nothing.
    again = prepare_dataset(
        generated_folder, sharded, workers=1, progress=False, shard=Shard(0, NUM_SHARDS)
    )
    assert again.converted == [] and sorted(again.skipped) == sorted(reports[0].converted)


def test_shard_on_the_command_line(generated_folder, tmp_path, capsys):
    dst = tmp_path / "dst"
    codes = [
        main(["prepare", str(generated_folder), str(dst), "--shard", f"{i}/2", "--quiet"])
        for i in range(2)
    ]
    assert sorted(codes) == [0, 1]  # only the shard holding the broken video fails
    out = capsys.readouterr().out
    assert "(shard 0/2)" in out and "(shard 1/2)" in out
    assert len(list(dst.rglob("clip*.avi"))) == 9
    assert main(["prepare", str(generated_folder), str(dst), "--shard", "2/2"]) == 2
    assert "0..1" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["2/2", "-1/2", "1", "a/b", "0/0"])
def test_bad_shards_are_config_errors(text):
    with pytest.raises(ConfigError):
        Shard.parse(text)


def test_shards_depend_only_on_the_path():
    from pathlib import Path

    paths = [Path(f"c{i % 7}/v{i}.avi") for i in range(200)]
    owners = [[s for s in range(4) if Shard(s, 4).holds(p)] for p in paths]
    assert all(len(o) == 1 for o in owners)
    counts = [sum(o == [s] for o in owners) for s in range(4)]
    assert min(counts) > 25  # roughly balanced
