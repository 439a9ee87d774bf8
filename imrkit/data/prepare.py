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
  and written to ``dst_dir/prepare_failures.txt``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from imrkit.codec.transcoding import OUTPUT_EXTENSIONS, TranscodeConfig, transcode
from imrkit.data.files import VIDEO_EXTENSIONS
from imrkit.data.processes import fresh_process_context
from imrkit.errors import ConfigError, ImrkitError, VideoError

# Split lists, class indices and annotation tables travel with the videos.
SIDE_FILE_EXTENSIONS = frozenset({".txt", ".csv", ".json", ".tsv"})
FAILURES_FILE = "prepare_failures.txt"
PARTIAL_SUFFIX = ".part"


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

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        """A human-readable summary, the failures listed one per line."""
        lines = [
            f"prepared {self.src_dir} -> {self.dst_dir}: {len(self.converted)} converted, "
            f"{len(self.linked)} linked (read directly), "
            f"{len(self.skipped)} already done, {len(self.copied)} side files copied, "
            f"{len(self.failed)} failed"
        ]
        if self.failed:
            lines.append(f"failures (also in {self.dst_dir / FAILURES_FILE}):")
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
            elif suffix in SIDE_FILE_EXTENSIONS and name != FAILURES_FILE:
                side_files.append(relative)
    return videos, side_files


def available_cpus() -> int:
    """CPUs this process may run on (respects affinity masks, e.g. under SLURM or taskset)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


@contextmanager
def process_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A process pool whose workers do not inherit this process's threads.

    Workers start from a fresh interpreter (see :func:`fresh_process_context`): as with any
    such pool, a script using it needs the ``if __name__ == "__main__":`` guard.

    On Ctrl-C or an error, jobs not yet started are cancelled rather than run to the end.
    """
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=fresh_process_context())
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _prepare_job(
    src: str, dst: str, linked_dst: str, config: TranscodeConfig, only_needed: bool
) -> tuple[str, str | None]:
    """Worker entry point: prepare one video; ``(what was done, failure reason or None)``.

    Any exception is turned into a message here, so one bad video cannot stop the pool.
    """
    from imrkit.codec.reader import probe

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


def _remove_partials(dst_dir: Path) -> None:
    """Delete temp files a killed run left behind (``.NAME.part``)."""
    for partial in dst_dir.rglob(f".*{PARTIAL_SUFFIX}"):
        partial.unlink(missing_ok=True)


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

    Returns:
        A :class:`PrepareReport`; ``report.ok`` is False if any video failed. The failures
        are also written to ``dst_dir/prepare_failures.txt`` (removed when none failed).

    Raises:
        ImrkitError: ``src_dir`` is not a folder.
        ConfigError: bad extension, or ``dst_dir`` equal to ``src_dir``.
    """
    from tqdm.auto import tqdm

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
    dst_dir.mkdir(parents=True, exist_ok=True)
    _remove_partials(dst_dir)
    report = PrepareReport(src_dir, dst_dir)

    videos, side_files = find_files(src_dir, exclude=dst_dir)
    for relative in side_files:
        target = dst_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src_dir / relative, target)
        report.copied.append(relative.as_posix())

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

    bar = tqdm(total=len(jobs), desc="prepare", unit="video", disable=not progress)
    workers = workers or available_cpus()

    def record(relative: Path, outcome: tuple[str, str | None]) -> None:
        done, reason = outcome
        if reason is None:
            (report.linked if done == "linked" else report.converted).append(relative.as_posix())
        else:
            report.failed.append((relative.as_posix(), reason))
            if progress:
                bar.write(f"failed: {relative.as_posix()}: {reason}")
        bar.update()

    if workers == 1 or len(jobs) <= 1:
        for relative, src, dst, linked in jobs:
            record(relative, _prepare_job(str(src), str(dst), str(linked), config, only_needed))
    else:
        with process_pool(min(workers, len(jobs))) as pool:
            futures = {
                pool.submit(
                    _prepare_job, str(src), str(dst), str(linked), config, only_needed
                ): relative
                for relative, src, dst, linked in jobs
            }
            for future in as_completed(futures):
                try:
                    outcome = future.result()
                except BrokenProcessPool:
                    # A worker died (e.g. FFmpeg crashed on a damaged file): the videos it and
                    # the rest of the pool held are reported; a rerun resumes them.
                    outcome = ("failed", "worker process died (rerun to retry)")
                record(futures[future], outcome)
    bar.close()
    _remove_partials(dst_dir)

    report.converted.sort()
    report.linked.sort()
    report.failed.sort()
    failures_path = dst_dir / FAILURES_FILE
    if report.failed:
        failures_path.write_text("".join(f"{video}\t{reason}\n" for video, reason in report.failed))
    else:
        failures_path.unlink(missing_ok=True)
    return report


__all__ = [
    "FAILURES_FILE",
    "PrepareReport",
    "VIDEO_EXTENSIONS",
    "find_files",
    "available_cpus",
    "prepare_dataset",
    "process_pool",
]
