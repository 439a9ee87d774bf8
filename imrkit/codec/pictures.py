"""What a decoded frame says about itself: picture type, motion side data, luma.

The one home of the picture-type names (the reader and the inspection API both use them) and
of the codecs whose decoders export motion vectors (SPEC section 5, issue 10):

- ``flags2=+export_mvs`` makes the mpeg4, h263, mpeg1video, mpeg2video and h264 decoders,
  and those of H.263's Microsoft and Sorenson variants (msmpeg4 = MS MPEG-4 v3 / DivX 3,
  msmpeg4v2, wmv1, wmv2, flv), attach ``MOTION_VECTORS`` side data to every inter frame;
  hevc, vp9, av1 (and intra-only codecs such as mjpeg) export none, so their videos must be
  re-encoded.
- Messages name the codec, then its decoder (:func:`codec_label`): PyAV reports only the
  decoder (``libdav1d`` for AV1, ``msmpeg4`` for MS MPEG-4 v3), which may not be the codec's
  name.
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

# H.263's Microsoft and Sorenson variants, as PyAV names their decoders
# (``codec_context.name``): MS MPEG-4 v3 (DivX 3), v2, WMV 7, WMV 8 and FLV1. FFmpeg decodes
# them with its H.263 decoder core, which exports their vectors as it does H.263's (measured,
# FFmpeg 8: every P-frame; tests/codec/test_more_codecs.py recovers a known motion). None has
# B-frames: each P-frame refers to the previous anchor.
H263_VARIANT_CODECS = ("msmpeg4", "msmpeg4v2", "wmv1", "wmv2", "flv")
# Decoders that export block motion vectors with ``flags2=+export_mvs``.
MOTION_VECTOR_CODECS = ("mpeg4", "h263", "mpeg1video", "mpeg2video", "h264") + H263_VARIANT_CODECS
# Of these, the ones whose predicted frames have exactly one reference per direction: the
# previous anchor (I or P) for past vectors, the next anchor for a B-frame's future ones.
# H.264 may reference any of several earlier (or later) frames.
SINGLE_REFERENCE_CODECS = ("mpeg4", "h263", "mpeg1video", "mpeg2video") + H263_VARIANT_CODECS
# Decoders whose B-frame vectors are all zero (measured, FFmpeg 8: mpeg4 exports a zero
# vector for every block of every B-frame, whatever its mode).
ZERO_B_VECTOR_CODECS = ("mpeg4",)
# Codecs whose FFmpeg decoders export no motion vectors at all (measured, FFmpeg 8: no
# side data on any frame), by FFmpeg's codec name (``codec.canonical_name``).
NO_VECTOR_CODECS = ("hevc", "vp9", "av1", "vp8")

# What people call the codecs, by FFmpeg's codec name: its own descriptions are long
# ("Alliance for Open Media AV1") and its decoder names can be another codec's (``msmpeg4``
# decodes MS MPEG-4 v3, not MPEG-4 Part 2).
CODEC_NAMES = {
    "mpeg4": "MPEG-4 Part 2",
    "h263": "H.263",
    "mpeg1video": "MPEG-1",
    "mpeg2video": "MPEG-2",
    "h264": "H.264",
    "msmpeg4v3": "MS MPEG-4 v3 / DivX 3",
    "msmpeg4v2": "MS MPEG-4 v2",
    "wmv1": "WMV 7",
    "wmv2": "WMV 8",
    "flv1": "Sorenson H.263 / FLV1",
    "hevc": "HEVC",
    "vp9": "VP9",
    "av1": "AV1",
    "vp8": "VP8",
    "mjpeg": "Motion JPEG",
}


_H264_IDR = 5  # nal_unit_type of an IDR picture's slices

# Pixel formats whose first plane is 8-bit luma.
_EIGHT_BIT_YUV = frozenset(
    ["yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "gray"]
)


def _codec(decoder: str) -> av.codec.Codec | None:
    try:
        return av.codec.Codec(decoder, "r")
    except (av.codec.codec.UnknownCodecError, ValueError):
        return None


def codec_name(decoder: str) -> str:
    """The codec an FFmpeg decoder reads, as people name it: ``"AV1"`` for ``libdav1d``,
    ``"MS MPEG-4 v3 / DivX 3"`` for ``msmpeg4``; FFmpeg's description of codecs not in
    :data:`CODEC_NAMES`; the decoder name itself if FFmpeg does not know it."""
    codec = _codec(decoder)
    if codec is None:
        return decoder
    canonical = codec.canonical_name
    if canonical in CODEC_NAMES:
        return CODEC_NAMES[canonical]
    described = _codec(canonical)  # the codec's own decoder, whose description is the codec's
    return (described or codec).long_name or canonical


def codec_label(decoder: str) -> str:
    """The codec and its decoder, for messages: ``"AV1 (decoder libdav1d)"``."""
    return f"{codec_name(decoder)} (decoder {decoder})"


def exports_no_vectors(decoder: str) -> bool:
    """Whether the decoder's codec is known to export no motion vectors (HEVC, VP9, AV1,
    VP8, intra-only codecs) rather than merely not read by imrkit."""
    codec = _codec(decoder)
    return codec is not None and (codec.intra_only or codec.canonical_name in NO_VECTOR_CODECS)


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


def _h264_first_slice(data: bytes, length_size: int) -> int | None:
    """The NAL header byte of an H.264 access unit's first coded slice (None: no slice).

    Args:
        data: the packet's bytes.
        length_size: :func:`h264_length_size` of the stream (0: start codes).
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
        if header & 0x1F in (1, _H264_IDR):  # a coded slice (non-IDR, IDR)
            return header
    return None


def h264_is_reference(data: bytes, length_size: int) -> bool:
    """Whether an H.264 access unit is a reference picture (``nal_ref_idc`` of its first
    slice is not 0). Non-reference frames (most B-frames) are never a candidate reference.
    An access unit without a slice is assumed to be one."""
    header = _h264_first_slice(data, length_size)
    return header is None or bool(header >> 5)


def h264_is_idr(data: bytes, length_size: int) -> bool:
    """Whether an H.264 access unit is an IDR picture (its first slice's ``nal_unit_type``
    is 5): nothing after it in decoding order refers to anything before it."""
    header = _h264_first_slice(data, length_size)
    return header is not None and header & 0x1F == _H264_IDR


def h263_is_intra(head: bytes) -> bool | None:
    """Whether an H.263 picture is intra-coded, from its header's first 8 bytes (None if
    they are not a picture header). ITU-T H.263 5.1: a 22-bit start code, an 8-bit
    temporal reference, then PTYPE, whose bit 9 is the coding type (0: INTRA) unless its
    source format (bits 6-8) is 7 (6 is read alike, as FFmpeg does): then PLUSPTYPE, a
    3-bit UFEP, 18 bits of OPPTYPE when UFEP is 1, and MPPTYPE, whose first 3 bits are the
    picture type (0: I)."""
    if len(head) < 8:
        return None
    bits = int.from_bytes(head, "big")

    def field(at: int, width: int) -> int:  # ``width`` bits from bit ``at`` (0: the first)
        return (bits >> (64 - at - width)) & ((1 << width) - 1)

    if field(0, 22) != 0b1_00000:
        return None
    if field(35, 3) < 6:
        return field(38, 1) == 0
    return field(41 + (18 if field(38, 3) == 1 else 0), 3) == 0
