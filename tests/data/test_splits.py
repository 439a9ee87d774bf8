"""Split-file parsing for UCF-101, HMDB-51, Kinetics-400 and plain folders (generated files)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from imrkit.data.splits import (
    SplitError,
    VideoRecord,
    VideoSplit,
    detect_format,
    read_class_folders,
    read_hmdb51,
    read_kinetics,
    read_split,
    read_ucf101,
    read_unlabeled,
)


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not decoded by split readers")
    return path


# --------------------------------------------------------------------------- UCF-101


@pytest.fixture
def ucf(tmp_path):
    """UCF-101 layout: 3 classes, videos in class folders, official list files for 2 splits."""
    classes = ["ApplyEyeMakeup", "HandstandPushups", "YoYo"]
    tmp_path = tmp_path / "ucf"
    tmp_path.mkdir()
    (tmp_path / "classInd.txt").write_text(
        "".join(f"{i} {name}\n" for i, name in enumerate(classes, 1))
    )
    for name in classes:
        for group in (1, 2, 3):
            touch(tmp_path / name / f"v_{name}_g{group:02d}_c01.avi")
    # Split 1: groups 2-3 train, group 1 test. A list spelling a class folder in another
    # case still finds it; UCF's lists use CRLF line ends.
    train = [f"{n}/v_{n}_g{g:02d}_c01.avi {i}" for i, n in enumerate(classes, 1) for g in (2, 3)]
    train[2] = train[2].replace("HandstandPushups/", "HandStandPushups/")
    (tmp_path / "trainlist01.txt").write_text("\r\n".join(train) + "\r\n")
    (tmp_path / "testlist01.txt").write_text(
        "\n".join(f"{n}/v_{n}_g01_c01.avi" for n in classes) + "\n"
    )
    (tmp_path / "trainlist02.txt").write_text(
        "\n".join(f"{n}/v_{n}_g01_c01.avi {i}" for i, n in enumerate(classes, 1)) + "\n"
    )
    (tmp_path / "testlist02.txt").write_text(
        "\n".join(f"{n}/v_{n}_g{g:02d}_c01.avi" for n in classes for g in (2, 3)) + "\n"
    )
    return tmp_path


def test_ucf101_train_and_test_lists(ucf):
    train = read_ucf101(ucf, "train", 1)
    test = read_ucf101(ucf, "test", 1)
    assert train.class_names == ["ApplyEyeMakeup", "HandstandPushups", "YoYo"]
    assert len(train) == 6 and len(test) == 3
    assert train.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert test.labels.tolist() == [0, 1, 2]  # from the class folder, lists have no label
    assert all(r.path.is_file() for r in train.records + test.records)
    assert test.records[0].path == ucf / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g01_c01.avi"
    both = read_ucf101(ucf, "all", 1)
    assert len(both) == 9
    split2 = read_ucf101(ucf, "train", 2)
    assert {r.path.name for r in split2.records} == {r.path.name for r in test.records}


def test_ucf101_prepared_extension_and_missing_videos(ucf):
    # `imrkit prepare` may have written .mp4: the listed .avi is found under the new name.
    avi = ucf / "YoYo" / "v_YoYo_g01_c01.avi"
    avi.rename(avi.with_suffix(".mp4"))
    (ucf / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g01_c01.avi").unlink()
    with pytest.warns(UserWarning, match="1 listed video"):
        test = read_ucf101(ucf, "test", 1)
    assert test.num_missing == 1
    assert [r.path.suffix for r in test.records] == [".avi", ".mp4"]


def test_ucf101_malformed_files_name_the_line(ucf):
    (ucf / "testlist01.txt").write_text("ApplyEyeMakeup/a.avi\nBogusClass/b.avi\n")
    with pytest.raises(SplitError, match=r"testlist01.txt:2: class 'BogusClass'"):
        read_ucf101(ucf, "test", 1)
    (ucf / "trainlist01.txt").write_text("YoYo/v_YoYo_g02_c01.avi 1\n")
    with pytest.raises(SplitError, match=r"trainlist01.txt:1: label '1' disagrees"):
        read_ucf101(ucf, "train", 1)
    with pytest.raises(SplitError, match="split must be 1, 2 or 3"):
        read_ucf101(ucf, "train", 4)
    with pytest.raises(SplitError, match="trainlist03.txt: split file not found"):
        read_ucf101(ucf, "train", 3)
    (ucf / "classInd.txt").write_text("1 A\n3 B\n")
    with pytest.raises(SplitError, match="without gaps"):
        read_ucf101(ucf, "train", 1)


def test_ucf101_annotations_in_their_own_folder(ucf, tmp_path_factory):
    lists = tmp_path_factory.mktemp("ucfTrainTestlist")
    for name in ("classInd.txt", "trainlist01.txt", "testlist01.txt"):
        (ucf / name).rename(lists / name)
    assert len(read_ucf101(ucf, "train", 1, annotations=lists)) == 6
    with pytest.raises(SplitError, match="no classInd.txt"):
        read_ucf101(ucf, "train", 1)


# --------------------------------------------------------------------------- HMDB-51


@pytest.fixture
def hmdb(tmp_path):
    """HMDB-51 layout: per class and split, '<video> <tag>' lines (1 train, 2 test, 0 unused)."""
    tags = {
        "wave": ["1", "1", "2", "0"],
        "brush_hair": ["1", "2", "2", "1"],
        "clap": ["0", "1", "2", "1"],
    }
    tmp_path = tmp_path / "hmdb"
    splits = tmp_path / "testTrainMulti_7030_splits"
    splits.mkdir(parents=True)
    for name, video_tags in tags.items():
        for i in range(len(video_tags)):
            touch(tmp_path / name / f"{name}_video{i}.avi")
        for split in (1, 2, 3):
            rotated = video_tags[split - 1 :] + video_tags[: split - 1]
            lines = [f"{name}_video{i}.avi {tag} " for i, tag in enumerate(rotated)]
            (splits / f"{name}_test_split{split}.txt").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_hmdb51_tags(hmdb):
    train = read_hmdb51(hmdb, "train", 1)
    test = read_hmdb51(hmdb, "test", 1)
    assert train.class_names == ["brush_hair", "clap", "wave"]  # sorted
    names = lambda split: sorted(r.path.name for r in split.records)  # noqa: E731
    assert names(train) == [
        "brush_hair_video0.avi",
        "brush_hair_video3.avi",
        "clap_video1.avi",
        "clap_video3.avi",
        "wave_video0.avi",
        "wave_video1.avi",
    ]
    assert names(test) == [
        "brush_hair_video1.avi",
        "brush_hair_video2.avi",
        "clap_video2.avi",
        "wave_video2.avi",
    ]
    labels = {r.path.name: r.label for r in train.records}
    assert labels["clap_video1.avi"] == 1 and labels["wave_video0.avi"] == 2
    # Tag 0 (unused) is in neither subset; "all" is train + test.
    assert "clap_video0.avi" not in names(read_hmdb51(hmdb, "all", 1))
    assert len(read_hmdb51(hmdb, "all", 1)) == len(train) + len(test)
    # Split 2 reads other files.
    assert names(read_hmdb51(hmdb, "test", 2)) != names(test)


def test_hmdb51_bad_tag(hmdb):
    path = hmdb / "testTrainMulti_7030_splits" / "wave_test_split1.txt"
    path.write_text("wave_video0.avi 7\n")
    with pytest.raises(SplitError, match=r"wave_test_split1.txt:1: expected"):
        read_hmdb51(hmdb, "train", 1)


# --------------------------------------------------------------------------- Kinetics


@pytest.fixture
def kinetics(tmp_path):
    rows = [
        ("abseiling", "aaa", 10, 20, "train"),
        ("zumba", "bbb", 0, 10, "train"),
        ("abseiling", "ccc", 5, 15, "train"),
        ("bowling", "ddd", 1, 11, "val"),
        ("zumba", "eee", 30, 40, "train"),
    ]
    header = "label,youtube_id,time_start,time_end,split\n"
    tmp_path = tmp_path / "kinetics"
    tmp_path.mkdir()
    (tmp_path / "train.csv").write_text(
        header + "".join(f"{r[0]},{r[1]},{r[2]},{r[3]},train\n" for r in rows if r[4] == "train")
    )
    (tmp_path / "validate.csv").write_text(
        header + "".join(f"{r[0]},{r[1]},{r[2]},{r[3]},val\n" for r in rows if r[4] == "val")
    )
    for label, vid, start, end, subset in rows:
        if vid != "eee":  # one listed video never downloaded
            touch(tmp_path / subset / label / f"{vid}_{start:06d}_{end:06d}.mp4")
    return tmp_path


def test_kinetics_csv(kinetics):
    with pytest.warns(UserWarning, match="1 listed video"):
        train = read_kinetics(kinetics, "train")
    assert train.class_names == ["abseiling", "zumba"]  # the labels of the CSV, sorted
    assert [(r.path.name, r.label) for r in train.records] == [
        ("aaa_000010_000020.mp4", 0),
        ("bbb_000000_000010.mp4", 1),
        ("ccc_000005_000015.mp4", 0),
    ]
    assert train.num_missing == 1
    test = read_kinetics(kinetics, "test")
    assert [r.path.name for r in test.records] == ["ddd_000001_000011.mp4"]


def test_kinetics_csv_filtered_by_split_column(kinetics):
    (kinetics / "all.csv").write_text(
        (kinetics / "train.csv").read_text()
        + (kinetics / "validate.csv").read_text().split("\n", 1)[1]
    )
    both = kinetics / "all.csv"
    assert len(read_kinetics(kinetics, "test", annotations=both)) == 1
    with pytest.warns(UserWarning):
        assert len(read_kinetics(kinetics, "train", annotations=both)) == 3
    (kinetics / "bad.csv").write_text("label,video\nx,y\n")
    with pytest.raises(SplitError, match="missing column"):
        read_kinetics(kinetics, "train", annotations=kinetics / "bad.csv")


def test_kinetics_class_folders_without_csv(kinetics):
    for path in kinetics.glob("*.csv"):
        path.unlink()
    train = read_kinetics(kinetics, "train")
    assert train.class_names == ["abseiling", "zumba"]
    assert len(train) == 3
    assert read_kinetics(kinetics, "test").class_names == ["bowling"]  # from val/


# --------------------------------------------------------------------------- folders


def test_class_folders_unlabeled_and_detection(ucf, hmdb, kinetics, tmp_path_factory):
    folders = tmp_path_factory.mktemp("folders")
    for name in ("b", "a"):
        for i in range(2):
            touch(folders / name / f"{i}.mp4")
    touch(folders / "a" / "notes.txt")
    split = read_class_folders(folders)
    assert split.class_names == ["a", "b"] and split.labels.tolist() == [0, 0, 1, 1]
    unlabeled = read_unlabeled(folders)
    assert len(unlabeled) == 4 and set(unlabeled.labels.tolist()) == {-1}
    assert detect_format(ucf) == "ucf101"
    assert detect_format(hmdb) == "hmdb51"
    assert detect_format(kinetics) == "kinetics"
    assert detect_format(folders) == "folder"
    assert read_split(folders, "auto").class_names == ["a", "b"]
    assert len(read_split(ucf, "auto", "test")) == 3
    with pytest.raises(SplitError, match="dataset format"):
        read_split(ucf, "ucf102")
    with pytest.raises(SplitError, match="not found"):
        read_unlabeled(folders / "nope")


def test_fraction_is_stratified_and_seeded():
    records = [VideoRecord(Path(f"{c}_{i}.avi"), c) for c in range(4) for i in range(10)]
    split = VideoSplit(records, ["a", "b", "c", "d"], name="x")
    part = split.fraction(0.25, seed=3)
    counts = np.bincount(part.labels, minlength=4)
    assert counts.tolist() == [math.ceil(2.5)] * 4
    assert part.records == split.fraction(0.25, seed=3).records
    assert part.records != split.fraction(0.25, seed=4).records
    assert split.fraction(0.01).labels.tolist() == [0, 1, 2, 3]  # at least one per class
    assert split.fraction(1.0) is split
    assert set(split.unlabeled().labels.tolist()) == {-1}
    with pytest.raises(SplitError):
        split.fraction(0.0)
