"""Split files of the action datasets IMRNet is trained and evaluated on (SPEC section 4).

Each reader turns a dataset folder plus its official split files into a :class:`VideoSplit`:
a list of :class:`VideoRecord` (path, label) and the class names, label ``i`` being
``class_names[i]``. Readers only parse text and look files up; they never open a video.

- UCF-101: ``classInd.txt`` ("1 ApplyEyeMakeup"), ``trainlist0N.txt``
  ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1") and ``testlist0N.txt`` (path only; the
  label comes from the class folder), N in 1..3.
- HMDB-51: one ``<class>_test_split{1,2,3}.txt`` per class and split, lines
  "<video>.avi <tag>" with tag 1 = train, 2 = test, 0 = unused; labels are the sorted classes.
- Kinetics-400: CSV annotations with a header ``label,youtube_id,time_start,time_end,split``
  (videos named ``<youtube_id>_<start:06d>_<end:06d>.<ext>`` anywhere under the root) and/or
  a class-folder layout ``root[/<subset>]/<class>/<video>``.
- Any folder: class folders (labelled) or every video found (unlabeled, for pretraining).

Videos prepared by ``imrkit prepare`` may have a new extension (``.avi`` -> ``.mp4``): a
listed path that does not exist is looked up with the other video extensions. Listed videos
that are missing altogether are dropped with a warning (their count is kept in
:attr:`VideoSplit.num_missing`); a split where none exist is an error.
"""

from __future__ import annotations

import csv
import math
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from imrkit.data.files import VIDEO_EXTENSIONS
from imrkit.errors import ImrkitError

FORMATS = ("auto", "ucf101", "hmdb51", "kinetics", "folder", "unlabeled")
SUBSETS = ("train", "test", "all")
UNLABELED = -1


class SplitError(ImrkitError, ValueError):
    """A split or annotation file is missing or malformed (the message names file and line)."""


@dataclass(frozen=True)
class VideoRecord:
    """One video of a split.

    Attributes:
        path: the video file.
        label: class index into :attr:`VideoSplit.class_names`, or ``-1`` when unlabeled.
    """

    path: Path
    label: int = UNLABELED


@dataclass
class VideoSplit:
    """The videos of one subset of one split, with the dataset's class names.

    Attributes:
        records: the videos, in split-file order.
        class_names: every class of the dataset (not only those present in ``records``).
        name: what was read, e.g. ``"ucf101 split 1 train"``.
        num_missing: listed videos that were not found on disk (dropped).
    """

    records: list[VideoRecord]
    class_names: list[str]
    name: str = ""
    num_missing: int = 0

    def __len__(self) -> int:
        return len(self.records)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def labels(self) -> np.ndarray:
        return np.array([r.label for r in self.records], dtype=np.int64)

    def fraction(self, fraction: float, seed: int = 0) -> VideoSplit:
        """A class-stratified random subset: ``ceil(fraction * n_c)`` videos of each class.

        Used to finetune on a small labelled part of a training list. At least one video
        of every present class is kept; order follows the original list.
        """
        if not 0.0 < fraction <= 1.0:
            raise SplitError(f"labelled fraction must be in (0, 1], got {fraction}")
        if fraction == 1.0:
            return self
        rng = np.random.default_rng(seed)
        labels = self.labels
        keep: list[int] = []
        for label in np.unique(labels):
            members = np.flatnonzero(labels == label)
            count = max(1, math.ceil(fraction * len(members)))
            keep.extend(rng.choice(members, size=count, replace=False).tolist())
        records = [self.records[i] for i in sorted(keep)]
        return replace(self, records=records, name=f"{self.name} ({fraction:g} of it)")

    def unlabeled(self) -> VideoSplit:
        """The same videos with labels dropped (pretraining ignores labels)."""
        records = [VideoRecord(r.path) for r in self.records]
        return replace(self, records=records, name=f"{self.name} (unlabeled)")


# --------------------------------------------------------------------------- helpers


def _is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS and path.is_file()


def _resolve(root: Path, relative: str) -> Path | None:
    """The file a split line names, allowing a changed extension (prepared datasets)."""
    path = root / relative
    if path.is_file():
        return path
    for extension in VIDEO_EXTENSIONS:
        candidate = path.with_suffix(extension)
        if candidate.is_file():
            return candidate
    return None


def _read_lines(path: Path) -> list[tuple[int, str]]:
    if not path.is_file():
        raise SplitError(f"{path}: split file not found")
    text = path.read_text(encoding="utf-8", errors="replace")
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _finish(
    records: list[VideoRecord], class_names: list[str], name: str, missing: list[str], source: Path
) -> VideoSplit:
    if missing:
        warnings.warn(
            f"{source}: {len(missing)} listed video(s) not found, e.g. {missing[0]}; "
            "they are left out",
            stacklevel=3,
        )
    if not records:
        raise SplitError(f"{source}: no video of {name} exists under the dataset folder")
    return VideoSplit(records, class_names, name=name, num_missing=len(missing))


