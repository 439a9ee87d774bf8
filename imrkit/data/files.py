"""Which files are videos: the one list of video extensions, and :func:`find_videos`.

``imrkit prepare`` converts, the split readers resolve and the notebooks list exactly the
files whose extension is in :data:`VIDEO_EXTENSIONS`.
"""

from __future__ import annotations

import os
from pathlib import Path

from imrkit.errors import ImrkitError

# Lower-case, in lookup order: a split line naming a missing ``x.avi`` is looked up as
# ``x.mp4``, ``x.mkv``, ... in this order (``imrkit prepare`` may change the extension).
VIDEO_EXTENSIONS: tuple[str, ...] = (
    ".avi",
    ".mp4",
    ".mkv",
    ".mov",
    ".webm",
    ".m4v",
    ".mpg",
    ".mpeg",
    ".flv",
    ".wmv",
    ".asf",  # the container of .wmv files, under its own name
    ".3gp",
    ".ogv",
)


def is_video_name(path: str | os.PathLike) -> bool:
    """Whether ``path`` has a video extension (any case); the file is not opened."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def find_videos(root: str | os.PathLike) -> list[Path]:
    """Every video file under ``root``, sorted (a UCF-101-layout folder or any tree).

    Raises:
        ImrkitError: ``root`` is not a folder, or holds no video.
    """
    root = Path(root)
    if not root.is_dir():
        raise ImrkitError(f"{root}: not a folder of videos")
    videos = sorted(p for p in root.rglob("*") if is_video_name(p) and p.is_file())
    if not videos:
        raise ImrkitError(f"{root}: no videos ({', '.join(VIDEO_EXTENSIONS)}) found")
    return videos


__all__ = ["VIDEO_EXTENSIONS", "find_videos", "is_video_name"]
