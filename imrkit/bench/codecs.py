"""``imrkit bench codecs``: reading videos as datasets distribute them (issue 10).

In one run, on the same generated content (the loader benchmark's panning scene with two
moving objects, ``--size`` 340x256, ``--frames`` 300 = 10 s at 30 fps, like a Kinetics clip),
encoded once per codec into ``--cache``:

- ``mpeg4_gop12``: what ``imrkit prepare`` writes (MPEG-4 Part 2, 12-frame GOPs, no B);
- ``mpeg4_b``: MPEG-4 Part 2 as Xvid/DivX sources come (keyint 250, 2 B-frames), in MP4;
- ``mpeg4_b_avi``: the same stream as UCF-101 and HMDB-51 ship it: in AVI, at 25 fps;
- ``mpeg2_b``: MPEG-2, GOP 15, 2 B-frames;
- ``h264``: x264 defaults (keyint 250, scene cuts on, 3 B-frames with pyramid, 3 references),
  in MP4 as Kinetics downloads come.

Every row has the run's one size, so that costs per frame compare across rows; UCF-101's
320x240 is ``--size 320 240`` (every row at that size).

Figures, CPU time (best of ``--repeats`` rounds, the methods compared interleaved in every
round, one thread):

- per codec, ``read_clip`` of a 5-GOP clip at the start vs plain PyAV decode of the same 60
  frames to RGB (``to_ndarray``, and with one reused ``VideoReformatter``); and the residual
  energy of the clip relative to the plain frame difference;
- H.264 read directly vs ``transcode`` (what ``imrkit prepare`` runs per video) plus
  reading the prepared file;
- random access in the H.264 file: clips at every segment start, against the first one
  (a clip far from the keyframe before it decodes from that keyframe).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from imrkit.bench.loader import plain_decode

CLIP_GOPS = 5
CLIP_FRAMES = CLIP_GOPS * 12


@dataclass(frozen=True)
class Encoding:
    """How one benchmarked file is written.

    Attributes:
        encoder: FFmpeg encoder for :func:`imrkit.codec.encode.encode_any`; None writes
            imrkit's own layout (:func:`imrkit.codec.encode.encode_frames`, what ``prepare``
            writes).
        options: encoder options; ``b_frames``: at most this many in a row; ``gop``: keyframe
            interval.
        container: FFmpeg muxer, also the file's extension (``"mp4"``, ``"avi"``).
        fps: frame rate written to the container.
    """

    encoder: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    b_frames: int = 0
    gop: int = 12
    container: str = "mp4"
    fps: int = 30


XVID_LIKE = {"g": "250", "bf": "2", "qmin": "3", "qmax": "8"}
CODECS = {
    "mpeg4_gop12": Encoding(),
    "mpeg4_b": Encoding("mpeg4", XVID_LIKE, 2, 250),
    # UCF-101 / HMDB-51 as distributed: Xvid/DivX streams in AVI at 25 fps.
    "mpeg4_b_avi": Encoding("mpeg4", XVID_LIKE, 2, 250, container="avi", fps=25),
    "mpeg2_b": Encoding("mpeg2video", {"g": "15", "bf": "2", "qmin": "3", "qmax": "8"}, 2, 15),
    "h264": Encoding("libx264", {"crf": "23"}, 3, 250),
}
TARGETS = {
    "h264_read_clip_vs_plain_decode": ("<=", 1.5),
    "late_vs_early_clip": ("<=", 1.5),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path("~/.cache/imrkit/bench/codecs").expanduser(),
        help="where the generated videos are kept (default %(default)s)",
    )
    parser.add_argument("--size", type=int, nargs=2, default=(340, 256), metavar=("W", "H"))
    parser.add_argument("--frames", type=int, default=300, help="frames per video")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")


def encode_video(path: Path, frames: list[np.ndarray], codec: str) -> Path:
    """Encode ``frames`` with one of :data:`CODECS` into its container (once; kept in the
    cache)."""
    from imrkit.codec.encode import EncodeConfig, encode_any, encode_frames

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    encoding = CODECS[codec]
    if encoding.encoder is None:
        config = EncodeConfig(fps=encoding.fps)
        encode_frames(frames, partial, config, container_format=encoding.container)
    else:
        encode_any(
            frames,
            partial,
            codec=encoding.encoder,
            gop_size=encoding.gop,
            b_frames=encoding.b_frames,
            options=encoding.options,
            fps=encoding.fps,
            container_format=encoding.container,
        )
    partial.rename(path)
    return path


def best_times(methods: dict, repeats: int) -> dict:
    """Best CPU time (s) of each method over ``repeats`` rounds, the methods interleaved in
    every round so that load from other jobs hits them alike (one thread: per-core cost)."""
    best = {name: float("inf") for name in methods}
    for _ in range(repeats):
        for name, method in methods.items():
            start = time.process_time()
            method()
            best[name] = min(best[name], time.process_time() - start)
    return best


def residual_ratio(path: Path) -> float:
    """Energy of read_clip's residual / energy of the plain frame difference, same frames."""
    from imrkit.codec.reader import read_clip

    clip = read_clip(path, 0, CLIP_GOPS)
    frames = plain_decode(path, 0, reuse_reformatter=True)
    positions = clip.frame_indices[clip.frame_types == "P"]
    difference = np.stack([frames[i].astype(np.int16) - frames[i - 1] for i in positions])
    return float(np.mean(clip.residual.astype(np.float64) ** 2) / np.mean(difference**2.0))