def _check_split(split: int) -> None:
    if split not in (1, 2, 3):
        raise SplitError(f"split must be 1, 2 or 3, got {split}")


def _check_subset(subset: str, allowed: Iterable[str] = SUBSETS) -> None:
    if subset not in allowed:
        raise SplitError(f"subset must be one of {list(allowed)}, got {subset!r}")


# --------------------------------------------------------------------------- UCF-101


def read_class_index(path: Path) -> list[str]:
    """UCF-101's ``classInd.txt`` ("1 ApplyEyeMakeup" per line, 1-based) -> class names."""
    names: dict[int, str] = {}
    for number, line in _read_lines(path):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise SplitError(f"{path}:{number}: expected '<index> <ClassName>', got {line!r}")
        names[int(parts[0])] = parts[1]
    if sorted(names) != list(range(1, len(names) + 1)):
        raise SplitError(f"{path}: class indices must be 1..{len(names)} without gaps")
    return [names[i] for i in range(1, len(names) + 1)]


def read_ucf101(
    root: str | os.PathLike,
    subset: str = "train",
    split: int = 1,
    *,
    annotations: str | os.PathLike | None = None,
) -> VideoSplit:
    """Read UCF-101 split ``split`` (1..3), ``subset`` "train", "test" or "all".

    Args:
        root: folder holding ``<ClassName>/<video>`` files.
        annotations: folder of ``classInd.txt`` / ``trainlist0N.txt`` / ``testlist0N.txt``
            (UCF-101 ships them in ``ucfTrainTestlist/``); default: ``root``, then
            ``root/ucfTrainTestlist``.
    """
    _check_split(split)
    _check_subset(subset)
    root = Path(root)
    folder = _annotation_folder(root, annotations, "classInd.txt", ("ucfTrainTestlist",))
    class_names = read_class_index(folder / "classInd.txt")
    # The official lists spell a few classes differently from classInd (HandStandPushups).
    by_lower = {name.lower(): i for i, name in enumerate(class_names)}
    subsets = ("train", "test") if subset == "all" else (subset,)
    records: list[VideoRecord] = []
    missing: list[str] = []
    for part in subsets:
        list_path = folder / f"{part}list0{split}.txt"
        for number, line in _read_lines(list_path):
            relative, *rest = line.split()
            relative = relative.replace("\\", "/")
            class_folder = relative.split("/")[0]
            label = by_lower.get(class_folder.lower())
            if label is None:
                raise SplitError(
                    f"{list_path}:{number}: class {class_folder!r} of {relative!r} "
                    "is not in classInd.txt"
                )
            if rest and (not rest[0].isdigit() or int(rest[0]) - 1 != label):
                raise SplitError(
                    f"{list_path}:{number}: label {rest[0]!r} disagrees with "
                    f"class folder {class_folder!r} (index {label + 1})"
                )
            path = _resolve(root, relative)
            if path is None and class_folder != class_names[label]:
                # Case differences between the lists and the folders (HandStandPushups).
                path = _resolve(root / class_names[label], relative.split("/", 1)[-1])
            if path is None:
                missing.append(relative)
            else:
                records.append(VideoRecord(path, label))
    return _finish(records, class_names, f"ucf101 split {split} {subset}", missing, folder)


def _annotation_folder(root: Path, annotations, marker: str, subfolders: tuple[str, ...]) -> Path:
    if annotations is not None and str(annotations):
        return Path(annotations)
    for candidate in (root, *(root / s for s in subfolders)):
        if (candidate / marker).is_file() or any(candidate.glob(marker)):
            return candidate
    raise SplitError(
        f"{root}: no {marker} found (looked in {', '.join(subfolders)} too); "
        "pass the annotation folder"
    )


# --------------------------------------------------------------------------- HMDB-51

_HMDB_FILE = re.compile(r"^(?P<name>.+)_test_split(?P<split>[123])\.txt$")
_HMDB_TAGS = {"train": ("1",), "test": ("2",), "all": ("1", "2")}


