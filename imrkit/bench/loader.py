"""``imrkit bench loader``: what reading a compressed clip costs, against its alternatives.

In one run, on the same files and the same 60 frames (5 GOPs), single-threaded:

- ``pyav_rgb``: plain PyAV, seek + decode + ``frame.to_ndarray(format="rgb24")`` per frame
  (the baseline a frame-based loader pays); ``pyav_rgb_reused``: the same with one reused
  ``VideoReformatter`` (the fastest plain decode we know);
- ``read_clip`` (per-frame motion/residual) and ``read_clip_accumulate`` (CoViAR's);
- ``farneback`` / ``dis``: decode to grey plus OpenCV optical flow between each consecutive
  pair of those frames (what a flow-based loader computes instead of motion vectors).

Files: the sample dataset (``--data DIR``, else one built with
:func:`imrkit.data.sample.make_sample` in the cache, else a generated 160x128 video) and a
generated 340x256 MPEG-4 video of ``--long-minutes`` (10 by default, 18000 frames, cached
under ``~/.cache/imrkit/bench``), read at its start and at its end (random access). Storage:
that video vs its frames as JPEG (quality 95, ``cv2.imencode``) vs raw RGB.

Timings are CPU times, the best of ``--repeats`` runs with the methods interleaved (the
machine may be shared); ratios compare methods of the same run. Threads: OpenCV and PyTorch
are set to one thread and the decoder runs single-threaded, so the figures are per core.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

CLIP_GOPS = 5
CLIP_FRAMES = CLIP_GOPS * 12
LONG_SIZE = (340, 256)  # CoViAR's frame size (width, height)
JPEG_SAMPLE_FRAMES = 300  # storage is measured on the first frames, reported per frame
# What the reader must achieve on the 340x256 video: name -> (comparison, bound).
TARGETS = {
    "read_clip_vs_plain_decode": ("<=", 1.3),  # at most this many times plain PyAV to RGB
    "farneback_vs_read_clip": (">=", 20.0),  # Farneback at least this many times slower
    "end_vs_start_of_long_video": ("<=", 1.2),  # a clip at the end at most this much dearer
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="a prepared dataset folder (default: a sample dataset in the cache)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path("~/.cache/imrkit/bench").expanduser(),
        help="where generated benchmark videos are kept (default %(default)s)",
    )
    parser.add_argument(
        "--long-minutes",
        type=float,
        default=10.0,
        help="length of the generated 340x256 video (default %(default)s)",
    )
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per method")
    parser.add_argument(
        "--flow-repeats", type=int, default=2, help="timed runs of the (slow) optical flow methods"
    )
    parser.add_argument(
        "--sample-videos",
        type=int,
        default=8,
        help="videos of the dataset to read (default %(default)s)",
    )


# --------------------------------------------------------------------------- test videos


def synthetic_frames(
    num_frames: int, width: int, height: int, seed: int = 0
) -> Iterator[np.ndarray]:
    """A camera panning over a textured scene with two moving textured objects (RGB).

    Smooth colour with fine luma detail, speeds up to ~3 px/frame: content the encoder's
    motion search handles as it would a real video, cheap enough for 18000 frames.
    """
    import cv2

    rng = np.random.default_rng(seed)
    scene_h, scene_w = 2 * height, 3 * width

    def texture(h, w):
        blobs = cv2.resize(
            rng.uniform(0, 255, (h // 24 + 2, w // 24 + 2, 3)).astype(np.uint8),
            (w, h),
            interpolation=cv2.INTER_CUBIC,
        ).astype(np.int16)
        grain = cv2.GaussianBlur(rng.integers(-40, 40, (h, w), dtype=np.int16), (3, 3), 0)
        return np.clip(blobs + grain[..., None], 0, 255).astype(np.uint8)

    scene = texture(scene_h, scene_w)
    objects = [texture(56, 56), texture(40, 72)]
    for t in range(num_frames):
        x = int(round(width * (1 + 0.9 * np.sin(2 * np.pi * t / 600))))
        y = int(round(height / 2 * (1 + 0.9 * np.sin(2 * np.pi * t / 900))))
        frame = scene[y : y + height, x : x + width].copy()
        for number, sprite in enumerate(objects):
            h, w = sprite.shape[:2]
            phase = 2 * np.pi * t / (170 + 60 * number)
            top = int((height - h) * (0.5 + 0.45 * np.sin(phase * 1.3 + number)))
            left = int((width - w) * (0.5 + 0.45 * np.cos(phase)))
            frame[top : top + h, left : left + w] = sprite
        yield frame


def cached_video(cache: Path, name: str, num_frames: int, width: int, height: int) -> Path:
    """A generated MPEG-4 video, encoded once and kept in ``cache``."""
    from imrkit.codec.encode import encode_frames

    path = cache / name
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        print(
            f"[bench loader] generating {path} ({num_frames} frames, {width}x{height}); "
            "done once, then cached",
            file=sys.stderr,
        )
        partial = path.with_suffix(".part" + path.suffix)
        encode_frames(
            synthetic_frames(num_frames, width, height),
            partial,
            container_format=path.suffix.lstrip("."),
        )
        partial.rename(path)
    return path


def dataset_videos(args: argparse.Namespace) -> tuple[str, list[Path]]:
    """The dataset's videos to time: ``--data``, else a cached sample, else a generated one."""
    if args.data is not None:
        root = args.data
        source = f"dataset {root}"
    else:
        root = args.cache / "sample"
        try:
            from imrkit.data.sample import SampleConfig, make_sample
        except ImportError:
            return "generated 160x128 video", [
                cached_video(args.cache, "short_160x128.avi", 7 * 12, 160, 128)
            ]
        if not (root / "classInd.txt").exists():
            make_sample(root, SampleConfig(videos_per_class=2, workers=1))
        source = "sample dataset (imrkit make-sample defaults, 2 videos per class)"
    videos = sorted(p for p in root.rglob("*") if p.suffix in (".avi", ".mp4"))
    if not videos:
        raise SystemExit(f"{root}: no .avi/.mp4 videos found")
    return source, videos[: args.sample_videos]


