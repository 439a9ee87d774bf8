"""Writing the sample dataset: rendering and encoding videos, the split files, caching."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, replace
from pathlib import Path

import cv2

from imrkit.codec.encode import EncodeConfig, encode_frames
from imrkit.data.processes import available_cpus, map_with_progress
from imrkit.data.sample.layout import (
    SAMPLE_INFO,
    UNLABELED_FOLDER,
    SampleConfig,
    is_test_video,
    unlabeled_name,
    video_name,
)
from imrkit.data.sample.scene import make_scene, make_unlabeled_scene
from imrkit.errors import ConfigError


def _write_video(job: tuple[SampleConfig, int, int, str]) -> str:
    """Render and encode one video atomically (temp file, then rename); worker entry point.

    ``job`` is (config, class index or -1 for the unlabeled pool, video index, path).
    """
    config, class_index, video_index, path = job
    cv2.setNumThreads(1)  # the parallelism is across videos; avoid oversubscribing cores
    if class_index < 0:
        scene = make_unlabeled_scene(config, video_index)
    else:
        scene = make_scene(config, class_index, video_index)
    path = Path(path)
    partial = path.with_name(f".{path.name}.part")
    try:
        encode_frames(
            (scene.render(t) for t in range(config.num_frames)),
            partial,
            config.encode,
            container_format=config.extension.lstrip("."),
        )
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return str(path)


GENERATOR_VERSION = 2  # 1: moving textured objects (MoveRight, ...); 2: the actor


def _config_record(config: SampleConfig) -> dict:
    return {"generator": "imrkit.data.sample", "version": GENERATOR_VERSION, **asdict(config)}


def load_sample_config(root: str | os.PathLike) -> SampleConfig:
    """The :class:`SampleConfig` a sample dataset at ``root`` was generated with.

    Raises:
        ConfigError: ``root/sample.json`` is missing (not a finished sample dataset), or
            was written by an older generator.
    """
    info_path = Path(root) / SAMPLE_INFO
    if not info_path.is_file():
        raise ConfigError(f"{info_path}: missing; is {root} a finished `imrkit make-sample`?")
    record = json.loads(info_path.read_text())
    if record.get("version") != GENERATOR_VERSION:
        raise ConfigError(
            f"{info_path}: made by an older `imrkit make-sample` (version "
            f"{record.get('version')}); run `imrkit make-sample` again"
        )
    fields = {key: value for key, value in record.items() if key not in ("generator", "version")}
    fields["encode"] = EncodeConfig(**fields["encode"])
    return SampleConfig(**fields)


def _previous_config(root: Path) -> SampleConfig | None:
    """The config of the sample dataset already at ``root``, if any (and readable)."""
    try:
        return load_sample_config(root)
    except (ConfigError, ValueError, TypeError, KeyError):
        return None


def _all_videos(config: SampleConfig) -> set[str]:
    labelled = {
        video_name(config, class_index, video_index)
        for class_index in range(config.num_classes)
        for video_index in range(config.videos_per_class)
    }
    return labelled | {unlabeled_name(config, i) for i in range(config.num_unlabeled)}


def _remove_stale_videos(root: Path, previous: SampleConfig, config: SampleConfig) -> None:
    """Delete videos an earlier ``make_sample`` wrote that the new config does not list.

    Only names the earlier config generated are touched, never other files in ``root``.
    """
    for relative in sorted(_all_videos(previous) - _all_videos(config)):
        (root / relative).unlink(missing_ok=True)
    for name in (*previous.class_names, UNLABELED_FOLDER):
        folder = root / name
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def make_sample(
    dst: str | os.PathLike, config: SampleConfig = SampleConfig(), *, progress: bool = False
) -> Path:
    """Generate the sample dataset under ``dst``: UCF-101's layout plus ``dst/unlabeled``.

    Videos already there from an identical config (recorded in ``dst/sample.json``; the
    number of workers does not count) are kept, so re-running is cheap; any other config
    regenerates every video and deletes the earlier videos it no longer lists.

    Args:
        dst: output folder (created).
        config: what to generate.
        progress: show a tqdm progress bar.

    Returns:
        ``dst`` as a Path.
    """
    root = Path(dst)
    root.mkdir(parents=True, exist_ok=True)
    info_path = root / SAMPLE_INFO
    previous = _previous_config(root)
    # The number of workers does not change a single byte, so it does not force a rebuild.
    reuse = previous is not None and replace(previous, workers=0) == replace(config, workers=0)
    if previous is not None:
        _remove_stale_videos(root, previous, config)
    info_path.unlink(missing_ok=True)  # written last: its presence means "complete"

    train_lines, test_lines, jobs = [], [], []
    for class_index, name in enumerate(config.class_names):
        (root / name).mkdir(exist_ok=True)
        for video_index in range(config.videos_per_class):
            relative = video_name(config, class_index, video_index)
            if is_test_video(config, video_index):
                test_lines.append(relative)
            else:
                train_lines.append(f"{relative} {class_index + 1}")
            if not (reuse and (root / relative).exists()):
                jobs.append((config, class_index, video_index, str(root / relative)))
    if config.num_unlabeled:
        (root / UNLABELED_FOLDER).mkdir(exist_ok=True)
    for index in range(config.num_unlabeled):
        relative = unlabeled_name(config, index)
        if not (reuse and (root / relative).exists()):
            jobs.append((config, -1, index, str(root / relative)))

    written = map_with_progress(
        _write_video,
        jobs,
        workers=config.workers or available_cpus(),
        desc="make-sample",
        progress=progress,
    )
    for _ in written:  # the videos land on disk; the bar counts them
        pass

    class_lines = [f"{index + 1} {name}" for index, name in enumerate(config.class_names)]
    (root / "classInd.txt").write_text("\n".join(class_lines) + "\n")
    (root / "trainlist01.txt").write_text("\n".join(train_lines) + "\n")
    (root / "testlist01.txt").write_text("\n".join(test_lines) + "\n")
    info_path.write_text(json.dumps(_config_record(config), indent=2) + "\n")
    return root


def ensure_sample(
    dst: str | os.PathLike, config: SampleConfig = SampleConfig(), *, progress: bool = True
) -> Path:
    """The sample dataset at ``dst``, generated only if no complete one is there.

    A folder counts as complete once ``make_sample`` wrote its ``sample.json`` last, so an
    interrupted build is finished on the next call, while a finished one (of any config) is
    used as it is: demos and notebooks never rebuild data a user already has. A dataset
    from an older generator (other classes, no unlabeled pool) is rebuilt.
    """
    root = Path(dst)
    if _previous_config(root) is not None and (root / "classInd.txt").is_file():
        return root
    return make_sample(root, config, progress=progress)
