"""Data subcommands: ``imrkit make-sample``, ``imrkit prepare``, ``imrkit transcode``.

Heavy modules (PyAV, OpenCV) are imported inside the handlers so that ``imrkit --help``
stays fast.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from imrkit.errors import ConfigError


def _size(text: str) -> tuple[int, int]:
    """Parse ``WIDTHxHEIGHT`` (e.g. ``340x256``)."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    return width, height


def _add_transcode_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output video (MPEG-4 Part 2, GOP 12, no B-frames)")
    sizes = group.add_mutually_exclusive_group()
    sizes.add_argument(
        "--short-side",
        type=int,
        default=256,
        metavar="PIXELS",
        help="resize so the shorter side is PIXELS, keeping the aspect (default 256, the paper's)",
    )
    sizes.add_argument(
        "--size",
        type=_size,
        default=None,
        metavar="WxH",
        help="fixed output size instead, e.g. 340x256 (CoViAR's)",
    )
    sizes.add_argument("--keep-size", action="store_true", help="do not resize")
    group.add_argument(
        "--quantizer",
        type=int,
        default=None,
        metavar="Q",
        help="fixed quantiser 2 (best) .. 31 (default: EncodeConfig's)",
    )
    group.add_argument(
        "--fps",
        type=int,
        default=None,
        help="frame rate written to the output (default: the source's)",
    )


def _transcode_config(args: argparse.Namespace):
    from imrkit.codec.encode import EncodeConfig
    from imrkit.codec.transcoding import TranscodeConfig

    encode = EncodeConfig()
    if args.quantizer is not None:
        if not 1 <= args.quantizer <= 31:
            raise ConfigError(f"--quantizer must be in 1..31, got {args.quantizer}")
        encode = replace(encode, quantizer=args.quantizer)
    short_side = None if args.keep_size or args.size else args.short_side
    return TranscodeConfig(short_side=short_side, size=args.size, fps=args.fps, encode=encode)


def _make_sample(args: argparse.Namespace) -> int:
    from imrkit.data.sample import SampleConfig, make_sample

    config = SampleConfig()
    overrides = {
        "num_classes": args.classes,
        "videos_per_class": args.videos_per_class,
        "unlabeled_videos": args.unlabeled_videos,
        "test_fraction": args.test_fraction,
        "num_gops": args.num_gops,
        "seed": args.seed,
        "workers": args.workers,
        "extension": None if args.ext is None else f".{args.ext}",
    }
    if args.size is not None:
        overrides["width"], overrides["height"] = args.size
    config = replace(
        config, **{key: value for key, value in overrides.items() if value is not None}
    )
    start = time.perf_counter()
    root = make_sample(args.dst, config, progress=not args.quiet)
    seconds = time.perf_counter() - start
    num_test = config.num_classes * config.num_test_per_class
    num_train = config.num_classes * config.videos_per_class - num_test
    print(
        f"sample dataset: {config.num_classes} classes x {config.videos_per_class} videos "
        f"({num_train} train, {num_test} test) + {config.num_unlabeled} unlabeled in "
        f"{root / 'unlabeled'} ({config.num_gops} GOPs, {config.width}x{config.height}) "
        f"in {root} [{seconds:.1f} s]"
    )
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from imrkit.data.prepare import Shard, prepare_dataset

    report = prepare_dataset(
        args.src,
        args.dst,
        workers=args.workers,
        config=_transcode_config(args),
        extension=f".{args.ext}",
        overwrite=args.overwrite,
        progress=not args.quiet,
        only_needed=args.only_needed,
        shard=Shard.parse(args.shard) if args.shard else None,
    )
    print(report.summary())
    return 0 if report.ok else 1


def _transcode(args: argparse.Namespace) -> int:
    from imrkit.codec.transcoding import transcode

    path = transcode(args.src, args.dst, _transcode_config(args))
    print(f"wrote {path}")
    return 0


def register(subparsers) -> None:
    """Add the data subcommands to the ``imrkit`` parser (a flat list of argparse calls,
    one block per subcommand: longer than 80 lines and simplest read as one)."""
    sample = subparsers.add_parser(
        "make-sample",
        help="generate the embedded sample dataset (UCF-101 layout)",
        description="Generate a procedural human-action dataset (a stick-figure actor over a "
        "panning background; 10 classes told apart only by motion), deterministic from "
        "--seed: labelled splits laid out like UCF-101, plus an unlabeled pretraining pool "
        "in DST/unlabeled (read it with format 'unlabeled').",
    )
    sample.add_argument("dst", help="output folder")
    sample.add_argument("--classes", type=int, default=None, help="number of classes (2..10)")
    sample.add_argument(
        "--videos-per-class", type=int, default=None, help="labelled videos per class (50)"
    )
    sample.add_argument(
        "--test-fraction", type=float, default=None, help="share of them in the test list (0.4)"
    )
    sample.add_argument(
        "--unlabeled-videos",
        type=int,
        default=None,
        help="videos of the unlabeled pool (default: twice the labelled ones; 0: none)",
    )
    sample.add_argument("--num-gops", type=int, default=None, help="12-frame GOPs per video")
    sample.add_argument(
        "--size",
        type=_size,
        default=None,
        metavar="WxH",
        help="frame size, multiples of 32 (default 64x64)",
    )
    sample.add_argument("--seed", type=int, default=None)
    sample.add_argument("--workers", type=int, default=None, help="processes (0: all CPUs)")
    sample.add_argument("--ext", choices=("avi", "mp4"), default=None)
    sample.add_argument("--quiet", action="store_true", help="no progress bar")
    sample.set_defaults(func=_make_sample)

    prepare = subparsers.add_parser(
        "prepare",
        help="re-encode a dataset folder to MPEG-4 Part 2 (parallel, resumable)",
        description="Transcode every video under SRC_DIR into DST_DIR keeping relative paths, "
        "copy split/annotation files, skip finished outputs, and list failures "
        "(also in DST_DIR/prepare_failures.txt; exit status 1 if any).",
    )
    prepare.add_argument("src", metavar="SRC_DIR")
    prepare.add_argument("dst", metavar="DST_DIR")
    prepare.add_argument("--workers", type=int, default=0, help="processes (0: all CPUs)")
    prepare.add_argument(
        "--ext",
        choices=("avi", "mp4"),
        default="avi",
        help="output extension for every video (default avi)",
    )
    prepare.add_argument(
        "--overwrite", action="store_true", help="transcode again even where an output exists"
    )
    prepare.add_argument("--quiet", action="store_true", help="no progress bar")
    prepare.add_argument(
        "--only-needed",
        action="store_true",
        help="transcode only videos read_clip cannot read directly (HEVC, VP9, AV1, ...); "
        "hard-link the others",
    )
    prepare.add_argument(
        "--shard",
        metavar="I/N",
        help="prepare only shard I of N (0-based; e.g. --shard $SLURM_ARRAY_TASK_ID/8 in a "
        "SLURM array of 8): disjoint parts whose union is the whole dataset, each resumable, "
        "failures in DST_DIR/prepare_failures.shardIofN.txt",
    )
    _add_transcode_options(prepare)
    prepare.set_defaults(func=_prepare)

    transcode = subparsers.add_parser(
        "transcode", help="re-encode one video to MPEG-4 Part 2 (GOP 12, no B-frames)"
    )
    transcode.add_argument("src", metavar="SRC")
    transcode.add_argument("dst", metavar="DST", help="output .avi, .mp4 or .mkv")
    _add_transcode_options(transcode)
    transcode.set_defaults(func=_transcode)
