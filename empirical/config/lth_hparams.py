"""Hyperparameters of iterative magnitude pruning (IMP): one hashed run per level and control.

An IMP experiment is a family of runs in the run store (kind ``lth``), each an
:class:`LTHHparams` whose :class:`LevelHparams` says where its mask and its start weights come from:

- ``dense`` (level 0): all-ones masks, weights ``theta_0`` drawn from ``training.seed``;
- ``imp`` (level L >= 1): prune the trained weights of its parent (level L-1) by magnitude
  (Frankle & Carbin, ICLR 2019), start from ``theta_k`` (``pruning.rewind``) times the mask;
- ``reinit``: the mask of its parent (IMP level L), fresh random weights (control);
- ``random-prune``: a random mask with the parent's counts (control), start from ``theta_k``;
- ``retrain``: the parent's mask and ``theta_k``, trained under other training settings (branch);
- ``one-shot``: prune the parent's (level 0) trained weights once to ``level.density``;
- ``pai``: pruning at initialisation: the registered criterion ``level.criterion`` (SNIP, GraSP,
  SynFlow, magnitude, random; :mod:`empirical.algorithms.criteria`) scores ``theta_k`` and keeps
  ``level.density`` of the weights (``pruning.scope``: global, layerwise or erk), in
  ``level.rounds`` rounds; the parent is level 0, whose initialisation it shares;
- the sanity ablations of a mask source (an ``imp``, ``one-shot`` or ``pai`` run; Frankle et al.,
  ICLR 2021): ``reinit`` (its mask, fresh weights), ``shuffle`` (its mask shuffled within each
  layer, start from ``theta_k``) and ``invert`` (its last selection with the scores negated, keeping
  the lowest, at its per-layer counts; start from ``theta_k``);
- the retraining variants of an IMP level L (Renda, Frankle & Carbin, ICLR 2020): its mask on the
  trained weights ``theta_T`` of level L-1, retrained from step ``k`` for the same budget as weight
  rewinding, with the learning-rate schedule replayed from step ``k`` (``lr-rewind``) or at the
  schedule's final learning rate (``finetune``).

Every non-dense run names its parent's hash, so a level's hash depends on the whole chain before
it; raising the number of levels reuses the finished ones. Level 0 carries only ``pruning.init``
and ``pruning.prune_bias`` of the pruning section (so every pruning rule shares one dense run).

The pruning rule of an IMP level: ``sparsity_schedule=geometric`` prunes ``floor(rate R)`` of
the ``R`` remaining weights per level (Frankle & Carbin); ``sparsity_schedule=linear`` prunes
each layer to sparsity ``L / (linear_rounds - 1)`` at level ``L`` (the MNIST-1D notebook's
``np.linspace(0, 1, 100)``). ``score_step`` ranks the parent's weights at that step of its
training instead of its final ones (the notebook prunes from its checkpoint at step 1,000 of
1,501), and ``prune_bias`` ranks and masks each layer's bias with its weights.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any

from empirical.config.hparams import (
    INITS,
    SCOPES,
    DatasetHparams,
    ModelHparams,
    TrainingHparams,
    check_choice,
    hp,
    hparams_hash,
)
from empirical.errors import InputError

KIND = "lth"
SOURCES = ("dense", "imp", "reinit", "random-prune", "retrain", "one-shot", "pai", "shuffle",
           "invert", "lr-rewind", "finetune")
ABLATIONS = ("reinit", "shuffle", "invert")
RETRAININGS = ("lr-rewind", "finetune")
CONTROLS = ("reinit", "random-prune", "shuffle", "invert", *RETRAININGS)
MASK_SOURCES = ("imp", "one-shot", "pai")
PRUNING_SCOPES = (*SCOPES, "erk")
PRUNING_SCHEDULES = ("geometric", "linear")
_REWIND = re.compile(r"^(\d+)(it|ep)?$")


def _check_fraction(obj: Any, field: str) -> None:
    """Raise :class:`InputError` naming ``field`` unless ``obj.field`` is None or in (0, 1]."""
    value = getattr(obj, field)
    if value is not None and not (math.isfinite(value) and 0 < value <= 1):
        raise InputError(f"prune {{{field}}} must lie in (0, 1], got {{got!r}}", type(obj),
                         got=value)


def parse_rewind(text: str) -> tuple[int, str]:
    """Parse a rewind point: ``"500it"`` (iterations), ``"2ep"`` (epochs) or ``"0"``.

    Parameters
    ----------
    text : str
        The rewind point.

    Returns
    -------
    (int, str)
        The count and its unit, ``"it"`` or ``"ep"``.
    """
    match = _REWIND.match(str(text).strip())
    if match is None or (match.group(2) is None and int(match.group(1)) != 0):
        raise ValueError(f"rewind point must look like 500it, 2ep or 0, got {text!r}")
    return int(match.group(1)), match.group(2) or "it"


def rewind_step(text: str, steps_per_epoch: int) -> int:
    """The optimiser step ``k`` of a rewind point (Frankle et al. 2020, "rewinding to iteration k").

    Parameters
    ----------
    text : str
        ``"<n>it"`` or ``"<n>ep"``.
    steps_per_epoch : int
        Batches per epoch of the training data.

    Returns
    -------
    int
        ``n`` for iterations, ``n * steps_per_epoch`` for epochs.
    """
    count, unit = parse_rewind(text)
    return count * steps_per_epoch if unit == "ep" else count


@dataclass(frozen=True)
class PruningHparams:
    """The pruning rule of IMP and the initialisation and rewind point of its weights."""

    init: str = hp("kn", "weight init: " + ", ".join(INITS), choices=INITS)
    rate: float = hp(0.2, "fraction of the remaining weights pruned per level, in (0, 1] "
                     "(fully connected layers; every layer unless overridden)")
    conv_rate: float | None = hp(None, "prune rate of convolutional layers (default: --rate)")
    output_rate: float | None = hp(None, "prune rate of the output layer (default: --rate)")
    scope: str = hp("layerwise", "per-layer rates (layerwise) or one magnitude threshold over "
                    "all non-excluded layers (global); pruning at initialisation also takes erk "
                    "(Erdos-Renyi-Kernel layer densities)", choices=PRUNING_SCOPES)
    exclude: tuple[str, ...] = hp((), "layers never pruned, comma separated ('output' = last)")
    rewind: str = hp("0it", "start weights of every level: theta_k after k = <n>it iterations or "
                     "<n>ep epochs of dense training (0it: theta_0)")
    prune_bias: bool = hp(False, "prune each layer's bias together with its weights: one "
                          "magnitude ranking over cat(W, b) per layer (the MNIST-1D LTH "
                          "notebook)")
    sparsity_schedule: str = hp("geometric", "geometric: each level prunes --rate of the "
                                "remaining weights; linear: level L keeps n - floor(L n / (R - "
                                "1)) of each layer's n (sparsity linspace(0, 1, R)[L], R = "
                                "--linear-rounds)", choices=PRUNING_SCHEDULES)
    linear_rounds: int = hp(100, "R of the linear schedule: the sparsity rises by 1/(R - 1) per "
                            "level")
    score_step: str = hp("", "the next level's mask ranks the weights after <n>it iterations or "
                         "<n>ep epochs of this level's training (empty: its final weights)")

    def __post_init__(self) -> None:
        check_choice(self, "init", INITS)
        check_choice(self, "scope", PRUNING_SCOPES)
        check_choice(self, "sparsity_schedule", PRUNING_SCHEDULES)
        if self.linear_rounds < 2:
            raise InputError("{linear_rounds} must be >= 2, got {got}", PruningHparams,
                             got=self.linear_rounds)
        if self.sparsity_schedule == "linear" and self.scope != "layerwise":
            raise InputError("{sparsity_schedule=linear} sets each layer's sparsity: it needs "
                             "{scope=layerwise}", PruningHparams)
        if self.score_step:
            count, unit = parse_rewind(self.score_step)
            object.__setattr__(self, "score_step", f"{count}{unit}" if count else "")
        for name in ("rate", "conv_rate", "output_rate"):
            _check_fraction(self, name)
        if self.scope == "global" and (self.conv_rate or self.output_rate):
            raise InputError("{scope=global} prunes at one {rate}: use {exclude} instead of "
                             "{conv_rate} or {output_rate}", PruningHparams)
        object.__setattr__(self, "exclude", tuple(str(n) for n in self.exclude))
        count, unit = parse_rewind(self.rewind)
        object.__setattr__(self, "rewind", f"{count}{unit}" if count else "0it")


@dataclass(frozen=True)
class LevelHparams:
    """Where a run's mask and start weights come from (set by the IMP driver, not by flags)."""

    level: int = hp(0, "pruning level (0: dense)")
    parent: str = hp("", "hash of the run whose weights or mask this run derives from")
    source: str = hp("dense", ", ".join(SOURCES), choices=SOURCES)
    control_seed: int = hp(0, "seed of the random re-initialisation or random mask (controls)")
    density: float = hp(1.0, "target density of a one-shot prune or of pruning at init")
    criterion: str = hp("", "pruning criterion of a pai run (empirical.algorithms.criteria)")
    rounds: int = hp(0, "pruning rounds of a pai run (0: the criterion's default)")

    def __post_init__(self) -> None:
        check_choice(self, "source", SOURCES)
        if self.level < 0:
            raise ValueError(f"level must be >= 0, got {self.level}")
        if (self.source == "dense") != (self.level == 0 and not self.parent):
            raise ValueError("level 0 (dense) has no parent; every other run needs one")
        if not (math.isfinite(self.density) and 0 < self.density <= 1):
            raise InputError("{density} must lie in (0, 1], got {got!r}", LevelHparams,
                             got=self.density)
        if bool(self.criterion) != (self.source == "pai"):
            raise InputError("a {criterion} is set exactly for runs of {source=pai}",
                             LevelHparams)
        if self.rounds < 0:
            raise InputError("{rounds} must be >= 0, got {got}", LevelHparams, got=self.rounds)


