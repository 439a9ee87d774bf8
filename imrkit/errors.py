"""Project exceptions.

Every failure a user can cause (a bad video, a bad config) raises a subclass of
:class:`ImrkitError` whose message names the offending file or key and says what to do,
so that scripts and notebooks never show a raw PyAV or CUDA traceback for bad input.
"""

from __future__ import annotations

import os


class ImrkitError(Exception):
    """Base class of every error imrkit raises on purpose."""

    #: The ``imrkit`` command's exit status when this error ends it (argparse's, for bad
    #: input); a subclass that is not a failure says otherwise.
    exit_status: int = 2


class ConfigError(ImrkitError, ValueError):
    """A configuration file or override is invalid (unknown key, wrong type)."""


class VideoError(ImrkitError):
    """A video cannot be read as IMRNet needs it.

    Attributes:
        path: the offending file.
        reason: what is wrong, without the path.
        hint: what to do about it (may be empty).
    """

    default_hint = ""

    def __init__(self, path: str | os.PathLike, reason: str, hint: str | None = None):
        self.path = os.fspath(path)
        self.reason = reason
        self.hint = self.default_hint if hint is None else hint
        message = f"{self.path}: {reason}"
        if self.hint:
            message += f" ({self.hint})"
        super().__init__(message)

    def __reduce__(self):
        # DataLoader workers pickle exceptions back to the main process.
        return (type(self), (self.path, self.reason, self.hint))


class VideoNotFoundError(VideoError, FileNotFoundError):
    """The file does not exist."""


class NotAVideoError(VideoError):
    """The file is empty, not a media container, or holds no video stream."""

    default_hint = "is it a video file? convert it with `imrkit prepare`"


class CorruptVideoError(VideoError):
    """The container or the bitstream is damaged (truncated file, broken packets)."""

    default_hint = "re-download or re-encode it with `imrkit prepare`"


class UnsupportedVideoError(VideoError):
    """A readable video in a codec the reader does not read vectors from (HEVC, VP9, AV1:
    they export none); the message names the codec and its decoder."""

    default_hint = "re-encode it with `imrkit prepare SRC_DIR DST_DIR`"


class VideoTooShortError(VideoError):
    """The video has fewer GOPs than the requested clip needs."""

    default_hint = "ask for fewer GOPs, an earlier start, or pass `loop=True`"


class ShapeError(ImrkitError, ValueError):
    """An array or tensor does not have the layout a function documents (names the argument)."""