# --------------------------------------------------------------------------- the methods


def _open_at(path: Path, start_gop: int):
    """A single-threaded container positioned on ``start_gop``'s I-frame, and its stream."""
    import av

    from imrkit.codec.container import StreamTiming

    container = av.open(str(path))
    stream = container.streams.video[0]
    stream.codec_context.thread_count = 1
    if start_gop:
        container.seek(
            StreamTiming.of(stream).pts(start_gop * 12),
            backward=True,
            any_frame=False,
            stream=stream,
        )
    return container, stream


def plain_decode(path: Path, start_gop: int, reuse_reformatter: bool = False) -> list:
    """The clip's 60 frames as RGB arrays with nothing but PyAV: seek to the keyframe at or
    before the clip, decode, drop the frames before it (none with 12-frame GOPs), convert."""
    from av.video.reformatter import VideoReformatter

    from imrkit.codec.container import StreamTiming

    first = start_gop * 12
    reformatter = VideoReformatter() if reuse_reformatter else None
    frames = []
    container, stream = _open_at(path, start_gop)
    with container:
        timing = StreamTiming.of(stream)
        for frame in container.decode(stream):
            if timing.index(frame.pts) < first:
                continue
            if reformatter is None:
                frames.append(frame.to_ndarray(format="rgb24"))
            else:
                frames.append(reformatter.reformat(frame, format="rgb24").to_ndarray())
            if len(frames) == CLIP_FRAMES:
                break
    return frames


def optical_flow(path: Path, start_gop: int, method: str) -> list:
    """Decode the clip's frames to grey and compute flow between consecutive frames."""
    import cv2

    if method == "farneback":

        def flow(previous, current):
            return cv2.calcOpticalFlowFarneback(previous, current, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    else:
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)

        def flow(previous, current):
            return dis.calc(previous, current, None)

    flows, previous = [], None
    container, stream = _open_at(path, start_gop)
    with container:
        for count, frame in enumerate(container.decode(stream)):
            # Rows of a 340-wide grey plane are padded: flow wants contiguous images.
            grey = np.ascontiguousarray(frame.to_ndarray(format="gray"))
            if previous is not None:
                flows.append(flow(previous, grey))
            previous = grey
            if count + 1 == CLIP_FRAMES:
                break
    return flows


