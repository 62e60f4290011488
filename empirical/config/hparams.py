"""Typed hyperparameters of a training run, and the hash that names the run's directory.

Every hyperparameter is a field of a frozen dataclass with a default and a help string
(``field(metadata={"help": ...})``); the command line flags are generated from these fields
(:mod:`verify.cli.args`), so there is one source of truth.

Run identity (the open_lth idea)
--------------------------------
:func:`canonical_string` lists only the fields whose value differs from the default, as
``section.field=<json>`` joined by ``;`` in declaration order, and :func:`hparams_hash` is the first
16 hex digits of its SHA-256. Adding a new field with a default therefore leaves every existing
hash unchanged, and two runs with the same settings share one directory ``runs_dir/<kind>/<hash>``.
Settings that do not change what is computed (device, threads, data directory, workers, progress
bars) live in :class:`RuntimeConfig` and are never hashed; numerics that do change it
(``training.precision``) are hyperparameters. Values that depend on others are resolved before
hashing (a weight decay not given becomes the optimiser's default), so a flag spelled out at its
default names the same run. A field whose default depends on another is compared with its
``canonical_default`` metadata, the value hashes were made with: ``mask.keep`` not given is
:data:`SCORE_KEEP` for the score modes and 1 for dense, and is hashed against 1, so every existing
run keeps its hash.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from empirical import vocabulary
from empirical.data import DATA_ON_DEVICE, DATASET_NAMES
from empirical.errors import InputError
from empirical.models.registry import MODELS, model_entry
from empirical.vocabulary import (
    BN_INITS,
    FAN_RULES,
    INITS,
    NORMS,
    REDRAW_EVERY,
    REDRAW_FRACTION,
    SCALED_INITS,
    SCOPES,
    SCORE_MODES,
    SOURCE_LAYOUTS,
)

DEFAULT_RUNS_DIR = "runs"
RUNS_ENV = "TICKETS_RUNS"
HASH_DIGITS = 16


def hp(default: Any, help: str, flag: str | None = None, **extra: Any) -> Any:
    """A dataclass field with a default, a help string and an optional CLI flag name.

    Parameters
    ----------
    default
        The default value (immutable: numbers, strings, tuples, None).
    help
        One sentence shown by ``--help``.
    flag
        The command-line flag (``"--keep"``); default ``--<field-name-with-dashes>``.
    extra
        More metadata (``choices``).

    Returns
    -------
    dataclasses.Field
    """
    return field(default=default, metadata={"help": help, "flag": flag, **extra})


OPTIMIZERS = ("sgd", "adam", "adamw")
#: Weight decay an optimiser gets when ``--weight-decay`` is not given: the reference recipes'
#: 1e-4 for SGD (edge-popup / biprop), none for Adam (the released biprop code's Adam applies none,
#: nor do the LTH and MNIST-1D recipes), PyTorch's 0.01 for AdamW.
DEFAULT_WEIGHT_DECAY = {"sgd": 1e-4, "adam": 0.0, "adamw": 1e-2}
SCHEDULES = ("cosine", "constant", "step")
PRECISIONS = ("fp32", "bf16")
WARMUP_STARTS = ("one", "zero")
MILESTONE_UNITS = ("ep", "it")
MODES = ("dense", *SCORE_MODES)
SCORE_KEEP = 0.5
"""Kept fraction k of edge-popup and biprop when none is given (dense keeps every weight).
k = 0.5 is the released edge-popup code's example run (hidden-networks README:
``--prune-rate 0.5``, its prune rate being the fraction kept) and the k = 0.5 point of the MPT
paper's Conv-2/4/6/8 sweeps over k in {0.8, 0.6, 0.5, 0.4, 0.2, 0.1} (Diffenderfer & Kailkhura
2021, Fig. 3; the ``conv4-mpt-*`` presets). The large published networks keep less (5-40%, MPT
Table 2): use their presets."""
BN_CHOICES = ("default", *NORMS)


def declared_rules() -> tuple[str, ...]:
    """The mask rules ``--mask-rule`` offers, :data:`empirical.vocabulary.MASK_RULE_NAMES` read
    when a parser is built (a field's ``choices`` metadata may be such a function), so that a
    rule declared at run time beside its class (a plugin, a test's toy rule) is offered too."""
    return vocabulary.MASK_RULE_NAMES


def check_choice(obj: Any, field: str, choices: tuple[str, ...]) -> None:
    """Raise :class:`InputError` naming ``field`` unless ``obj.field`` is one of ``choices``."""
    value = getattr(obj, field)
    if value not in choices:
        raise InputError(f"unknown {{{field}}} {{value!r}}; choose one of {{choices}}", type(obj),
                         value=value, choices=", ".join(choices))


def check_positive(obj: Any, field: str, allow_zero: bool = False) -> None:
    """Raise :class:`InputError` naming ``field`` unless ``obj.field`` is finite and > 0 (>= 0)."""
    value = getattr(obj, field)
    if not math.isfinite(value) or (value < 0 if allow_zero else value <= 0):
        raise InputError(f"{{{field}}} must be {{bound}}, got {{value!r}}", type(obj),
                         bound=">= 0" if allow_zero else "> 0", value=value)


@dataclass(frozen=True)
class DatasetHparams:
    """Which data, how it is batched, and the held-out validation split."""

    name: str = hp("digits", "dataset: %(choices)s", flag="--dataset", choices=DATASET_NAMES)
    batch_size: int = hp(128, "training batch size (summed over all processes)")
    val_size: int = hp(0, "training examples held out as a validation split (0: none)")
    split_seed: int = hp(0, "seed of the validation split and of generated datasets")
    augment: bool = hp(True, "standard augmentation (CIFAR crop+flip, ImageNet resized crop)")
    drop_last: bool = hp(True, "drop the last partial training batch of every epoch (open_lth "
                               "keeps it: steps per epoch rounded up)")
    shuffle: bool = hp(True, "shuffle the training examples every epoch (seeded by --seed or "
                             "--data-seed); --no-shuffle takes them in file order, the same "
                             "batches every epoch (the MNIST-1D notebooks; in-memory datasets)")

    def __post_init__(self) -> None:
        check_choice(self, "name", tuple(DATASET_NAMES))
        check_positive(self, "batch_size")
        check_positive(self, "val_size", allow_zero=True)


@dataclass(frozen=True)
class ModelHparams:
    """The architecture, built by :func:`empirical.models.build_model`."""

    name: str = hp("fc", "model name (fc, conv4, vgg-small, resnet18, ...; tickets models lists "
                         "them)", flag="--model", choices=MODELS)
    widths: tuple[int, ...] | None = hp(None, "hidden widths, comma separated (fc)")
    width_mult: float = hp(1.0, "width multiplier of every hidden layer")
    binary_act: bool = hp(False, "binary sign activations (MPT-1/1) instead of ReLU")
    bn: str = hp("default", "batch norm: default (the model's), none, nonaffine, affine (+BN)",
                 choices=BN_CHOICES)
    bias: bool = hp(False, "a bias on every conv/linear layer (default: the architecture's own "
                           "biases only)")
    bn_init: str = hp("ones", "affine BatchNorm gamma: ones (PyTorch) or U(0, 1) (open_lth)",
                      choices=BN_INITS)
    residual: bool = hp(False, "hidden-to-hidden blocks of equal widths add their input, "
                               "h <- h + relu(W h + b) (fc; the MNIST-1D authors' MLP)")

    def __post_init__(self) -> None:
        entry = model_entry(self.name)
        if self.residual and not entry.residual:
            takes = ", ".join(n for n, e in MODELS.items() if e.residual)
            raise InputError("{residual} applies to {takes}, not {name}", ModelHparams,
                             takes=takes, name=self.name)
        check_choice(self, "bn", BN_CHOICES)
        check_choice(self, "bn_init", BN_INITS)
        check_positive(self, "width_mult")
        if self.widths is not None:
            object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
            if any(w < 1 for w in self.widths):
                raise InputError("{widths} must be >= 1, got {got}", ModelHparams,
                                 got=list(self.widths))


@dataclass(frozen=True)
class MaskHparams:
    """How each prunable layer's weight is formed: dense, edge-popup or biprop scores.

    ``keep`` not given becomes :data:`SCORE_KEEP` in the score modes and 1 for dense when the
    object is made; ``dataclasses.replace(mask, mode=...)`` keeps the value already resolved.
    """

    mode: str = hp("dense", "layer mode: dense, edge-popup, biprop", choices=MODES)
    keep: float | None = hp(None, "fraction k of weights KEPT per layer (global: overall), in "
                                  "(0, 1]", canonical_default=1.0)  # None: SCORE_KEEP, dense 1
    scope: str = hp("layerwise", "top-k per layer (layerwise) or one threshold (global)",
                    choices=SCOPES)
    mask_rule: str = hp("topk", "mask rule of the scores: %(choices)s", choices=declared_rules)
    init: str = hp("kn", "weight init: " + ", ".join(INITS), choices=INITS)
    fan_rule: str = hp("paper", "fan_in scaling of the scaled inits kn/sc: paper (fan_in * k, "
                                "Ramanujan et al. 2020) or released (fan_in * (1 - k), the biprop "
                                "code)", choices=FAN_RULES)
    anneal_epochs: int = hp(10, "global scope, k <= 0.5: epochs of cubic keep annealing from 0.5")
    penalty: float = hp(0.0, "strength lambda of the mask rule's sparsity penalty, for the rules "
                              "that have one (hard-concrete: lambda times the expected L0 norm; "
                              "gem-miner: lambda ||s||^2)")
    redraw_every: int = hp(REDRAW_EVERY, "iterand: re-draw a fraction of the pruned weights every "
                                         "K_per training iterations")
    redraw_fraction: float = hp(REDRAW_FRACTION, "iterand: fraction r of the pruned weights "
                                                 "re-drawn from the initialiser each time")
    source_density: float = hp(1.0, "density d of an Erdos-Renyi sparse random source (1: dense); "
                                    "the search keeps --keep of the source's weights, k*d overall")
    source_layout: str = hp("erk", "per-layer densities of the sparse source: "
                                   + ", ".join(SOURCE_LAYOUTS), choices=SOURCE_LAYOUTS)
    ticket: str = hp("", "dense only: hash of a finished edge-popup / biprop run of the same data "
                         "and model; train its weights W with its mask fixed (fine-tuning a "
                         "found strong ticket, as Gem-Miner's rare gems)")

    def __post_init__(self) -> None:
        for name, choices in (("mode", MODES), ("scope", SCOPES), ("init", INITS),
                              ("fan_rule", FAN_RULES), ("source_layout", tuple(SOURCE_LAYOUTS))):
            check_choice(self, name, choices)
        if self.keep is None:
            object.__setattr__(self, "keep", 1.0 if self.mode == "dense" else SCORE_KEEP)
        from empirical.mask_rules import check_rule  # the rules' classes need torch

        check_rule(self.mask_rule, self.penalty, self.redraw_every, self.redraw_fraction)
        if not (math.isfinite(self.source_density) and 0 < self.source_density <= 1):
            raise InputError("{source_density} must lie in (0, 1], got {got!r}", MaskHparams,
                             got=self.source_density)
        if self.ticket and self.mode != "dense":
            raise InputError("{ticket} starts a dense run from a found ticket, not {mode=got}",
                             MaskHparams, got=self.mode)
        if self.source_density < 1 and self.mode == "dense":
            raise InputError("{source_density} applies to the score modes (edge-popup, biprop), "
                             "not {mode=dense}", MaskHparams)
        scaled = self.mode != "dense" and self.init in SCALED_INITS  # dense: never fan-scaled
        if self.fan_rule == "released" and self.keep == 1 and scaled:
            raise InputError("{fan_rule=released} scales fan_in by 1 - k, which is 0 at "
                             "{keep=1}: use {fan_rule=paper} or an unscaled {init} (ukn, usc)",
                             MaskHparams)
        if not (math.isfinite(self.keep) and 0 < self.keep <= 1):
            raise InputError("{keep} must lie in (0, 1], got {got!r}", MaskHparams, got=self.keep)
        check_positive(self, "anneal_epochs", allow_zero=True)


@dataclass(frozen=True)
class TrainingHparams:
    """The optimiser, schedule and length of training."""

    optimizer: str = hp("sgd", "optimizer: sgd, adam, adamw", choices=OPTIMIZERS)
    lr: float = hp(0.1, "peak learning rate")
    momentum: float = hp(0.9, "SGD momentum (Adam: beta1)")
    nesterov: bool = hp(False, "Nesterov momentum (SGD)")
    weight_decay: float | None = hp(None, "weight decay (L2 for SGD/Adam, decoupled for AdamW); "
                                          "not given: 1e-4 for sgd, 0 for adam, 0.01 for adamw")
    decay_bn_bias: bool = hp(True, "apply weight decay to batch-norm parameters and biases")
    schedule: str = hp("cosine", "lr schedule after warm-up: cosine (per epoch), constant, or step "
                                 "(x gamma at each milestone epoch)", choices=SCHEDULES)
    milestones: tuple[int, ...] | None = hp(None, "step schedule: epochs (or iterations, see "
                                                  "--milestone-unit) at which the lr is "
                                                  "multiplied by --gamma, comma separated")
    milestone_unit: str = hp("ep", "unit of --milestones: ep (epochs) or it (iterations)",
                             choices=MILESTONE_UNITS)
    gamma: float = hp(0.1, "step schedule: the factor applied at each milestone")
    warmup_steps: int = hp(0, "linear warm-up iterations (see --warmup-start)")
    warmup_start: str = hp("one", "warm-up step s gets lr (s+1)/W (one: the first step lr/W) or "
                                  "lr s/W (zero: open_lth)", choices=WARMUP_STARTS)
    warmup_epochs: int = hp(0, "per-epoch linear warm-up lr (e+1)/W for epochs e < W, the cosine "
                               "then spans the remaining epochs (biprop's ImageNet recipe)")
    precision: str = hp("fp32", "numerics: fp32, or bf16 autocast (CUDA / CPU); part of the run's "
                                "identity", choices=PRECISIONS)
    epochs: int = hp(10, "training epochs (ignored if --iterations > 0)")
    iterations: int = hp(0, "training iterations (0: use --epochs)")
    label_smoothing: float = hp(0.0, "label smoothing of the cross-entropy loss")
    eval_every: int = hp(0, "evaluate every N iterations (0: once per epoch)")
    seed: int = hp(0, "seed of the initialisation and of the data order")
    data_seed: int | None = hp(None, "seed of the data order alone (default: --seed); copies "
                                     "trained with other data orders measure SGD noise")

    @property
    def order_seed(self) -> int:
        """The seed of the data order: ``data_seed``, else ``seed``."""
        return self.seed if self.data_seed is None else self.data_seed

    def __post_init__(self) -> None:
        for name, choices in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES),
                              ("warmup_start", WARMUP_STARTS), ("precision", PRECISIONS),
                              ("milestone_unit", MILESTONE_UNITS)):
            check_choice(self, name, choices)
        if self.nesterov and self.optimizer != "sgd":
            raise InputError("{nesterov} applies to {optimizer=sgd} only, not {got}",
                             TrainingHparams, got=self.optimizer)
        if self.nesterov and self.momentum == 0:
            raise InputError("{nesterov} needs {momentum} > 0", TrainingHparams)
        if self.weight_decay is not None:
            check_positive(self, "weight_decay", allow_zero=True)
            if self.weight_decay == DEFAULT_WEIGHT_DECAY[self.optimizer]:
                # the optimiser's default spelled out names the same run as leaving it out
                object.__setattr__(self, "weight_decay", None)
        if self.data_seed == self.seed:
            # the data order of the seed spelled out names the same run as leaving it out
            object.__setattr__(self, "data_seed", None)
        for name in ("lr", "epochs", "gamma"):
            check_positive(self, name)
        if self.schedule == "step":
            if not self.milestones:
                raise InputError("{schedule=step} needs {milestones} (epochs, e.g. 80,120)",
                                 TrainingHparams)
            object.__setattr__(self, "milestones", tuple(int(m) for m in self.milestones))
            if list(self.milestones) != sorted(set(self.milestones)) or self.milestones[0] < 1:
                raise InputError("{milestones} must be increasing and >= 1, got {got}",
                                 TrainingHparams, got=list(self.milestones))
        elif self.milestones is not None:
            raise InputError("{milestones} only applies to {schedule=step}", TrainingHparams)
        if self.warmup_steps and self.warmup_epochs:
            raise InputError("give {warmup_steps} or {warmup_epochs}, not both", TrainingHparams)
        for name in ("momentum", "warmup_steps", "warmup_epochs", "iterations", "eval_every",
                     "seed"):
            check_positive(self, name, allow_zero=True)
        if not 0 <= self.label_smoothing < 1:
            raise InputError("{label_smoothing} must lie in [0, 1), got {got!r}",
                             TrainingHparams, got=self.label_smoothing)
        if not self.momentum < 1:
            raise InputError("{momentum} (Adam: beta1) must lie in [0, 1), got {got!r}",
                             TrainingHparams, got=self.momentum)


    @property
    def decay(self) -> float:
        """The weight decay applied: ``weight_decay``, or the optimiser's default when not given."""
        if self.weight_decay is None:
            return DEFAULT_WEIGHT_DECAY[self.optimizer]
        return self.weight_decay


