"""``imrkit prepare``: re-encode a whole dataset folder for IMRNet, in parallel, resumably.

A dataset such as UCF-101, HMDB-51 or Kinetics-400 is a folder tree of videos plus split
and annotation files. :func:`prepare_dataset` mirrors that tree into ``dst_dir``:

- every video is transcoded (:func:`imrkit.codec.transcoding.transcode`) to MPEG-4 Part 2 with
  12-frame GOPs, keeping its relative path, with one output extension for all; with
  ``only_needed=True`` only the videos :func:`imrkit.read_clip` cannot read directly are
  (HEVC, VP9, AV1, ...: ``probe(video).problems()``), and the others are hard-linked (copied
  across file systems) under their own name, so a mixed dataset keeps one tree;
- split and annotation files (``classInd.txt``, ``trainlist01.txt``, ``*_test_split1.txt``,
  Kinetics' CSVs, ...) are copied alongside;
- outputs that already exist are skipped: every output is written atomically (temp file,
  then rename), so an existing file is a finished one and an interrupted run resumes;
- a video that cannot be read is reported, never fatal; the failures are listed at the end
  and written to ``dst_dir/prepare_failures.txt``;
- ``shard=(I, N)`` prepares only shard I of N (:class:`Shard`): a file belongs to the shard
  its output path hashes to, so N processes (a SLURM array) prepare one dataset together,
  each resumable on its own with its own failure list, and their union is exactly the
  unsharded result.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from imrkit.codec.transcoding import OUTPUT_EXTENSIONS, TranscodeConfig, transcode
from imrkit.data.files import VIDEO_EXTENSIONS
from imrkit.data.processes import available_cpus, map_with_progress, process_pool
from imrkit.errors import ConfigError, ImrkitError, VideoError

# Split lists, class indices and annotation tables travel with the videos.
SIDE_FILE_EXTENSIONS = frozenset({".txt", ".csv", ".json", ".tsv"})
FAILURES_FILE = "prepare_failures.txt"
PARTIAL_SUFFIX = ".part"


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0-based, as a SLURM array's ``SLURM_ARRAY_TASK_ID``).

    A file belongs to the shard its output path (relative, POSIX) hashes to: the split
    depends on nothing but the path, so every shard computes it alone, the shards are
    disjoint, their union is every file, and a file added later leaves the others in place.
    """

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ConfigError(
                f"shard {self.index}/{self.count}: the index must be in 0..{self.count - 1} "
                "(e.g. --shard 0/4 ... --shard 3/4)"
            )

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"I/N"`` (e.g. ``"3/8"``)."""
        try:
            index, count = (int(part) for part in text.split("/"))
        except ValueError:
            raise ConfigError(f"shard {text!r}: expected I/N, e.g. 0/4") from None
        return cls(index, count)

    def holds(self, relative: Path) -> bool:
        digest = hashlib.sha1(relative.as_posix().encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index

    @property
    def failures_file(self) -> str:
        return f"prepare_failures.shard{self.index}of{self.count}.txt"


def _is_failures_file(name: str) -> bool:
    return name == FAILURES_FILE or (
        name.startswith("prepare_failures.shard") and name.endswith(".txt")
    )


@dataclass
class PrepareReport:
    """What a :func:`prepare_dataset` run did. Paths are relative to the source folder.

    Attributes:
        converted: videos transcoded in this run.
        skipped: videos whose output already existed.
        linked: videos read directly, linked rather than transcoded (``only_needed``).
        copied: split/annotation files copied.
        failed: ``(video, reason)`` for each video that could not be prepared.
    """

    src_dir: Path
    dst_dir: Path
    converted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)
    copied: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    shard: Shard | None = None

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def failures_path(self) -> Path:
        """``prepare_failures.txt``, or the shard's own list."""
        return self.dst_dir / (self.shard.failures_file if self.shard else FAILURES_FILE)

    def summary(self) -> str:
        """A human-readable summary, the failures listed one per line."""
        where = f" (shard {self.shard.index}/{self.shard.count})" if self.shard else ""
        lines = [
            f"prepared {self.src_dir} -> {self.dst_dir}{where}: {len(self.converted)} converted, "
            f"{len(self.linked)} linked (read directly), "
            f"{len(self.skipped)} already done, {len(self.copied)} side files copied, "
            f"{len(self.failed)} failed"
        ]
        if self.failed:
            lines.append(f"failures (also in {self.failures_path}):")
            lines += [f"  {video}: {reason}" for video, reason in self.failed]
            lines.append("fix or remove them and run the same command again to resume")
        return "\n".join(lines)