def best_times(
    methods: dict[str, Callable[[], object]],
    repeats: dict[str, int],
    clock: Callable[[], float] = time.process_time,
) -> dict[str, float]:
    """Best time (s) of each method, runs interleaved so load hits all alike.

    CPU time (``time.process_time``) by default rather than wall time: everything runs on
    one thread, so it is the cost on one core, and it does not count the time spent waiting
    for a core while other jobs share the machine. Pass ``clock=time.perf_counter`` where
    the CPU clock cannot be trusted (some KVM guests count single-threaded work up to 2x).
    """
    best = {name: float("inf") for name in methods}
    for run in range(max(repeats.values())):
        for name, method in methods.items():
            if run < repeats[name]:
                start = clock()
                method()
                best[name] = min(best[name], clock() - start)
    return best


def time_methods(videos: list[Path], start_gops: list[int], args) -> dict[str, float]:
    """ms per clip frame of every method over ``videos`` (clip at ``start_gops``)."""
    from imrkit.codec.reader import read_clip

    pairs = list(zip(videos, start_gops, strict=True))

    def each(function, **kwargs):
        return lambda: [function(path, gop, **kwargs) for path, gop in pairs]

    methods = {
        "pyav_rgb": each(plain_decode),
        "pyav_rgb_reused": each(plain_decode, reuse_reformatter=True),
        "read_clip": lambda: [read_clip(path, gop, CLIP_GOPS) for path, gop in pairs],
        "read_clip_accumulate": lambda: [
            read_clip(path, gop, CLIP_GOPS, accumulate=True) for path, gop in pairs
        ],
        "farneback": each(optical_flow, method="farneback"),
        "dis": each(optical_flow, method="dis"),
    }
    for method in methods.values():  # warm up: imports, caches, the page cache
        if method is not methods["farneback"]:
            method()
    repeats = {
        name: args.flow_repeats if name in ("farneback", "dis") else args.repeats
        for name in methods
    }
    seconds = best_times(methods, repeats)
    frames = CLIP_FRAMES * len(pairs)
    return {name: 1000 * value / frames for name, value in seconds.items()}


def storage(path: Path, num_frames: int) -> dict[str, float]:
    """Bytes per frame: the MPEG-4 stream, JPEG q95 frames, raw RGB (on the first frames)."""
    from imrkit.codec.inspect import storage_sizes

    count = min(num_frames, JPEG_SAMPLE_FRAMES)
    sizes = storage_sizes(path, max_frames=count, jpeg_quality=95)
    return {
        "mpeg4": sizes["MPEG-4"] / count,
        "jpeg95": sizes["JPEG frames"] / count,
        "raw_rgb": sizes["raw RGB"] / count,
    }


# --------------------------------------------------------------------------- run / report