@dataclass(frozen=True)
class LTHHparams:
    """One IMP run: data, model, training, the pruning rule and the run's place in the lineage."""

    dataset: DatasetHparams = field(default_factory=DatasetHparams)
    model: ModelHparams = field(default_factory=ModelHparams)
    training: TrainingHparams = field(default_factory=TrainingHparams)
    pruning: PruningHparams = field(default_factory=PruningHparams)
    level: LevelHparams = field(default_factory=LevelHparams)


def dense_level(base: LTHHparams) -> LTHHparams:
    """Level 0 of ``base``'s lineage: only ``pruning.init`` and ``pruning.prune_bias`` (which
    gives the layers their bias masks) of the pruning section are kept."""
    return dataclasses.replace(base, pruning=PruningHparams(init=base.pruning.init,
                                                            prune_bias=base.pruning.prune_bias),
                               level=LevelHparams())


def imp_chain(base: LTHHparams, levels: int) -> list[LTHHparams]:
    """The hyperparameters of IMP levels ``0..levels`` of ``base``, each naming its parent.

    Parameters
    ----------
    base : LTHHparams
        Data, model, training and pruning rule (its ``level`` section is ignored).
    levels : int
        The last level, ``>= 0``.

    Returns
    -------
    list of LTHHparams
        ``levels + 1`` entries; entry ``L >= 1`` has ``level.parent = hparams_hash(entry L-1)``.
    """
    if levels < 0:
        raise ValueError(f"levels must be >= 0, got {levels}")
    if levels and base.pruning.scope == "erk":
        raise ValueError("scope erk applies to pruning at initialisation, not to IMP")
    chain = [dense_level(base)]
    for level in range(1, levels + 1):
        chain.append(dataclasses.replace(base, level=LevelHparams(
            level=level, parent=hparams_hash(chain[-1]), source="imp")))
    return chain


