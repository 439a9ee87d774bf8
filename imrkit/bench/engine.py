"""``imrkit bench engine``: each phase of a suite's jobs inside a real run, beside a bare
loop of the same step on tensors already in memory (issue 21, part 2).

Phases: the finetuning step, the pretraining step (PMSP+CTP), the 3-crop test and the
frozen embedding. *Real* is the kit's own code path (``finetune``/``pretrain`` through
:func:`imrkit.train.engine.fit`, with its cached dataset, DataLoader, accelerate, logging
and checkpoints, timed from its metrics.csv on the second epoch, when the decoded videos
are cached; ``evaluate_loader``; ``compute_embeddings``). *Bare* runs the same module,
optimizer, batch size, thread count and memory format on the real batches collected in a
list beforehand: what the model alone costs. ``real / bare`` is the engine's efficiency
(target >= 85%); GFLOP/s come from the counted MACs (:func:`imrkit.models.model_stats`,
x2 for FLOPs, x3 for a forward and backward pass, x2 again for PMSP+CTP's two passes).

    imrkit bench engine --data data/sample --clips 96
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default="data/sample", help="the sample dataset folder")
    parser.add_argument("--clips", type=int, default=96, help="training clips per phase")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (a suite run's)")
    parser.add_argument("--contiguous", action="store_true", help="train without channels_last_3d")


def _suite_configs(args):
    from imrkit.config import load_config
    from imrkit.experiment.suite import (
        SCRATCH,
        Arm,
        ExperimentConfig,
        finetune_config,
        pretrain_config,
    )

    config = load_config(ExperimentConfig, "experiment_sample", {"data_root": args.data})
    out = Path(tempfile.mkdtemp(prefix="imrkit-bench-engine-"))

    def adjust(run_config, name, max_videos):
        run_config.optim = dataclasses.replace(run_config.optim, epochs=2, warmup_epochs=0.0)
        run_config.data = dataclasses.replace(run_config.data, max_videos=max_videos)
        run_config.run = dataclasses.replace(
            run_config.run,
            out_dir=str(out / name),
            threads=args.threads,
            channels_last=not args.contiguous,
        )
        return run_config

    # max_videos caps each subset before the labelled fraction (half) is drawn
    finetune = adjust(finetune_config(config, SCRATCH, 0, None), "finetune", 2 * args.clips)
    pretrain = adjust(
        pretrain_config(config, Arm("pmsp+ctp", "pmsp+ctp"), 0), "pretrain", args.clips
    )
    return finetune, pretrain


def _real_epoch(run_dir: str) -> tuple[float, int]:
    """Seconds of the run's second epoch (caches warm) and its step count."""
    from imrkit.train.metrics_log import read_history

    rows = read_history(run_dir, kind="epoch")
    return float(rows[-1]["epoch_time_s"]), int(rows[-1]["step"] - rows[-2]["step"])


def _collect(dataset, batch_size: int, channels_last: bool, shuffle: bool = False) -> list:
    from imrkit.data.dataset import make_loader
    from imrkit.transforms.compact import model_inputs

    loader = make_loader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=0)
    return [model_inputs(b, channels_last=channels_last) for b in loader if "iframes" in b]


