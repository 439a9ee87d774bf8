"""Reading compressed video (MPEG-4 Part 2, MPEG-1/2, H.263 and its variants, H.264) and
writing MPEG-4 Part 2: SPEC section 1."""

# Names are imported lazily (PEP 562): `import imrkit.codec` does not load PyAV.
from imrkit._lazy import lazy_exports

_EXPORTS = {
    "CompressedClip": "imrkit.codec.reader",
    "VideoInfo": "imrkit.codec.reader",
    "probe": "imrkit.codec.reader",
    "read_clip": "imrkit.codec.reader",
    "usable_gops": "imrkit.codec.reader",
    "FrameRecord": "imrkit.codec.inspect",
    "inspect_frames": "imrkit.codec.inspect",
    "storage_sizes": "imrkit.codec.inspect",
    "MOTION_VECTOR_CODECS": "imrkit.codec.pictures",
    "PICTURE_TYPES": "imrkit.codec.pictures",
    "GOP_SIZE": "imrkit.codec.encode",
    "EncodeConfig": "imrkit.codec.encode",
    "encode_frames": "imrkit.codec.encode",
    "TranscodeConfig": "imrkit.codec.transcoding",
    "transcode": "imrkit.codec.transcoding",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