def find_files(src_dir: Path, exclude: Path | None = None) -> tuple[list[Path], list[Path]]:
    """Videos and side files under ``src_dir`` (relative, sorted); hidden files ignored."""
    videos, side_files = [], []
    for folder, subfolders, files in os.walk(src_dir):
        folder = Path(folder)
        subfolders[:] = sorted(
            name
            for name in subfolders
            if not name.startswith(".") and (exclude is None or folder / name != exclude)
        )
        for name in sorted(files):
            if name.startswith("."):
                continue
            suffix = Path(name).suffix.lower()
            relative = (folder / name).relative_to(src_dir)
            if suffix in VIDEO_EXTENSIONS:
                videos.append(relative)
            elif suffix in SIDE_FILE_EXTENSIONS and not _is_failures_file(name):
                side_files.append(relative)
    return videos, side_files


def _prepare_job(
    job: tuple[Path, Path, Path, Path], config: TranscodeConfig, only_needed: bool
) -> tuple[str, str | None]:
    """Worker entry point: prepare one video; ``(what was done, failure reason or None)``.

    ``job`` is (relative path, source, transcoded output, linked output). Any exception is
    turned into a message here, so one bad video cannot stop the pool.
    """
    from imrkit.codec.reader import probe

    _, src, dst, linked_dst = (str(path) for path in job)
    try:
        if only_needed and not probe(src).problems():
            _link_atomically(Path(src), Path(linked_dst))
            return "linked", None
        transcode(src, dst, config)
    except VideoError as error:
        return "failed", f"{type(error).__name__}: {error.reason}"
    except Exception as error:  # noqa: BLE001 - a FFmpeg/OS failure must not end the run
        return "failed", f"{type(error).__name__}: {error}"
    return "converted", None


def _link_atomically(src: Path, dst: Path) -> None:
    """Hard-link ``src`` as ``dst`` (copy across file systems), via a temp name, so an
    existing ``dst`` is always complete."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    partial = dst.with_name(f".{dst.name}{PARTIAL_SUFFIX}")
    partial.unlink(missing_ok=True)
    try:
        os.link(src, partial)
    except OSError:
        shutil.copy2(src, partial)
    partial.replace(dst)


def _remove_partials(dst_dir: Path, shard: Shard | None = None, extension: str = "") -> None:
    """Delete temp files a killed run left behind (``.NAME.part``); with ``shard``, only
    those of its own outputs (other shards may be writing theirs right now)."""
    for partial in dst_dir.rglob(f".*{PARTIAL_SUFFIX}"):
        target = partial.with_name(partial.name[1 : -len(PARTIAL_SUFFIX)]).relative_to(dst_dir)
        if shard is None or shard.holds(target.with_suffix(extension)):
            partial.unlink(missing_ok=True)


def _check_arguments(
    src_dir: str | os.PathLike, dst_dir: str | os.PathLike, extension: str
) -> tuple[Path, Path, str]:
    """The resolved source and destination folders and the output extension (with its dot).

    Raises:
        ImrkitError: ``src_dir`` is not a folder.
        ConfigError: bad extension, or ``dst_dir`` equal to ``src_dir``.
    """
    src_dir, dst_dir = Path(src_dir).resolve(), Path(dst_dir).resolve()
    if not src_dir.is_dir():
        raise ImrkitError(f"{src_dir}: the source dataset folder does not exist")
    if src_dir == dst_dir:
        raise ConfigError(f"{dst_dir}: the destination must differ from the source folder")
    extension = extension if extension.startswith(".") else f".{extension}"
    if extension.lower() not in OUTPUT_EXTENSIONS:
        raise ConfigError(
            f"prepare: extension must be one of {sorted(OUTPUT_EXTENSIONS)}, got {extension!r}"
        )
    return src_dir, dst_dir, extension


def _copy_side_files(report: PrepareReport, side_files: list[Path]) -> None:
    """Copy the split and annotation files to the same relative paths under ``dst_dir``."""
    for relative in side_files:
        target = report.dst_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(report.src_dir / relative, target)
        report.copied.append(relative.as_posix())


def _plan_jobs(
    report: PrepareReport,
    videos: list[Path],
    extension: str,
    *,
    overwrite: bool,
    only_needed: bool,
) -> list[tuple[Path, Path, Path, Path]]:
    """The videos still to prepare, as ``(relative, source, output, linked output)`` jobs.

    Videos whose output exists are recorded as skipped (unless ``overwrite``); two videos
    that would share an output are recorded as failed.
    """
    src_dir, dst_dir = report.src_dir, report.dst_dir
    jobs, outputs = [], {}
    for relative in videos:
        output = relative.with_suffix(extension)
        if output in outputs:  # e.g. a.mp4 and a.webm would both become a.avi
            report.failed.append(
                (
                    relative.as_posix(),
                    f"same output {output.as_posix()} as {outputs[output].as_posix()}",
                )
            )
            continue
        outputs[output] = relative
        done = (dst_dir / output).exists() or (only_needed and (dst_dir / relative).exists())
        if done and not overwrite:
            report.skipped.append(relative.as_posix())
        else:
            jobs.append((relative, src_dir / relative, dst_dir / output, dst_dir / relative))
    return jobs


def _record(
    report: PrepareReport, relative: Path, outcome: tuple[str, str | None], *, progress: bool
) -> None:
    """Add one video's outcome to the report; a failure is also printed above the bar."""
    from tqdm.auto import tqdm

    done, reason = outcome
    if reason is None:
        (report.linked if done == "linked" else report.converted).append(relative.as_posix())
    else:
        report.failed.append((relative.as_posix(), reason))
        if progress:
            tqdm.write(f"failed: {relative.as_posix()}: {reason}")


