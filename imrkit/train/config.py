"""Typed configurations of pretraining and finetuning (SPEC section 4).

A run is configured by one of these dataclasses; a TOML file (``imrkit/configs/*.toml``)
overrides what differs and ``key=value`` arguments override the file, e.g.
``optim.lr=0.05 data.root=/data/ucf101 run.out_dir=runs/ucf``. Unknown keys and values of
the wrong type are :class:`~imrkit.errors.ConfigError` s (:func:`imrkit.config.load_config`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from imrkit.data.dataset import DatasetConfig
from imrkit.errors import ConfigError
from imrkit.models.config import IMRNetConfig, IMRNetOverrides, set_values
from imrkit.models.presets import model_config


@dataclass
class ModelConfig(IMRNetOverrides):
    """Which IMRNet to build: a preset, plus typed changes to its :class:`IMRNetConfig`.

    Every field of :class:`IMRNetConfig` but ``num_classes`` is a field here, generated
    from it (:data:`~imrkit.models.config.IMRNetOverrides`), so a field added to the model
    is configurable without a second list; unset (None) fields keep the preset's value.
    Every Table 1 and Table 4 ablation is a change here, from a TOML ``[model]`` table or a
    ``key=value`` override, e.g. ``model.connections=none`` (late fusion),
    ``model.pframes.stage_dims=[8, 16, 32, 64]``, ``model.fusion.norm=false``.

    Attributes:
        name: preset, ``imrnet_tiny``, ``imrnet_r18`` or ``imrnet_r50``
            (:mod:`imrkit.models.presets`).
        connections: Table 1 ablation switch: ``full``, ``none``, ``unidirectional``,
            ``no_conv`` or ``no_attention``.
        dropout: dropout before the classifier (finetuning).
        iframes: changes to the I pathway (any :class:`~imrkit.models.PathwayConfig`
            field; unset fields keep the preset's value).
        pframes: changes to the M/R pathways' shared architecture (same fields).
        fusion: changes to the connections (any :class:`~imrkit.models.FusionConfig` field).
        pframes_per_gop: P-frames per I-frame (the preset's: 5).
    """

    name: str = "imrnet_r18"

    def __post_init__(self) -> None:
        # Check the whole network now (lengths that must agree, odd kernels, ...), so that a
        # bad override fails when the config is read, not after the data is loaded.
        try:
            self.imrnet_config()
        except ConfigError as error:
            raise ConfigError(f"model ({self.name}): {error}") from None

    def build_kwargs(self) -> dict:
        """Keyword overrides of :func:`imrkit.models.build_model` for this config."""
        return {key: value for key, value in set_values(self).items() if key != "name"}

    def imrnet_config(self, num_classes: int | None = None) -> IMRNetConfig:
        """The full network configuration: the preset with these changes applied."""
        return model_config(self.name, num_classes=num_classes, **self.build_kwargs())


@dataclass
class PretextConfig:
    """The self-supervised task (:func:`imrkit.build_pretext`, SPEC section 3).

    Attributes:
        name: ``pmsp``, ``ctp``, ``ctp_binary``, ``pmsp+ctp``, ``rotation``, ``aot`` or
            ``infonce``.
        ctp_weight: lambda of L_PMSP + lambda * L_CTP (SPEC: 1).
        hidden_dim: width of the heads' hidden layer (0: the pretext's default).
        ctp_pooling: what CTP's head reads: ``gop`` (one slot per GOP) or ``clip`` (the
            clip embedding); see :mod:`imrkit.pretext.ctp`.
    """

    name: str = "pmsp+ctp"
    ctp_weight: float = 1.0
    hidden_dim: int = 0
    ctp_pooling: Literal["gop", "clip"] = "gop"


@dataclass
class OptimConfig:
    """SGD with momentum, linear warm-up and a half-period cosine, stepped per update.

    Attributes:
        epochs: passes over the training set.
        warmup_epochs: linear warm-up length, in epochs (may be fractional).
        batch_size: clips per process per forward pass; the effective batch is
            ``batch_size * processes * gradient_accumulation_steps`` (SPEC: 100).
        lr: base learning rate (not given by the paper).
        momentum: SGD momentum (SPEC: 0.9).
        weight_decay: (SPEC: 1e-4).
        decay_norms_and_biases: apply weight decay to 1-D parameters too (plain SGD).
        final_lr_ratio: where the cosine ends, as a fraction of ``lr``.
        gradient_accumulation_steps: micro-batches per update (accelerate's accumulate()).
        max_grad_norm: clip the gradient norm to this (0: no clipping).
    """

    epochs: int = 20
    warmup_epochs: float = 5.0
    batch_size: int = 25
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    decay_norms_and_biases: bool = True
    final_lr_ratio: float = 0.0
    gradient_accumulation_steps: int = 1
    max_grad_norm: float = 0.0


@dataclass
class RunConfig:
    """Where a run writes, how it checkpoints, logs and resumes.

    Attributes:
        out_dir: run folder: ``config.json``, ``metrics.csv``, ``checkpoints/step_N`` and
            ``checkpoints/epoch_N`` (accelerate states), ``model/`` (save_pretrained).
        seed: seeds weights, shuffling and augmentation.
        mixed_precision: ``no``, ``fp16`` or ``bf16`` (accelerate).
        cpu: train on the CPU even where a GPU is present.
        checkpoint_every: save a checkpoint every this many optimizer steps (0: only at
            epoch ends).
        keep_checkpoints: keep only the newest this many checkpoints (0: keep all).
        resume: ``latest`` (newest complete checkpoint of ``out_dir``, if any) or a
            checkpoint folder; empty starts afresh.
        log_every: write a metrics row every this many optimizer steps.
        trackers: ``auto`` (TensorBoard when installed, else none), ``none``, or any
            tracker name accelerate knows (``tensorboard``, ``wandb``, ...).
        progress: show a tqdm progress bar (main process only).
        threads: torch CPU threads per process (0: leave torch's default).
        find_unused_parameters: DDP option for models with branches unused in a step.
        channels_last: train in ``torch.channels_last_3d`` memory (model and batches): 1.3x
            the training step of ``imrnet_tiny`` on this project's 2-core CPU machine
            (BENCHMARKS.md, engine); off by default, where it has not been measured.
    """

    out_dir: str = "runs/run"
    seed: int = 0
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"
    cpu: bool = False
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    resume: str = ""
    log_every: int = 10
    trackers: str = "auto"
    progress: bool = True
    threads: int = 0
    find_unused_parameters: bool = False
    channels_last: bool = False


@dataclass
class PretrainConfig:
    """Self-supervised pretraining (SPEC section 4: Kinetics-400, 20 epochs, 5 warm-up).

    Labels of the data are ignored: the training subset is read unlabeled.
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    pretext: PretextConfig = field(default_factory=PretextConfig)
    data: DatasetConfig = field(default_factory=DatasetConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=lambda: RunConfig(out_dir="runs/pretrain"))


@dataclass
class EvalConfig:
    """Evaluation during and after finetuning.

    Attributes:
        every_epochs: centre-view accuracy on the evaluation subset every this many epochs
            (0: never; the final ``views``-crop test always runs).
        views: crops per test clip for the final evaluation (SPEC: 3, softmax averaged).
        batch_size: clips per process per evaluation batch.
    """

    every_epochs: int = 1
    views: int = 3
    batch_size: int = 8


@dataclass
class FinetuneConfig:
    """Supervised finetuning (SPEC section 4: 500 epochs UCF-101 / 300 HMDB-51, 30 warm-up).

    Attributes:
        pretrained: a pretraining run folder or a save_pretrained model folder whose
            backbone initialises the network (pretext heads dropped); empty trains from
            scratch, the baseline with the same budget.
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    pretrained: str = ""
    data: DatasetConfig = field(default_factory=DatasetConfig)
    optim: OptimConfig = field(
        default_factory=lambda: OptimConfig(epochs=500, warmup_epochs=30.0, lr=0.05)
    )
    eval: EvalConfig = field(default_factory=EvalConfig)
    run: RunConfig = field(default_factory=lambda: RunConfig(out_dir="runs/finetune"))