def _single_thread() -> None:
    import cv2

    cv2.setNumThreads(1)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def run(args: argparse.Namespace) -> dict:
    from imrkit.codec.reader import probe

    _single_thread()
    source, videos = dataset_videos(args)
    width, height = LONG_SIZE
    long_frames = max(CLIP_FRAMES, int(round(args.long_minutes * 60 * 30)))
    long_name = f"long_{width}x{height}_{long_frames}f.mp4"
    long_video = cached_video(args.cache, long_name, long_frames, width, height)
    info = probe(long_video)
    last_start = info.usable_gops() - CLIP_GOPS

    sample = time_methods(videos, [0] * len(videos), args)
    long_start = time_methods([long_video], [0], args)
    # Random access: start vs end of the long video, both with read_clip only.
    from imrkit.codec.reader import read_clip

    access = best_times(
        {
            "start": lambda: read_clip(long_video, 0, CLIP_GOPS),
            "end": lambda: read_clip(long_video, last_start, CLIP_GOPS),
        },
        {"start": args.repeats, "end": args.repeats},
    )
    end_clip = read_clip(long_video, last_start, CLIP_GOPS)
    sample_info = probe(videos[0])

    def ratios(ms):
        return {
            "read_clip_vs_pyav_rgb": ms["read_clip"] / ms["pyav_rgb"],
            "read_clip_vs_pyav_rgb_reused": ms["read_clip"] / ms["pyav_rgb_reused"],
            "farneback_vs_read_clip": ms["farneback"] / ms["read_clip"],
            "dis_vs_read_clip": ms["dis"] / ms["read_clip"],
        }

    result = {
        "settings": {
            "threads": 1,
            "repeats": args.repeats,
            "flow_repeats": args.flow_repeats,
            "clip_frames": CLIP_FRAMES,
        },
        "sample": {
            "source": source,
            "videos": len(videos),
            "size": f"{sample_info.width}x{sample_info.height}",
            "ms_per_frame": sample,
            "ratios": ratios(sample),
        },
        "long": {
            "path": str(long_video),
            "size": f"{width}x{height}",
            "frames": info.num_frames,
            "minutes": info.num_frames / info.fps / 60,
            "ms_per_frame": long_start,
            "ratios": ratios(long_start),
        },
        "random_access": {
            "start_gop": 0,
            "end_gop": last_start,
            "start_ms": 1000 * access["start"],
            "end_ms": 1000 * access["end"],
            "end_vs_start": access["end"] / access["start"],
            "frames_decoded_at_end": end_clip.num_decoded,
        },
        "storage_bytes_per_frame": storage(long_video, info.num_frames),
    }
    from imrkit.bench.commands import machine_info

    result["machine"] = {**machine_info(), "threads": 1}  # what this benchmark used
    result["targets"] = check_targets(result)
    return result


def check_targets(result: dict) -> dict[str, bool]:
    """Whether each of :data:`TARGETS` is met, by a name that states the target."""
    ratios = result["long"]["ratios"]
    measured = {
        "read_clip_vs_plain_decode": [
            ("vs pyav_rgb, 340x256", ratios["read_clip_vs_pyav_rgb"]),
            ("vs pyav_rgb_reused, 340x256", ratios["read_clip_vs_pyav_rgb_reused"]),
        ],
        "farneback_vs_read_clip": [("340x256", ratios["farneback_vs_read_clip"])],
        "end_vs_start_of_long_video": [(None, result["random_access"]["end_vs_start"])],
    }
    met = {}
    for name, (comparison, bound) in TARGETS.items():
        for where, value in measured[name]:
            label = f"{name} ({comparison} {bound:g}{', ' + where if where else ''})"
            met[label] = value <= bound if comparison == "<=" else value >= bound
    return met


def format_report(result: dict) -> str:
    lines = ["Loader benchmark (one thread; CPU time, best of repeated interleaved runs)", ""]
    header = f"  {'method':22s} {'ms/frame':>9s}"
    for key in ("sample", "long"):
        part = result[key]
        title = part.get("source", part.get("path"))
        lines += [f"{key}: {title} ({part['size']})", header]
        for name, value in part["ms_per_frame"].items():
            lines.append(f"  {name:22s} {value:9.3f}")
        lines += [f"  {name}: {value:.2f}x" for name, value in part["ratios"].items()] + [""]
    access = result["random_access"]
    lines += [
        f"random access on {result['long']['minutes']:.1f} min: clip at GOP 0 "
        f"{access['start_ms']:.1f} ms, at GOP {access['end_gop']} {access['end_ms']:.1f} "
        f"ms ({access['end_vs_start']:.2f}x; {access['frames_decoded_at_end']} frames "
        "decoded)",
        "",
    ]
    store = result["storage_bytes_per_frame"]
    lines += [
        "storage per 340x256 frame: "
        + ", ".join(
            f"{name} {value / 1024:.1f} KiB ({store['raw_rgb'] / value:.0f}x smaller than raw)"
            for name, value in store.items()
        ),
        "",
    ]
    lines += ["targets:"] + [
        f"  {'met ' if ok else 'MISSED'} {name}" for name, ok in result["targets"].items()
    ]
    if "machine" in result:
        lines.append(f"machine: {result['machine']}")
    return "\n".join(lines)
