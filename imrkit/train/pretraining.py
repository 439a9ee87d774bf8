"""Self-supervised pretraining (SPEC sections 3 and 4): ``pretrain(config)``.

The pretext module (:func:`imrkit.build_pretext`: PMSP, CTP, both, or a baseline) wraps an
IMRNet backbone and returns its loss; the dataset reads the training subset *unlabeled*
and attaches PMSP labels computed after augmentation when the pretext needs them.
Everything else (accelerate, schedule, checkpoints, resume) is :func:`engine.fit`.

    from imrkit.config import load_config
    from imrkit.train import PretrainConfig, pretrain
    summary = pretrain(load_config(PretrainConfig, "imrkit/configs/pretrain_sample.toml"))
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from imrkit.config import to_dict
from imrkit.data.dataset import build_dataset, make_loader
from imrkit.runs import MODEL_DIR, PRETEXT_WEIGHTS, RunSummary
from imrkit.train.config import PretextConfig, PretrainConfig
from imrkit.train.engine import Callback, TrainTask, create_accelerator, fit

STREAM_KEYS = ("iframes", "motion", "residual", "pmsp")


def needs_pmsp_labels(pretext: str) -> bool:
    return "pmsp" in pretext.split("+")


def uses_ctp(pretext: str) -> bool:
    return pretext in ("ctp", "ctp_binary") or "ctp" in pretext.split("+")


def pretext_kwargs(config: PretextConfig, num_gops: int = 5) -> dict:
    """Keyword arguments of :func:`imrkit.build_pretext` that differ from its defaults
    (``num_gops``: the clips' GOPs, which size CTP's head)."""
    kwargs = {}
    if "+" in config.name:
        kwargs["ctp_weight"] = config.ctp_weight
    if config.hidden_dim:
        kwargs["hidden_dim"] = config.hidden_dim
    if uses_ctp(config.name):
        kwargs.update(ctp_pooling=config.ctp_pooling, num_gops=num_gops)
    return kwargs


def build_pretext_model(config: PretrainConfig):
    """The IMRNet backbone inside its pretext module, as configured."""
    from imrkit.models import build_model
    from imrkit.pretext import build_pretext

    backbone = build_model(config.model.name, None, **config.model.build_kwargs())
    kwargs = pretext_kwargs(config.pretext, config.data.num_gops)
    return build_pretext(config.pretext.name, backbone, **kwargs)


def pretext_loss(model, batch: dict):
    """``(loss, metrics)`` of a pretext module on a batch (labels and bookkeeping dropped)."""
    output = model({key: batch[key] for key in STREAM_KEYS if key in batch})
    return output.loss, output.metrics


def pretrain(config: PretrainConfig, *, callbacks: Sequence[Callback] = ()) -> RunSummary:
    """Pretrain an IMRNet with a pretext task; works alone or under ``accelerate launch``.

    Writes ``run.out_dir`` (see :mod:`imrkit.runs`): checkpoints, metrics.csv,
    ``model/`` (the backbone, pretext heads dropped: what finetuning loads) and
    ``pretext.safetensors`` (backbone and heads: what :func:`predict_pmsp` loads).
    ``callbacks`` go to :func:`~imrkit.train.engine.fit`.

    Returns:
        A :class:`RunSummary` (final loss and pretext metrics).
    """
    from accelerate.utils import set_seed

    accelerator = create_accelerator(config.run, config.optim)
    set_seed(config.run.seed)  # the same initial weights on every process
    pretext = build_pretext_model(config)
    dataset = build_dataset(
        config.data,
        config.data.train_subset,
        mode="train",
        labelled=False,
        pmsp=needs_pmsp_labels(config.pretext.name),
    )
    batch_size = config.optim.batch_size
    # Full batches only (batch statistics, CTP's "random" partner) unless there are too few.
    drop_last = len(dataset) >= batch_size * accelerator.num_processes
    loader = make_loader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        seed=config.run.seed,
        num_workers=config.data.num_workers,
        timeout_s=config.data.timeout_s,
        drop_last=drop_last,
    )
    accelerator.print(
        f"pretraining {config.model.name} with {config.pretext.name} on "
        f"{len(dataset)} unlabeled videos ({dataset.split.name})"
    )
    task = TrainTask("pretrain", pretext, loader, pretext_loss)
    result = fit(accelerator, task, config.optim, config.run, to_dict(config), callbacks)
    run_dir = Path(config.run.out_dir)
    if not result.interrupted and accelerator.is_main_process:
        from safetensors.torch import save_file

        result.model.backbone.save_pretrained(run_dir / MODEL_DIR)
        state = {k: v.detach().cpu().contiguous() for k, v in result.model.state_dict().items()}
        save_file(state, str(run_dir / PRETEXT_WEIGHTS))
    accelerator.wait_for_everyone()
    accelerator.end_training()
    metrics = dict(result.metrics)
    metrics.pop("kind", None)
    return RunSummary.of(run_dir, metrics, result.interrupted)


#: the quick stand-in pretraining :func:`pretrained_run` makes when a notebook finds no run
STAND_IN = {
    "optim.epochs": 1,
    "optim.batch_size": 4,
    "data.max_videos": 8,
    "data.num_workers": 0,
    "run.progress": False,
    "run.trackers": "none",
}


def pretrained_run(
    run_dir: str | Path,
    *,
    stand_in_dir: str | Path | None = None,
    data_root: str | Path | None = None,
    config: str = "pretrain_sample",
) -> Path:
    """A pretraining run folder to use: ``run_dir`` if it holds a trained model, else (when
    ``stand_in_dir`` is given) a one-epoch run of ``config`` on ``data_root`` trained into
    ``stand_in_dir`` (or resumed there, or reused once finished).

    What notebooks that only *use* a pretrained model call when the notebook that trains
    one has not run: a quick stand-in in smoke mode, an error naming the folder otherwise.
    """
    from imrkit.config import load_config
    from imrkit.errors import ConfigError
    from imrkit.train.checkpoints import list_checkpoints

    run_dir = Path(run_dir)
    if (run_dir / MODEL_DIR).is_dir():
        return run_dir
    if stand_in_dir is None:
        raise ConfigError(f"{run_dir}: no pretrained model in it; train one there first")
    stand_in_dir = Path(stand_in_dir)
    if (stand_in_dir / MODEL_DIR).is_dir():
        return stand_in_dir
    values = {**STAND_IN, "run.out_dir": str(stand_in_dir)}
    if data_root is not None:
        values["data.root"] = str(data_root)
    if list_checkpoints(stand_in_dir):
        values["run.resume"] = "latest"
    pretrain(load_config(PretrainConfig, config, values))
    return stand_in_dir