def read_hmdb51(
    root: str | os.PathLike,
    subset: str = "train",
    split: int = 1,
    *,
    annotations: str | os.PathLike | None = None,
) -> VideoSplit:
    """Read HMDB-51 split ``split`` (1..3): tag 1 = train, 2 = test, 0 = unused.

    Args:
        root: folder holding ``<class>/<video>.avi``.
        annotations: folder of the ``<class>_test_split{1,2,3}.txt`` files (HMDB ships
            them as ``testTrainMulti_7030_splits/``); default: ``root``, then that folder.
    """
    _check_split(split)
    _check_subset(subset)
    root = Path(root)
    folder = _annotation_folder(
        root, annotations, "*_test_split1.txt", ("testTrainMulti_7030_splits", "splits")
    )
    files = {}
    for path in folder.iterdir():
        match = _HMDB_FILE.match(path.name)
        if match and int(match["split"]) == split:
            files[match["name"]] = path
    if not files:
        raise SplitError(f"{folder}: no *_test_split{split}.txt files")
    class_names = sorted(files)
    records: list[VideoRecord] = []
    missing: list[str] = []
    for label, name in enumerate(class_names):
        for number, line in _read_lines(files[name]):
            parts = line.split()
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise SplitError(
                    f"{files[name]}:{number}: expected '<video> <0|1|2>', got {line!r}"
                )
            if parts[1] not in _HMDB_TAGS[subset]:
                continue
            path = _resolve(root / name, parts[0]) or _resolve(root, parts[0])
            if path is None:
                missing.append(f"{name}/{parts[0]}")
            else:
                records.append(VideoRecord(path, label))
    return _finish(records, class_names, f"hmdb51 split {split} {subset}", missing, folder)


# --------------------------------------------------------------------------- Kinetics

_KINETICS_COLUMNS = ("label", "youtube_id", "time_start", "time_end")
_KINETICS_CSV = {"train": ("train",), "test": ("validate", "val", "test"), "all": ()}


def _index_videos(root: Path) -> dict[str, Path]:
    """Every video under ``root`` by file stem (one walk; Kinetics has 300k files)."""
    index: dict[str, Path] = {}
    for folder, _, names in os.walk(root):
        for name in names:
            if os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS:
                index.setdefault(os.path.splitext(name)[0], Path(folder) / name)
    return index