def derived(parent: LTHHparams, source: str, control_seed: int = 0,
            training: TrainingHparams | None = None) -> LTHHparams:
    """A control, ablation or branch of a mask source: same mask (or its counts), other weights.

    Parameters
    ----------
    parent : LTHHparams
        An IMP level ``L >= 1`` (every source), a one-shot or a pai run (the ablations).
    source : str
        ``reinit`` (same mask, fresh weights), ``random-prune`` (random mask with the same counts,
        IMP only), ``shuffle`` (the mask shuffled within each layer), ``invert`` (the lowest scores
        kept at the same per-layer counts), ``lr-rewind`` / ``finetune`` (same mask on the trained
        weights of the level before, IMP only; ``finetune`` takes its constant-rate
        ``training`` from :func:`empirical.algorithms.lth.control_run`) or ``retrain`` (same mask
        and start weights ``theta_k``, other training settings; from an IMP level, or from level
        0, whose copies start at the ``pruning.rewind`` of ``parent``).
    control_seed : int
        Seed of the control's randomness.
    training : TrainingHparams, optional
        Training settings of the run; default the parent's.

    Returns
    -------
    LTHHparams
        At the parent's level, naming the parent's hash.
    """
    allowed = ("reinit", "random-prune", "retrain", "shuffle", "invert", *RETRAININGS)
    if source not in allowed:
        raise ValueError(f"unknown control {source!r}; choose one of {', '.join(allowed)}")
    parents = {"retrain": ("dense", "imp")}.get(source, MASK_SOURCES if source in ABLATIONS
                                                  else ("imp",))
    if parent.level.source not in parents:
        raise ValueError(f"a {source} run derives from a run of source {' or '.join(parents)}, "
                         f"not {parent.level.source}")
    level = LevelHparams(level=parent.level.level, parent=hparams_hash(parent), source=source,
                         control_seed=control_seed)
    return dataclasses.replace(parent, training=training or parent.training, level=level)


