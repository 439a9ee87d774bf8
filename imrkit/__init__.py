"""imrkit: self-supervised video representation learning from compressed video (IMRNet).

The public API is imported lazily (PEP 562), so ``import imrkit`` is cheap and a
reader-only script never pays for importing torch.
"""

from __future__ import annotations

from imrkit._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    # errors
    "ImrkitError": "imrkit.errors",
    "ConfigError": "imrkit.errors",
    "VideoError": "imrkit.errors",
    "VideoNotFoundError": "imrkit.errors",
    "NotAVideoError": "imrkit.errors",
    "CorruptVideoError": "imrkit.errors",
    "UnsupportedVideoError": "imrkit.errors",
    "VideoTooShortError": "imrkit.errors",
    # codec: reading and writing compressed video
    "read_clip": "imrkit.codec.reader",
    "CompressedClip": "imrkit.codec.reader",
    "probe": "imrkit.codec.reader",
    "VideoInfo": "imrkit.codec.reader",
    "inspect_frames": "imrkit.codec.inspect",
    "FrameRecord": "imrkit.codec.inspect",
    "encode_frames": "imrkit.codec.encode",
    "EncodeConfig": "imrkit.codec.encode",
    "transcode": "imrkit.codec.transcode",
    "TranscodeConfig": "imrkit.codec.transcode",
    # data
    "make_sample": "imrkit.data.sample",
    "SampleConfig": "imrkit.data.sample",
    "prepare_dataset": "imrkit.data.prepare",
    # model
    "build_model": "imrkit.models",
    "load_model": "imrkit.models",
    "IMRNetConfig": "imrkit.models",
    # pretext tasks
    "pmsp_labels": "imrkit.pretext.pmsp",
    "pmsp_magnitudes": "imrkit.pretext.pmsp",
    "build_pretext": "imrkit.pretext",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, ("__version__",))
