"""What a decoded frame says about itself: picture type, motion side data, luma.

The one home of the picture-type names (the reader and the inspection API both use them) and
of the codecs whose decoders export motion vectors (SPEC section 5, issue 10):

- ``flags2=+export_mvs`` makes the mpeg4, h263, mpeg1video, mpeg2video and h264 decoders
  attach ``MOTION_VECTORS`` side data to every inter frame; hevc, vp9, av1 (and intra-only
  codecs such as mjpeg) export none, so their videos must be re-encoded.
- Since PyAV 14 ``frame.pict_type`` is a plain int (``AVPictureType``: I = 1, P = 2, B = 3).
- A frame without side data is an I-frame, or an inter frame whose blocks are all intra (a
  scene cut): FFmpeg attaches no side data when no block has a vector.
"""

from __future__ import annotations

import av
import numpy as np

# AVPictureType values -> names. S is MPEG-4's global-motion P-frame; SI/SP are H.264's
# switching slices; BI is VC-1's intra B-frame.
PICTURE_TYPES = {1: "I", 2: "P", 3: "B", 4: "S", 5: "SI", 6: "SP", 7: "BI"}

# Decoders that export block motion vectors with ``flags2=+export_mvs``.
MOTION_VECTOR_CODECS = ("mpeg4", "h263", "mpeg1video", "mpeg2video", "h264")
# Of these, the ones whose predicted frames have exactly one reference per direction: the
# previous anchor (I or P) for past vectors, the next anchor for a B-frame's future ones.
# H.264 may reference any of several earlier (or later) frames.
SINGLE_REFERENCE_CODECS = ("mpeg4", "h263", "mpeg1video", "mpeg2video")
# Decoders whose B-frame vectors are all zero (measured, FFmpeg 8: mpeg4 exports a zero
# vector for every block of every B-frame, whatever its mode).
ZERO_B_VECTOR_CODECS = ("mpeg4",)


# Pixel formats whose first plane is 8-bit luma.
_EIGHT_BIT_YUV = frozenset(
    ["yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "gray"]
)


def picture_type(frame: av.VideoFrame) -> str:
    """'I', 'P', 'B' (or 'S', 'SI', 'SP', 'BI'); '?' when the decoder does not say."""
    return PICTURE_TYPES.get(int(frame.pict_type), "?")


def is_anchor(kind: str) -> bool:
    """Whether a picture of this type can be a single-reference codec's reference."""
    return kind not in ("B", "BI")


def motion_side_data(frame: av.VideoFrame):
    """The frame's ``MOTION_VECTORS`` side data (PyAV ``MotionVectors``), or None."""
    return frame.side_data.get("MOTION_VECTORS")


def frame_vectors(frame: av.VideoFrame) -> np.ndarray | None:
    """The frame's ``MOTION_VECTORS`` side data as PyAV's structured array, or None."""
    side_data = motion_side_data(frame)
    return None if side_data is None else side_data.to_ndarray()


def luma(frame: av.VideoFrame) -> np.ndarray:
    """The Y plane of a YUV frame, uint8 (H x W) (a view of the frame's buffer).

    Reference matching (:mod:`imrkit.codec.references`) compares luma only: it is what
    block matching looks at, and it needs no colour conversion.
    """
    if frame.format.name not in _EIGHT_BIT_YUV:  # 10-bit, RGB...: let swscale make grey
        return frame.reformat(format="gray").to_ndarray()
    plane = frame.planes[0]
    rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
    return rows[: frame.height, : frame.width]


def h264_length_size(extradata: bytes | None) -> int:
    """Bytes of each NAL unit's length prefix in an MP4/MKV (avcC) H.264 stream; 0 for an
    Annex B stream (start codes: MPEG-TS, raw .h264)."""
    if extradata and len(extradata) > 4 and extradata[0] == 1:
        return (extradata[4] & 3) + 1
    return 0


def h264_is_reference(data: bytes, length_size: int) -> bool:
    """Whether an H.264 access unit is a reference picture (``nal_ref_idc`` of its first
    slice is not 0). Non-reference frames (most B-frames) are never a candidate reference.

    Args:
        data: the packet's bytes.
        length_size: :func:`h264_length_size` of the stream.
    """
    position = 0
    while position < len(data):
        if length_size:
            size = int.from_bytes(data[position : position + length_size], "big")
            header_at, position = position + length_size, position + length_size + size
        else:
            start = data.find(b"\x00\x00\x01", position)
            if start < 0:
                break
            header_at = position = start + 3
        if header_at >= len(data):
            break
        header = data[header_at]
        if header & 0x1F in (1, 5):  # a coded slice (non-IDR, IDR)
            return bool(header >> 5)
    return True  # no slice found: assume it may be referenced