@dataclass(frozen=True)
class RunHparams:
    """One training run: data, model, layer mode and training (the hashed identity)."""

    dataset: DatasetHparams = field(default_factory=DatasetHparams)
    model: ModelHparams = field(default_factory=ModelHparams)
    mask: MaskHparams = field(default_factory=MaskHparams)
    training: TrainingHparams = field(default_factory=TrainingHparams)


CHECKPOINT_SECONDS = 30.0
"""Default seconds between two checkpoints of a run (``RuntimeConfig.checkpoint_seconds``): a
checkpoint after every epoch cost an MNIST-1D MLP run of 600 steps 15 checkpoints, 0.035 CPU s
against 0.63 s for its steps and 0.3-0.4 s of wall time on a loaded machine, mostly ``fsync``
(docs/benchmarks.md, "Per-run overhead")."""


def _default_threads() -> int:
    """``$OMP_NUM_THREADS`` when it is a positive integer, else ``min(4, usable cores)``."""
    text = os.environ.get("OMP_NUM_THREADS", "")
    if text.isdigit() and int(text) > 0:
        return int(text)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(4, cores or 1)


@dataclass(frozen=True)
class RuntimeConfig:
    """Settings outside a run's identity, never hashed: where and how fast it runs.

    None of them changes what is computed; the thread count and the device can change the order of
    floating-point sums, hence last bits (and, through sign activations, MPT-1/1 accuracies):
    ``docs/determinism.md``.
    """

    data_dir: str | None = hp(None, "directory holding the datasets (never downloaded)")
    device: str = hp("auto", "device: auto (cuda, mps, cpu), cpu, cuda, cuda:1, mps")
    num_workers: int = hp(2, "data loader worker processes (torchvision datasets)")
    compile: bool = hp(False, "torch.compile the model")
    progress: bool = hp(True, "progress on stderr: a bar on a terminal, else a line every "
                              "$TICKETS_PROGRESS_INTERVAL seconds")
    tensorboard: bool = hp(False, "also write TensorBoard event files into the run directory")
    threads: int = hp(_default_threads(),
                      "torch intra-op CPU threads, recorded in hparams.json (default: "
                      "$OMP_NUM_THREADS, else min(4, usable cores): more oversubscribe small "
                      "models on a shared machine); reruns with the same count repeat, torch "
                      "does not promise equal bits across counts")
    data_on_device: str = hp(
        "auto", "keep MNIST / CIFAR-10 on the training device as uint8 and crop, flip and "
        "normalise there in batches: auto (on CUDA), on, off (torchvision + loader workers); the "
        "same augmentation distribution and batch order, other crop and flip draws",
        choices=DATA_ON_DEVICE)
    checkpoint_seconds: float = hp(
        CHECKPOINT_SECONDS, "write the checkpoint at the end of an epoch only once this many "
        "seconds have passed since the last one (0: after every epoch); always after the last "
        "step. A killed run redoes at most this much training plus an epoch, to the same bits")

    def __post_init__(self) -> None:
        check_choice(self, "data_on_device", DATA_ON_DEVICE)
        check_positive(self, "checkpoint_seconds", allow_zero=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def _field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()  # type: ignore[misc]


def non_default_items(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """The ``(dotted name, value)`` pairs of the fields of ``obj`` that differ from the default
    (a field's ``canonical_default`` metadata when it has one).

    Parameters
    ----------
    obj
        A dataclass instance, possibly with dataclass-valued fields (recursed into).
    prefix
        Prepended to every name.

    Returns
    -------
    list of (str, value)
        In declaration order; nested sections contribute ``section.field`` names.
    """
    items: list[tuple[str, Any]] = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        name = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            items.extend(non_default_items(value, f"{name}."))
        elif value != f.metadata.get("canonical_default", _field_default(f)):
            items.append((name, _jsonable(value)))
    return items


def canonical_string(obj: Any) -> str:
    """``a.b=<json>;c.d=<json>`` over the non-default fields of ``obj`` (empty if all default)."""
    return ";".join(f"{k}={json.dumps(v, sort_keys=True)}" for k, v in non_default_items(obj))


def hparams_hash(obj: Any) -> str:
    """First 16 hex digits of SHA-256 of :func:`canonical_string` (the run's name)."""
    return hashlib.sha256(canonical_string(obj).encode()).hexdigest()[:HASH_DIGITS]


def to_dict(obj: Any) -> dict[str, Any]:
    """All fields of a (nested) dataclass as JSON-ready dicts (tuples become lists)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        out[f.name] = to_dict(value) if dataclasses.is_dataclass(value) else _jsonable(value)
    return out


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Inverse of :func:`to_dict`: build ``cls`` (nested dataclasses allowed) from a dict.

    Unknown keys raise ``ValueError``; missing keys take their defaults.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {', '.join(unknown)}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        default = _field_default(fields[name])
        if dataclasses.is_dataclass(default) and isinstance(value, dict):
            kwargs[name] = from_dict(type(default), value)
        elif isinstance(value, list):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


def replace(obj: Any, **changes: Any) -> Any:
    """``dataclasses.replace`` that also accepts ``section={field: value}`` for nested sections."""
    direct: dict[str, Any] = {}
    for name, value in changes.items():
        current = getattr(obj, name)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            direct[name] = dataclasses.replace(current, **value)
        else:
            direct[name] = value
    return dataclasses.replace(obj, **direct)


def default_runs_dir(runs_dir: str | os.PathLike | None = None) -> Path:
    """``runs_dir`` if given, else ``$TICKETS_RUNS``, else ``./runs``."""
    if runs_dir is not None:
        return Path(runs_dir)
    return Path(os.environ.get(RUNS_ENV) or DEFAULT_RUNS_DIR)


def run_directory(runs_dir: str | os.PathLike | None, kind: str, hparams: Any) -> Path:
    """``runs_dir/<kind>/<hparams_hash(hparams)>``: where the run with these settings lives."""
    if not kind or "/" in kind:
        raise ValueError(f"run kind must be a non-empty name without '/', got {kind!r}")
    return default_runs_dir(runs_dir) / kind / hparams_hash(hparams)