def _write_failures(report: PrepareReport) -> None:
    """Sort the report's lists; write ``dst_dir/prepare_failures.txt`` (removed if none)."""
    report.converted.sort()
    report.linked.sort()
    report.failed.sort()
    failures_path = report.failures_path
    if report.failed:
        failures_path.write_text("".join(f"{video}\t{reason}\n" for video, reason in report.failed))
    else:
        failures_path.unlink(missing_ok=True)


def prepare_dataset(
    src_dir: str | os.PathLike,
    dst_dir: str | os.PathLike,
    *,
    workers: int = 0,
    config: TranscodeConfig = TranscodeConfig(),
    extension: str = ".avi",
    overwrite: bool = False,
    progress: bool = True,
    only_needed: bool = False,
    shard: Shard | None = None,
) -> PrepareReport:
    """Transcode every video under ``src_dir`` into ``dst_dir``, keeping relative paths.

    Args:
        src_dir: the dataset as downloaded (videos of any format PyAV reads, split files).
        dst_dir: where the prepared copy goes (created; may already hold a partial run).
        workers: parallel processes; 0 uses every CPU, 1 runs in this process.
        config: size and codec settings of the outputs.
        extension: output extension for every video, ``.avi`` or ``.mp4``. Keep ``.avi``
            for UCF-101 and HMDB-51, whose split files name ``.avi`` files.
        overwrite: transcode again even where an output exists.
        progress: show a tqdm progress bar.
        only_needed: transcode only the videos ``read_clip`` cannot read directly; link
            the others under their own name (data/README.md says when that pays).
        shard: prepare only this shard's videos and side files (:class:`Shard`); its
            failures go to ``dst_dir/prepare_failures.shardIofN.txt``.

    Returns:
        A :class:`PrepareReport`; ``report.ok`` is False if any video failed. The failures
        are also written to ``dst_dir/prepare_failures.txt`` (removed when none failed).

    Raises:
        ImrkitError: ``src_dir`` is not a folder.
        ConfigError: bad extension, or ``dst_dir`` equal to ``src_dir``.
    """
    src_dir, dst_dir, extension = _check_arguments(src_dir, dst_dir, extension)
    dst_dir.mkdir(parents=True, exist_ok=True)
    _remove_partials(dst_dir, shard, extension)
    report = PrepareReport(src_dir, dst_dir, shard=shard)

    videos, side_files = find_files(src_dir, exclude=dst_dir)
    if shard is not None:
        # Keyed by the output path, so two videos that would share an output (a.mp4, a.webm)
        # meet in one shard, which reports the clash.
        videos = [v for v in videos if shard.holds(v.with_suffix(extension))]
        side_files = [f for f in side_files if shard.holds(f)]
    _copy_side_files(report, side_files)
    jobs = _plan_jobs(report, videos, extension, overwrite=overwrite, only_needed=only_needed)
    outcomes = map_with_progress(
        functools.partial(_prepare_job, config=config, only_needed=only_needed),
        jobs,
        workers=workers or available_cpus(),
        desc="prepare",
        progress=progress,
        # A worker died (e.g. FFmpeg crashed on a damaged file): the videos it and the rest
        # of the pool held are reported; a rerun resumes them.
        worker_died=("failed", "worker process died (rerun to retry)"),
    )
    for (relative, *_), outcome in outcomes:
        _record(report, relative, outcome, progress=progress)
    _remove_partials(dst_dir, shard, extension)
    _write_failures(report)
    return report


__all__ = [
    "FAILURES_FILE",
    "PrepareReport",
    "Shard",
    "VIDEO_EXTENSIONS",
    "find_files",
    "available_cpus",
    "prepare_dataset",
    "process_pool",
]
