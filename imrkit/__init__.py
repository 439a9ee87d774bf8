"""imrkit: self-supervised video representation learning from compressed video (IMRNet).

The handful of names a script needs, re-exported from the areas that define them
(``imrkit.codec``, ``imrkit.data``, ``imrkit.models``, ``imrkit.pretext``, ``imrkit.train``,
``imrkit.evaluate``, ``imrkit.experiment``, ``imrkit.viz``: each package's ``__init__`` lists
its public names). They are imported
lazily (PEP 562), so ``import imrkit`` is cheap and a reader-only script never pays for
importing torch.
"""

from __future__ import annotations

from imrkit import _moved
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
    "read_clip": "imrkit.codec",
    "CompressedClip": "imrkit.codec",
    "probe": "imrkit.codec",
    "VideoInfo": "imrkit.codec",
    "inspect_frames": "imrkit.codec",
    "FrameRecord": "imrkit.codec",
    "encode_frames": "imrkit.codec",
    "EncodeConfig": "imrkit.codec",
    "transcode": "imrkit.codec",
    "TranscodeConfig": "imrkit.codec",
    # data
    "make_sample": "imrkit.data",
    "SampleConfig": "imrkit.data",
    "prepare_dataset": "imrkit.data",
    # model
    "build_model": "imrkit.models",
    "load_model": "imrkit.models",
    "load_backbone": "imrkit.models",
    "IMRNetConfig": "imrkit.models",
    # pretext tasks
    "pmsp_labels": "imrkit.pretext",
    "pmsp_magnitudes": "imrkit.pretext",
    "build_pretext": "imrkit.pretext",
    # training: configs from files and overrides, then a run
    "load_config": "imrkit.config",
    "PretrainConfig": "imrkit.train",
    "FinetuneConfig": "imrkit.train",
    "pretrain": "imrkit.train",
    "finetune": "imrkit.train",
}

_moved.install()
__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, ("__version__",))