def keyframes(path: Path) -> list[int]:
    """Display indices of the keyframes (a packet scan, nothing decoded)."""
    import av

    from imrkit.codec.container import StreamTiming

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        timing = StreamTiming.of(stream)
        return sorted(
            timing.index(packet.pts)
            for packet in container.demux(stream)
            if packet.is_keyframe and packet.pts is not None
        )


def reference_decode(path: Path, first: int) -> int:
    """Decode what any exact reader must before a clip that starts at frame ``first``: from
    the keyframe at the file's start, every frame others may refer to (the decoder skips the
    rest), vectors exported, nothing converted or kept. Returns the frames decoded."""
    import av

    from imrkit.codec.container import StreamTiming

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        context.options = {"flags2": "+export_mvs"}
        context.thread_type, context.thread_count = "NONE", 1
        timing = StreamTiming.of(stream)
        decoded = 0
        for packet in container.demux(stream):
            if packet.pts is not None:
                context.skip_frame = "NONREF" if timing.index(packet.pts) < first else "DEFAULT"
            for frame in stream.decode(packet):
                decoded += 1
                if timing.index(frame.pts) >= first - 1:
                    return decoded
    return decoded


def run(args: argparse.Namespace) -> dict:
    """Every codec's row, the prepare-vs-direct figures and the random-access sweep.

    One function on purpose (97 lines): the three measurements interleave on the same
    encoded files in one run, so their ratios share the machine's state.
    """
    import cv2

    from imrkit.bench.loader import synthetic_frames
    from imrkit.codec.reader import probe, read_clip
    from imrkit.codec.transcoding import TranscodeConfig, transcode

    cv2.setNumThreads(1)
    width, height = args.size
    frames = list(synthetic_frames(args.frames, width, height))
    print(f"[bench codecs] encoding into {args.cache} (once)", file=sys.stderr)
    tag = f"{width}x{height}_{args.frames}"
    videos = {
        name: encode_video(args.cache / f"{name}_{tag}.{encoding.container}", frames, name)
        for name, encoding in CODECS.items()
    }
    repeats = args.repeats
    per_frame = 1000 / CLIP_FRAMES
    result: dict = {"size": [width, height], "frames": args.frames, "codecs": {}}
    for name, path in videos.items():
        read_clip(path, 0, CLIP_GOPS)  # warm up: imports, page cache
        seconds = best_times(
            {
                "read_clip": lambda p=path: read_clip(p, 0, CLIP_GOPS),
                "pyav_rgb": lambda p=path: plain_decode(p, 0, False),
                "pyav_rgb_reused": lambda p=path: plain_decode(p, 0, True),
            },
            repeats,
        )
        clip_ms, plain_ms, reused_ms = (
            seconds[key] * per_frame for key in ("read_clip", "pyav_rgb", "pyav_rgb_reused")
        )
        result["codecs"][name] = {
            "bytes_per_frame": path.stat().st_size / args.frames,
            "read_clip_ms": clip_ms,
            "pyav_rgb_ms": plain_ms,
            "pyav_rgb_reused_ms": reused_ms,
            "read_clip_vs_pyav_rgb": clip_ms / plain_ms,
            "read_clip_vs_pyav_rgb_reused": clip_ms / reused_ms,
            "residual_energy_ratio": residual_ratio(path),
            "problems": probe(path).problems(),
        }

    # H.264 direct vs prepare (transcode) + read, per video.
    h264 = videos["h264"]
    prepared = args.cache / f"h264_prepared_{tag}.mp4"
    start = time.process_time()
    transcode(h264, prepared, TranscodeConfig(short_side=None))
    transcode_s = time.process_time() - start
    seconds = best_times(
        {
            "direct": lambda: read_clip(h264, 0, CLIP_GOPS),
            "prepared": lambda: read_clip(prepared, 0, CLIP_GOPS),
        },
        repeats,
    )
    direct_ms, prepared_ms = 1000 * seconds["direct"], 1000 * seconds["prepared"]
    result["prepare"] = {
        "transcode_s_per_video": transcode_s,
        "read_direct_ms_per_clip": direct_ms,
        "read_prepared_ms_per_clip": prepared_ms,
        "prepare_plus_one_clip_vs_direct": (transcode_s * 1000 + prepared_ms) / direct_ms,
    }

    # Random access in the H.264 file: every segment start a 5-GOP clip can have.
    # The floor: the reference frames before the latest start, decoded and nothing else.
    starts = list(range(0, args.frames // 12 - CLIP_GOPS + 1))
    latest = starts[-1] * 12
    methods = {gop: lambda g=gop: read_clip(h264, g, CLIP_GOPS) for gop in starts}
    methods["references"] = lambda: reference_decode(h264, latest)
    seconds = best_times(methods, repeats)
    costs = {
        gop: {"ms": 1000 * seconds[gop], "decoded": read_clip(h264, gop, CLIP_GOPS).num_decoded}
        for gop in starts
    }
    early = costs[0]["ms"]
    references_ms = 1000 * seconds["references"]
    result["random_access"] = {
        "keyframes": keyframes(h264),
        "per_start": costs,
        "late_vs_early_worst": max(c["ms"] for c in costs.values()) / early,
        "late_vs_early_mean": float(np.mean([c["ms"] for c in costs.values()])) / early,
        "worst_start": max(costs, key=lambda g: costs[g]["ms"]),
        "latest_start": starts[-1],
        "latest_vs_early": costs[starts[-1]]["ms"] / early,
        # What decoding alone adds before the latest start, whatever the reader does.
        "references_before_latest_ms": references_ms,
        "references_before_latest_decoded": reference_decode(h264, latest),
        "floor_latest_vs_early": (early + references_ms) / early,
    }
    result["targets"] = {
        "h264_read_clip_vs_plain_decode": result["codecs"]["h264"]["read_clip_vs_pyav_rgb"]
        <= TARGETS["h264_read_clip_vs_plain_decode"][1],
        "late_vs_early_clip": result["random_access"]["late_vs_early_worst"]
        <= TARGETS["late_vs_early_clip"][1],
    }
    return result


def format_report(result: dict) -> str:
    width, height = result["size"]
    lines = [
        f"# Codecs ({width}x{height}, {result['frames']} frames; ms per clip frame, CPU)",
        "",
        "| codec | bytes/frame | read_clip | pyav_rgb | pyav_rgb_reused | read_clip / pyav_rgb "
        "| / reused | residual / frame diff energy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in result["codecs"].items():
        lines.append(
            f"| {name} | {row['bytes_per_frame']:.0f} | {row['read_clip_ms']:.3f} | "
            f"{row['pyav_rgb_ms']:.3f} | {row['pyav_rgb_reused_ms']:.3f} | "
            f"{row['read_clip_vs_pyav_rgb']:.2f}x | {row['read_clip_vs_pyav_rgb_reused']:.2f}x | "
            f"{row['residual_energy_ratio']:.3f} |"
        )
    prep = result["prepare"]
    access = result["random_access"]
    lines += [
        "",
        f"H.264 per video: transcode (prepare) {prep['transcode_s_per_video']:.2f} s; one clip "
        f"direct {prep['read_direct_ms_per_clip']:.1f} ms, from the prepared file "
        f"{prep['read_prepared_ms_per_clip']:.1f} ms; prepare + one clip = "
        f"{prep['prepare_plus_one_clip_vs_direct']:.0f}x direct.",
        "",
        f"Random access (H.264, keyframes at {access['keyframes']}):",
        "",
        "| start GOP | ms per clip | frames decoded |",
        "|---:|---:|---:|",
    ]
    for gop, cost in access["per_start"].items():
        lines.append(f"| {gop} | {cost['ms']:.1f} | {cost['decoded']} |")
    lines += [
        "",
        f"late / early: worst {access['late_vs_early_worst']:.2f}x (start GOP "
        f"{access['worst_start']}), mean over starts {access['late_vs_early_mean']:.2f}x",
        f"latest start (GOP {access['latest_start']}): {access['latest_vs_early']:.2f}x; "
        f"decoding its {access['references_before_latest_decoded']} reference frames alone "
        f"takes {access['references_before_latest_ms']:.1f} ms, a floor of "
        f"{access['floor_latest_vs_early']:.2f}x for any exact one-thread reader",
        f"targets: {result['targets']}",
    ]
    return "\n".join(lines)
