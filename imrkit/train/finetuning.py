"""Supervised finetuning (SPEC section 4): ``finetune(config)``.

An IMRNet classifier is initialised from a pretrained backbone (``config.pretrained``: a
pretraining run or a saved model; pretext heads dropped, :func:`imrkit.models.load_backbone`)
or from scratch (empty ``pretrained``: the baseline, same budget), trained with
cross-entropy on the labelled training list (optionally a stratified fraction of it),
evaluated on the centre view every ``eval.every_epochs`` epochs, and tested at the end with
``eval.views`` crops per clip (averaged softmax). The final model is saved with
save_pretrained into ``run_dir/model``; the test report into ``run_dir/eval``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch.nn.functional as F

from imrkit.config import to_dict
from imrkit.data.dataset import build_dataset, make_loader
from imrkit.errors import ConfigError
from imrkit.evaluate.evaluation import evaluate_loader
from imrkit.runs import EVAL_DIR, MODEL_DIR, RunSummary, resolve_model_dir
from imrkit.train.config import FinetuneConfig
from imrkit.train.engine import Callback, TrainTask, create_accelerator, fit


def classification_loss(model, batch: dict):
    """Cross-entropy of the classifier on a batch, with the batch accuracy as a metric (a
    detached tensor, read only when logged)."""
    logits = model(batch["iframes"], batch["motion"], batch["residual"])
    loss = F.cross_entropy(logits, batch["label"])
    accuracy = (logits.detach().argmax(dim=-1) == batch["label"]).float().mean()
    return loss, {"train_acc": accuracy}


def _architecture(config) -> dict:
    """An IMRNetConfig as a dict, without what finetuning may change (the head)."""
    values = to_dict(config)
    for key in ("num_classes", "dropout"):
        values.pop(key, None)
    return values


def load_pretrained_backbone(model, source: str | Path, print_fn=print):
    """Fill ``model`` with the backbone saved at ``source`` and print what did not fit.

    Raises:
        ConfigError: the saved network is another architecture (other preset, widths or
            connections) than ``model``.
    """
    from imrkit.models import load_backbone
    from imrkit.models.io import read_config

    model_dir = resolve_model_dir(source)
    saved, own = _architecture(read_config(model_dir)), _architecture(model.config)
    if saved != own:
        differing = sorted(k for k in own if saved.get(k) != own[k])
        raise ConfigError(
            f"{model_dir}: the pretrained network differs from model "
            f"{differing} as configured; set model.* like the pretraining run"
        )
    report = load_backbone(model, model_dir)
    print_fn(f"pretrained backbone from {model_dir}: {report}")
    for label, keys in (
        ("missing (kept as initialised)", report.missing_keys),
        ("unexpected", report.unexpected_keys),
        ("shape-mismatched", report.mismatched_keys),
    ):
        if keys:
            more = f" ... ({len(keys) - 8} more)" if len(keys) > 8 else ""
            print_fn(f"  {label}: {', '.join(keys[:8])}{more}")
    return report


def _lone_last_clip(num_clips: int, batch_size: int, processes: int) -> bool:
    """Drop the last batch only when it would hold a single clip (batch norm needs two);
    with few labelled clips every one of them counts."""
    return num_clips % (batch_size * processes) == 1


def finetune(config: FinetuneConfig, *, callbacks: Sequence[Callback] = ()) -> RunSummary:
    """Finetune (or train from scratch) an IMRNet classifier; alone or under
    ``accelerate launch``. ``callbacks`` go to :func:`~imrkit.train.engine.fit`.

    Returns:
        A :class:`RunSummary` whose metrics hold the final epoch's loss and the test
        figures ``test_top1``, ``test_top5``, ``test_mean_class_accuracy``.
    """
    from accelerate.utils import set_seed

    from imrkit.models import build_model

    accelerator = create_accelerator(config.run, config.optim)
    set_seed(config.run.seed)
    data = config.data
    train_set = build_dataset(data, data.train_subset, mode="train")
    eval_set = build_dataset(data, data.eval_subset, mode="eval")
    class_names = train_set.class_names
    if not class_names or (train_set.split.labels < 0).any():
        raise ConfigError(
            f"{data.root}: finetuning needs labelled videos (data.format={data.format!r} gave none)"
        )
    model = build_model(config.model.name, len(class_names), **config.model.build_kwargs())
    if config.pretrained:
        load_pretrained_backbone(model, config.pretrained, accelerator.print)
    else:
        accelerator.print("training from scratch (no pretrained backbone)")
    workers, timeout = data.num_workers, data.timeout_s
    batch_size = config.optim.batch_size
    train_loader = make_loader(
        train_set,
        batch_size=batch_size,
        shuffle=True,
        seed=config.run.seed,
        num_workers=workers,
        timeout_s=timeout,
        drop_last=_lone_last_clip(len(train_set), batch_size, accelerator.num_processes),
    )
    eval_loader = make_loader(
        eval_set,
        batch_size=config.eval.batch_size,
        shuffle=False,
        num_workers=workers,
        timeout_s=timeout,
    )
    accelerator.print(
        f"finetuning {config.model.name} on {len(train_set)} labelled videos "
        f"({train_set.split.name}), {len(class_names)} classes; evaluating on "
        f"{len(eval_set)} ({eval_set.split.name})"
    )

    def centre_view_accuracy(prepared_model, loader, acc) -> dict[str, float]:
        result = evaluate_loader(prepared_model, loader, class_names, accelerator=acc)
        return {"top1": result.top1, "top5": result.top5}

    task = TrainTask(
        "finetune",
        model,
        train_loader,
        classification_loss,
        eval_loader,
        centre_view_accuracy,
        config.eval.every_epochs,
    )
    result = fit(accelerator, task, config.optim, config.run, to_dict(config), callbacks)
    run_dir = Path(config.run.out_dir)
    metrics = {k: v for k, v in result.metrics.items() if k != "kind"}
    if not result.interrupted:
        metrics.update(_final_test(accelerator, result.model, config, class_names, run_dir))
        if accelerator.is_main_process:
            result.model.save_pretrained(run_dir / MODEL_DIR)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return RunSummary.of(run_dir, metrics, result.interrupted)


def _final_test(accelerator, model, config: FinetuneConfig, class_names, run_dir: Path) -> dict:
    """The paper's test (``eval.views`` crops, averaged softmax) on every process, gathered."""
    import dataclasses

    data = config.data
    views_config = dataclasses.replace(
        data, transform=dataclasses.replace(data.transform, num_test_crops=config.eval.views)
    )
    test_set = build_dataset(views_config, data.eval_subset, mode="test")
    loader = accelerator.prepare(
        make_loader(
            test_set,
            batch_size=config.eval.batch_size,
            shuffle=False,
            num_workers=data.num_workers,
            timeout_s=data.timeout_s,
        )
    )
    result = evaluate_loader(
        model, loader, class_names, accelerator=accelerator, views=config.eval.views
    )
    if accelerator.is_main_process:
        result.save(run_dir / EVAL_DIR)
    accelerator.print(
        f"test ({config.eval.views} views, {len(result.labels)} clips): top-1 "
        f"{100 * result.top1:.1f}%, top-5 {100 * result.top5:.1f}%"
    )
    scores = {f"test_{k}": v for k, v in result.metrics().items()}
    accelerator.log(scores)
    return scores