def read_kinetics_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a Kinetics annotation CSV, checked for the required columns."""
    if not path.is_file():
        raise SplitError(f"{path}: annotation file not found")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or ())
        required = set(_KINETICS_COLUMNS[1:])
        if not required <= columns:
            raise SplitError(
                f"{path}: missing column(s) {sorted(required - columns)}; expected "
                "label,youtube_id,time_start,time_end,split"
            )
        return list(reader)


def read_kinetics(
    root: str | os.PathLike, subset: str = "train", *, annotations: str | os.PathLike | None = None
) -> VideoSplit:
    """Read Kinetics-400 from CSV annotations, else from its class-folder layout.

    Args:
        root: folder holding the videos (any depth below it).
        subset: "train", "test" (Kinetics' validation set, the one results are reported on)
            or "all".
        annotations: a CSV file, or a folder with ``train.csv`` / ``validate.csv`` (also
            ``val.csv``, ``test.csv``). Default: CSVs in ``root`` or ``root/annotations``;
            without any, the class folders ``root/<subset>/<class>/`` or ``root/<class>/``.
            A CSV with a ``split`` column is filtered on it. Classes are the sorted labels.
    """
    _check_subset(subset)
    root = Path(root)
    csv_paths = _kinetics_csvs(root, annotations, subset)
    if not csv_paths:
        for folder in _KINETICS_CSV[subset]:
            if (root / folder).is_dir():
                return read_class_folders(root / folder, name=f"kinetics {subset}")
        return read_class_folders(root, name=f"kinetics {subset}")
    rows = [row for path in csv_paths for row in read_kinetics_csv(path)]
    wanted = set(_KINETICS_CSV[subset]) | ({"valid"} if subset == "test" else set())
    if wanted and all("split" in row for row in rows):
        rows = [row for row in rows if row["split"].strip() in wanted]
    class_names = sorted({row["label"].strip() for row in rows if row.get("label", "").strip()})
    label_of = {name: i for i, name in enumerate(class_names)}
    index = _index_videos(root)
    records: list[VideoRecord] = []
    missing: list[str] = []
    for row in rows:
        video_id = row["youtube_id"].strip()
        try:
            start, end = int(float(row["time_start"])), int(float(row["time_end"]))
        except ValueError:
            raise SplitError(f"{csv_paths[0]}: bad time_start/time_end in row {row}") from None
        stem = f"{video_id}_{start:06d}_{end:06d}"
        path = index.get(stem) or index.get(video_id)
        if path is None:
            missing.append(stem)
            continue
        label = row.get("label", "").strip()
        records.append(VideoRecord(path, label_of[label] if label else UNLABELED))
    return _finish(records, class_names, f"kinetics {subset}", missing, csv_paths[0])


def _kinetics_csvs(root: Path, annotations, subset: str) -> list[Path]:
    if annotations is not None and str(annotations):
        annotations = Path(annotations)
        if annotations.is_file():
            return [annotations]
        folders = [annotations]
    else:
        folders = [root, root / "annotations"]
    names = _KINETICS_CSV[subset] or ("train", "validate", "val")
    for folder in folders:
        found = [folder / f"{n}.csv" for n in names if (folder / f"{n}.csv").is_file()]
        if found:
            return found[:1] if subset != "all" else found
        generic = sorted(folder.glob("*.csv")) if folder.is_dir() else []
        if generic:
            return generic
    if annotations is not None and str(annotations):
        raise SplitError(f"{annotations}: no Kinetics CSV for subset {subset!r}")
    return []


# --------------------------------------------------------------------------- folders


def read_class_folders(root: str | os.PathLike, *, name: str = "") -> VideoSplit:
    """Labelled videos from ``root/<class>/<video>``: classes are the sorted folder names."""
    root = Path(root)
    if not root.is_dir():
        raise SplitError(f"{root}: dataset folder not found")
    class_names = sorted(
        p.name for p in root.iterdir() if p.is_dir() and any(_is_video(f) for f in p.rglob("*"))
    )
    records = [
        VideoRecord(f, label)
        for label, cls in enumerate(class_names)
        for f in sorted((root / cls).rglob("*"))
        if _is_video(f)
    ]
    return _finish(records, class_names, name or f"class folders of {root}", [], root)


def read_unlabeled(root: str | os.PathLike) -> VideoSplit:
    """Every video under ``root`` (any depth), unlabeled: a pretraining set."""
    root = Path(root)
    if not root.is_dir():
        raise SplitError(f"{root}: dataset folder not found")
    records = [VideoRecord(f) for f in sorted(root.rglob("*")) if _is_video(f)]
    return _finish(records, [], f"all videos under {root}", [], root)


# --------------------------------------------------------------------------- dispatch


def detect_format(root: str | os.PathLike, annotations: str | os.PathLike | None = None) -> str:
    """Guess a dataset's format from the split files next to it."""
    folders = [Path(annotations)] if annotations else []
    root = Path(root)
    folders += [
        root,
        root / "ucfTrainTestlist",
        root / "testTrainMulti_7030_splits",
        root / "splits",
        root / "annotations",
    ]
    for folder in folders:
        if folder.is_file() and folder.suffix == ".csv":
            return "kinetics"
        if not folder.is_dir():
            continue
        if (folder / "classInd.txt").is_file():
            return "ucf101"
        if any(folder.glob("*_test_split1.txt")):
            return "hmdb51"
        if any(folder.glob("*.csv")):
            return "kinetics"
    return "folder"


def read_split(
    root: str | os.PathLike,
    format: str = "auto",
    subset: str = "train",
    split: int = 1,
    *,
    annotations: str | os.PathLike | None = None,
) -> VideoSplit:
    """Read one subset of a dataset in any supported format.

    Args:
        root: the dataset folder.
        format: "ucf101", "hmdb51", "kinetics", "folder" (class folders), "unlabeled"
            (every video, no labels), or "auto" (from the split files present).
        subset: "train", "test" or "all" (ignored by "folder" and "unlabeled").
        split: official split 1..3 (UCF-101, HMDB-51).
        annotations: where the split files are, when not in ``root``.
    """
    if format not in FORMATS:
        raise SplitError(f"dataset format must be one of {list(FORMATS)}, got {format!r}")
    if format == "auto":
        format = detect_format(root, annotations)
    if format == "ucf101":
        return read_ucf101(root, subset, split, annotations=annotations)
    if format == "hmdb51":
        return read_hmdb51(root, subset, split, annotations=annotations)
    if format == "kinetics":
        return read_kinetics(root, subset, annotations=annotations)
    if format == "folder":
        return read_class_folders(root)
    return read_unlabeled(root)


_GROUP_PATTERN = re.compile(r"(v_.+_g\d+)_c\d+")


def clip_groups(paths: Sequence[str]) -> np.ndarray:
    """Integer group ids (0, 1, ... in order of first appearance) from UCF-101-style video
    names ``v_Class_gGG_cCC``: clips of one class and group share an id. A name that does
    not follow the pattern is a group of its own."""
    keys = []
    for path in paths:
        stem = str(path).replace("\\", "/").rsplit("/", 1)[-1]
        match = _GROUP_PATTERN.match(stem)
        keys.append(match.group(1) if match else f"\0{len(keys)}")
    ids: dict[str, int] = {}
    return np.array([ids.setdefault(key, len(ids)) for key in keys], dtype=np.int64)