def _bare_train(module, loss_of, batches, config) -> float:
    """Clips/s of forward, backward and SGD step over ``batches`` (one warm-up batch)."""
    import torch

    from imrkit.train.schedule import build_optimizer

    if config.run.channels_last:
        module.to(memory_format=torch.channels_last_3d)
    optimizer = build_optimizer(module.parameters(), config.optim.lr, config.optim.momentum)
    module.train()

    def step(batch):
        loss = loss_of(module, batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step(batches[0])
    started = time.perf_counter()
    for batch in batches:
        step(batch)
    return sum(len(b["iframes"]) for b in batches) / (time.perf_counter() - started)


def _bare_forward(forward, batches) -> float:
    import torch

    with torch.no_grad():
        forward(batches[0])
        started = time.perf_counter()
        for batch in batches:
            forward(batch)
    return sum(len(b["iframes"]) for b in batches) / (time.perf_counter() - started)


def _gflops_per_clip(config, size: int) -> float:
    from imrkit.models import model_stats

    stats = model_stats(config.model.name, size=size, **config.model.build_kwargs())
    frames = 5 * config.data.num_gops
    return 2 * stats["gmacs_per_frame"]["total"] * frames


def _phase(real: float, bare: float, gflops: float) -> dict:
    return {
        "real_clips_per_s": real,
        "bare_clips_per_s": bare,
        "efficiency": real / bare,
        "real_gflops_per_s": real * gflops,
        "bare_gflops_per_s": bare * gflops,
    }


def _finetune_phases(config, results: dict) -> None:
    from imrkit.data.dataset import build_dataset, make_loader
    from imrkit.evaluate.evaluation import evaluate_loader
    from imrkit.evaluate.retrieval import compute_embeddings
    from imrkit.models import load_model
    from imrkit.train.finetuning import finetune

    finetune(config)
    seconds, steps = _real_epoch(config.run.out_dir)
    clips = steps * config.optim.batch_size
    train = build_dataset(config.data, config.data.train_subset, mode="train")
    batches = _collect(train, config.optim.batch_size, config.run.channels_last, shuffle=True)
    bare = _bare_finetune_step(config, train, batches)
    size = config.data.transform.crop_size
    forward = _gflops_per_clip(config, size)
    results["finetune step"] = _phase(clips / seconds, bare, 3 * forward)

    trained = load_model(Path(config.run.out_dir) / "model").eval()
    views = dataclasses.replace(config.data.transform, num_test_crops=config.eval.views)
    test = build_dataset(dataclasses.replace(config.data, transform=views), "test", mode="test")
    loader = make_loader(test, batch_size=config.eval.batch_size, shuffle=False, num_workers=0)
    evaluate_loader(trained, loader, test.class_names, views=config.eval.views)  # warm cache
    started = time.perf_counter()
    evaluate_loader(trained, loader, test.class_names, views=config.eval.views)
    real = config.eval.views * len(test) / (time.perf_counter() - started)
    batches = _collect(test, config.eval.batch_size, False)
    bare = _bare_forward(
        lambda b: (
            trained(
                b["iframes"].flatten(0, 1), b["motion"].flatten(0, 1), b["residual"].flatten(0, 1)
            )
            if b["iframes"].dim() == 6
            else trained(b["iframes"], b["motion"], b["residual"])
        ),
        batches,
    )
    views_per_batch = config.eval.views if batches[0]["iframes"].dim() == 6 else 1
    results["3-crop test"] = _phase(real, bare * views_per_batch, forward)

    frozen = build_dataset(config.data, "test", mode="eval")
    compute_embeddings(trained, frozen, batch_size=8)  # warm cache
    started = time.perf_counter()
    compute_embeddings(trained, frozen, batch_size=8)
    real = len(frozen) / (time.perf_counter() - started)
    batches = _collect(frozen, 8, False)
    bare = _bare_forward(lambda b: trained.embed(b["iframes"], b["motion"], b["residual"]), batches)
    results["frozen embedding"] = _phase(real, bare, forward)


def memory_format_lever(config, rounds: int = 2) -> dict:
    """The bare finetuning step with contiguous against ``channels_last_3d`` memory, the
    two interleaved ``rounds`` times on the same batches and initial weights (best of the
    rounds): the lever behind ``RunConfig.channels_last``."""
    from imrkit.data.dataset import build_dataset

    train = build_dataset(config.data, config.data.train_subset, mode="train")
    variants = {}
    for name, channels_last in (("contiguous", False), ("channels_last_3d", True)):
        run = dataclasses.replace(config.run, channels_last=channels_last)
        # collected once per format: every round times the same batches
        batches = _collect(train, config.optim.batch_size, channels_last)
        variants[name] = (dataclasses.replace(config, run=run), batches)
    best = dict.fromkeys(variants, 0.0)
    for _ in range(rounds):
        for name, (variant, batches) in variants.items():
            best[name] = max(best[name], _bare_finetune_step(variant, train, batches))
    return {**best, "speed-up": best["channels_last_3d"] / best["contiguous"]}


def _bare_finetune_step(config, train, batches) -> float:
    """Clips/s of the classifier's bare training step, from the same initial weights."""
    import torch

    from imrkit.models import build_model
    from imrkit.train.finetuning import classification_loss

    torch.manual_seed(0)
    model = build_model(config.model.name, len(train.class_names), **config.model.build_kwargs())
    return _bare_train(model, lambda m, b: classification_loss(m, b)[0], batches, config)


def _pretrain_phase(config, results: dict) -> None:
    import torch

    from imrkit.data.dataset import build_dataset
    from imrkit.train.pretraining import (
        build_pretext_model,
        needs_pmsp_labels,
        pretext_loss,
        pretrain,
    )

    pretrain(config)
    seconds, steps = _real_epoch(config.run.out_dir)
    clips = steps * config.optim.batch_size
    pool = build_dataset(
        config.data,
        config.data.train_subset,
        mode="train",
        labelled=False,
        pmsp=needs_pmsp_labels(config.pretext.name),
    )
    batches = _collect(pool, config.optim.batch_size, config.run.channels_last, shuffle=True)
    torch.manual_seed(0)
    pretext = build_pretext_model(config)
    bare = _bare_train(pretext, lambda m, b: pretext_loss(m, b)[0], batches, config)
    forward = _gflops_per_clip(config, config.data.transform.crop_size)
    results["pretrain step (pmsp+ctp)"] = _phase(clips / seconds, bare, 2 * 3 * forward)


def run(args: argparse.Namespace) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    finetune, pretrain = _suite_configs(args)
    phases: dict[str, dict] = {}
    _finetune_phases(finetune, phases)
    _pretrain_phase(pretrain, phases)
    return {
        "phases": phases,
        "memory_format": memory_format_lever(finetune),
        "threads": args.threads,
        "channels_last": not args.contiguous,
        "clips": args.clips,
    }


def format_report(result: dict) -> str:
    lines = [
        f"engine vs bare loop ({result['threads']} thread(s), "
        f"channels_last_3d {'on' if result['channels_last'] else 'off'})",
        f"{'phase':<26s} {'real clips/s':>12s} {'bare clips/s':>12s} {'real/bare':>9s} "
        f"{'real GFLOP/s':>12s} {'bare GFLOP/s':>12s}",
    ]
    for name, p in result["phases"].items():
        lines.append(
            f"{name:<26s} {p['real_clips_per_s']:12.2f} {p['bare_clips_per_s']:12.2f} "
            f"{100 * p['efficiency']:8.0f}% {p['real_gflops_per_s']:12.2f} "
            f"{p['bare_gflops_per_s']:12.2f}"
        )
    lever = result.get("memory_format")
    if lever:
        lines.append(
            f"bare finetuning step: contiguous {lever['contiguous']:.2f} clips/s, "
            f"channels_last_3d {lever['channels_last_3d']:.2f} clips/s "
            f"(x{lever['speed-up']:.2f})"
        )
    return "\n".join(lines)
