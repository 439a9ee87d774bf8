"""Datasets on disk: the embedded sample data, preparation, split files, clip datasets."""

# Names are imported lazily (PEP 562): `import imrkit.data` does not load torch or PyAV.
from imrkit._lazy import lazy_exports

_EXPORTS = {
    "VIDEO_EXTENSIONS": "imrkit.data.files",
    "find_videos": "imrkit.data.files",
    "SampleConfig": "imrkit.data.sample",
    "ensure_sample": "imrkit.data.sample",
    "make_sample": "imrkit.data.sample",
    "PrepareReport": "imrkit.data.prepare",
    "prepare_dataset": "imrkit.data.prepare",
    "SplitError": "imrkit.data.splits",
    "VideoRecord": "imrkit.data.splits",
    "VideoSplit": "imrkit.data.splits",
    "detect_format": "imrkit.data.splits",
    "read_split": "imrkit.data.splits",
    "CompressedVideoDataset": "imrkit.data.dataset",
    "DatasetConfig": "imrkit.data.dataset",
    "build_dataset": "imrkit.data.dataset",
    "make_loader": "imrkit.data.dataset",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