def one_shot(base: LTHHparams, density: float) -> LTHHparams:
    """One-shot pruning of ``base``'s trained level 0 to ``density`` (Frankle & Carbin 2019).

    Parameters
    ----------
    base : LTHHparams
        Data, model, training and pruning scope / exclusions / rewind point.
    density : float
        Target density in (0, 1] of the pruned layers.

    Returns
    -------
    LTHHparams
        A level-1 run whose parent is level 0.
    """
    if base.pruning.scope == "erk":
        raise ValueError("scope erk applies to pruning at initialisation, not to one-shot IMP")
    level = LevelHparams(level=1, parent=hparams_hash(dense_level(base)), source="one-shot",
                         density=density)
    return dataclasses.replace(base, level=level)


def pai(base: LTHHparams, criterion: str, density: float, rounds: int = 0) -> LTHHparams:
    """Pruning at initialisation of ``base``'s ``theta_k`` by ``criterion`` to ``density``.

    Parameters
    ----------
    base : LTHHparams
        Data, model, training, pruning scope (global, layerwise or erk), exclusions and rewind
        point ``k`` (the weights scored and trained).
    criterion : str
        A registered pruning criterion (``magnitude``, ``snip``, ``grasp``, ``synflow``,
        ``random``, ...).
    density : float
        Target overall density in (0, 1] of the pruned layers.
    rounds : int
        Pruning rounds on the exponential schedule (0: the criterion's default).

    Returns
    -------
    LTHHparams
        A level-1 run whose parent is level 0 (the lineage's initialisation).
    """
    if base.pruning.prune_bias:
        raise InputError("pruning at initialisation scores weights only: it does not take "
                         "{prune_bias}", PruningHparams)
    level = LevelHparams(level=1, parent=hparams_hash(dense_level(base)), source="pai",
                         density=density, criterion=criterion, rounds=rounds)
    return dataclasses.replace(base, level=level)


def from_preset(name: str, **changes: dict) -> LTHHparams:
    """The :class:`LTHHparams` of LTH preset ``name``, with per-section changes.

    Parameters
    ----------
    name : str
        An LTH preset of :data:`empirical.config.presets.PRESETS` (e.g. ``"mnist1d-lth"``).
    **changes : dict
        ``section={field: value}`` overrides (sections: dataset, model, training, pruning).

    Returns
    -------
    LTHHparams
    """
    from empirical.config.hparams import from_dict
    from empirical.config.presets import get_preset

    preset = get_preset(name, KIND)
    sections = {s: preset.section(s) for s in ("dataset", "model", "training", "pruning")}
    for section, values in changes.items():
        if section not in sections:
            raise ValueError(f"unknown section {section!r}; choose one of {', '.join(sections)}")
        sections[section].update(values)
    return from_dict(LTHHparams, sections)
