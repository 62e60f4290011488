"""Planted-ticket recoveries as runs of the run store, and their table with intervals.

One recovery (:class:`PlantedRun`) plants a ticket in a source - a construction's strong ticket of
a random target (Pensia et al.'s subset sums, multi-prize counting) or a Plant 'n' Seek task's
target (:mod:`verify.plant_seek`) - and runs one search of :func:`verify.planted.searches` on it
(:func:`verify.planted.recover`). The run lives in ``runs_dir/planted/<hash>/`` like every
training run (:mod:`empirical.storage.store`): ``hparams.json`` (every field of the
:class:`PlantedRun`, hashed into the directory's name over the fields that differ from their
defaults, so a field added with a default leaves existing runs' names alone), ``ticket.pt`` (the
found masks) and a sealed ``result.json`` holding the row. :func:`recovery` returns a finished
run's row without training; identical settings never train twice, and two processes asking for
the same run wait on its lock.

:func:`recovery_table` summarises rows over seeds with 95% t intervals
(:func:`verify.stats.t_interval`): test score and Jaccard of the found ticket against the planted
one, the Jaccard of random masks with the same per-layer counts (chance), and the paired
difference Jaccard minus chance (:func:`verify.stats.paired_difference`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from empirical.config.hparams import TrainingHparams, check_choice, check_positive, hp
from empirical.errors import InputError
from verify.plant_seek import ANNEALS, BIAS_PLANTINGS, LOSSES
from verify.plant_seek import TASKS as SEEK_TASKS

KIND = "planted"
CONSTRUCTIONS = ("pensia", "mpt-binary")
"""Constructions whose ticket of a random bias-free target can be planted (real and binary)."""
PLANTABLE = (*CONSTRUCTIONS, *SEEK_TASKS)
DELTA = 0.1
"""Failure probability the constructions are asked for."""
TARGET_SEED_STREAM, SOURCE_SEED_STREAM, DATA_SEED_STREAM = 0, 1, 2


@dataclass(frozen=True)
class PlantedRun:
    """One recovery: what is planted, on which data, and which search looks for it."""

    planted: str = hp("pensia", "what is planted: a construction's ticket of a random target "
                                "(pensia, mpt-binary) or a Plant 'n' Seek task (relu, circle, "
                                "helix)", choices=PLANTABLE)
    target_widths: tuple[int, ...] = hp((4, 8, 3), "construction: widths of the random target, "
                                                   "comma separated")
    eps: float = hp(0.05, "construction: sup-norm accuracy on the unit ball")
    block_size: int = hp(16, "construction: source units per target input coordinate")
    n_train: int = hp(1000, "construction: training inputs (unit ball, labels the target's)")
    n_test: int = hp(500, "construction: test inputs")
    width: int = hp(100, "plant-seek: hidden width of the depth-5 source")
    examples: int = hp(10_000, "plant-seek: examples, the first 90%% train")
    biases: str = hp("constant", "plant-seek: plant biases as weights from a constant input "
                                 "(constant) or as biases (biases)", choices=BIAS_PLANTINGS)
    seed: int = hp(0, "seed of the planted ticket, its target and its data")
    search: str = hp("edge-popup", "search: edge-popup, biprop, MODE:RULE, imp")
    keep: float | None = hp(None, "kept fraction k (default: the planted density)")
    scope: str = hp("layerwise", "top-k per layer (layerwise) or one threshold (global)",
                    choices=("layerwise", "global"))
    bias_scores: bool = hp(False, "prune the biases too, by scores of their own (needs "
                                  "--biases biases)")
    anneal: str = hp("none", "kept fraction over the epochs: none, or geometric k^((e+1)/E)",
                     choices=ANNEALS)
    loss: str = hp("default", "training objective: default (cross-entropy of the logits, or "
                              "MSE) or softmax-ce (Plant 'n' Seek's: cross-entropy of a softmax "
                              "output, classification)", choices=LOSSES)
    batch_size: int = hp(128, "training batch size")
    training: TrainingHparams = field(default_factory=TrainingHparams)

    def __post_init__(self) -> None:
        from verify.planted import parse_search

        for name, choices in (("planted", PLANTABLE), ("biases", BIAS_PLANTINGS),
                              ("scope", ("layerwise", "global")), ("anneal", ANNEALS),
                              ("loss", LOSSES)):
            check_choice(self, name, choices)
        object.__setattr__(self, "target_widths", tuple(int(w) for w in self.target_widths))
        if len(self.target_widths) < 2 or min(self.target_widths) < 1:
            raise InputError("{target_widths} needs two or more widths >= 1, got {got}",
                             PlantedRun, got=list(self.target_widths))
        for name in ("eps", "block_size", "n_train", "n_test", "width", "examples",
                     "batch_size"):
            check_positive(self, name)
        if self.keep is not None and not (math.isfinite(self.keep) and 0 < self.keep <= 1):
            raise InputError("{keep} must lie in (0, 1], got {got!r}", PlantedRun, got=self.keep)
        try:
            mode, _ = parse_search(self.search)
        except ValueError as err:
            raise InputError("{search}: {why}", PlantedRun, why=str(err)) from None
        if mode == "masked" and (self.bias_scores or self.anneal != "none"):
            raise InputError("{bias_scores} and {anneal} apply to score searches, not "
                             "{search=imp}", PlantedRun)
        if self.loss == "softmax-ce" and self.planted in ("relu", "helix"):
            raise InputError("{loss=softmax-ce} is for classification, not {planted}",
                             PlantedRun)
        if self.is_task:
            from verify.plant_seek import target_network

            need = max(target_network(self.planted).widths[1:-1]) + (self.biases == "constant")
            if self.width < need:
                raise InputError("{width} {got} is too narrow for the {task} target: at least "
                                 "{need}", PlantedRun, got=self.width, task=self.planted,
                                 need=need)
        if self.bias_scores and (self.planted not in SEEK_TASKS or self.biases != "biases"):
            raise InputError("{bias_scores} needs a source with biases: a Plant 'n' Seek task "
                             "with {biases=biases}", PlantedRun)

    @property
    def is_task(self) -> bool:
        """Whether a Plant 'n' Seek task is planted (else a construction's ticket)."""
        return self.planted in SEEK_TASKS


@dataclass(frozen=True)
class Planted:
    """A planted ticket, its task, and the columns that describe them (``facts``)."""

    ticket: Any
    data: Any
    facts: dict[str, Any]


def _seed(seed: int, stream: int) -> int:
    """A seed mixed from the run seed and a stream number (``SeedSequence``)."""
    return int(np.random.SeedSequence([int(seed), int(stream)]).generate_state(1)[0])


def _source(run: PlantedRun) -> PlantedRun:
    """``run`` with every search field at its default: the key of the planted ticket."""
    return dataclasses.replace(run, search="edge-popup", keep=None, scope="layerwise",
                               bias_scores=False, anneal="none", loss="default", batch_size=128,
                               training=TrainingHparams())


@functools.lru_cache(maxsize=8)
def _plant(source: PlantedRun) -> Planted:
    if source.is_task:
        from verify import plant_seek

        target = plant_seek.target_network(source.planted)
        widths = plant_seek.source_widths(source.planted, source.width, biases=source.biases)
        ticket = plant_seek.plant(target, widths, source.seed, f"plant-seek {source.planted}",
                                  biases=source.biases)
        raw = plant_seek.task_data(source.planted, source.seed, source.examples)
        data = raw if source.biases == "biases" else dataclasses.replace(
            raw, x_train=plant_seek.with_constant(raw.x_train),
            x_test=plant_seek.with_constant(raw.x_test))
        facts = {"task": source.planted, "width": source.width,
                 "target_score": plant_seek.score(target(raw.x_test), raw.y_test, raw.task),
                 "baseline_score": plant_seek.baseline(raw), "n_test": len(raw.y_test)}
        return Planted(ticket, data, facts)
    from theory.constructions import get_method
    from theory.networks import random_target
    from verify.planted import from_construction, teacher_task

    target = random_target(list(source.target_widths),
                           np.random.default_rng(_seed(source.seed, TARGET_SEED_STREAM)))
    data = teacher_task(target, source.n_train, source.n_test,
                        _seed(source.seed, DATA_SEED_STREAM))
    result = get_method(source.planted)(
        target, source.eps, DELTA, np.random.default_rng(_seed(source.seed, SOURCE_SEED_STREAM)),
        block_size=source.block_size)
    facts = {"construction": source.planted, "block_size": source.block_size,
             "certified_error": float(result.certified_error),
             "planted_success": bool(result.success), "n_test": source.n_test}
    return Planted(from_construction(result), data, facts)


def plant(run: PlantedRun) -> Planted:
    """The planted ticket and task of ``run`` (seeded; cached for runs on the same source)."""
    return _plant(_source(run))


def _train(run: PlantedRun, store: Any) -> dict[str, Any]:
    """Run the recovery and store it: hyperparameters, found masks, then the sealed row."""
    from empirical.layers import layer_masks, prunable_layers
    from verify.plant_seek import geometric_keep, softmax_cross_entropy
    from verify.planted import recover_model

    planted = plant(run)
    keep = planted.ticket.density if run.keep is None else run.keep
    epochs = run.training.epochs
    schedule = ((lambda epoch: geometric_keep(keep, epoch, epochs))
                if run.anneal == "geometric" else None)
    loss = softmax_cross_entropy if run.loss == "softmax-ce" else None
    model, row = recover_model(planted.ticket, planted.data, run.search, keep, run.training,
                               run.batch_size, run.training.seed, run.scope, run.bias_scores,
                               schedule, loss)
    masks = {name: mask.bool() for name, mask in layer_masks(model).items()}
    masks.update({f"{name}.bias": layer.bias_score_mask().bool()
                  for name, layer in prunable_layers(model) if layer.bias_score_mask() is not None})
    result = {**planted.facts, **row,
              "k_setting": "planted" if run.keep is None else f"{run.keep:g}",
              "anneal": run.anneal, "bias_scores": run.bias_scores, "loss": run.loss,
              "hash": store.name,
              "test_acc": row.get("test_acc")}
    store.remove_stale_temporaries()
    store.write_hparams(KIND, run)
    store.save_ticket({"masks": masks})
    store.write_result(result)
    return result


def recovery(run: PlantedRun, runs_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """The row of ``run``: read from the run store when finished there, else trained now and
    stored (under the run's lock; a second process waits and reads it).

    Parameters
    ----------
    run : PlantedRun
        The recovery.
    runs_dir : path, optional
        Root of the run store (default: ``$TICKETS_RUNS`` or ``./runs``).

    Returns
    -------
    dict
        :func:`verify.planted.recover`'s row with the planted ticket's facts (construction or
        task columns), ``k_setting`` (``planted`` or the kept fraction), ``hash`` (the run's
        directory name) and ``reused`` (whether it was read back, not trained).
    """
    from empirical.storage.store import RunStore, register_run_kind

    register_run_kind(KIND, PlantedRun)
    store = RunStore.for_run(runs_dir, KIND, run)
    result = store.reusable_result(warn=False)
    reused = result is not None
    if result is None:
        with store.lock():
            result = store.reusable_result()
            reused = result is not None
            if result is None:
                result = _train(run, store)
    return {**result, "reused": reused}


def recoveries(runs: Iterable[PlantedRun], runs_dir: str | os.PathLike | None = None,
               progress: bool = False) -> list[dict[str, Any]]:
    """:func:`recovery` of every run, in order (a progress bar on stderr if asked)."""
    from empirical.progress import progress_bar

    runs = list(runs)
    bar = progress_bar(len(runs), desc="planted recoveries", unit="run", enabled=progress)
    rows = []
    with contextlib.nullcontext() if bar is None else contextlib.closing(bar):
        for run in runs:
            rows.append(recovery(run, runs_dir))
            if bar is not None:
                bar.update(1)
    return rows


def sweep(base: PlantedRun, searches: Sequence[str], keeps: Sequence[float | None],
          seeds: Sequence[int]) -> list[PlantedRun]:
    """Every search x kept fraction (None: the planted density) x seed on ``base``'s source;
    the seed is the planted ticket's and the search's (``training.seed``)."""
    return [dataclasses.replace(base, search=search, keep=keep, seed=seed,
                                training=dataclasses.replace(base.training, seed=seed))
            for search in searches for keep in keeps for seed in seeds]


SCORES = ("test_acc", "test_mse")
GROUPS = ("planted", "algorithm", "k_setting", "anneal", "bias_scores", "loss")


def recovery_table(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows summarised over seeds: mean and 95% t interval of the test score, the planted
    ticket's score, the Jaccard of found and planted masks, its chance level and Jaccard minus
    chance (paired by seed), with the seeds and test-set size.

    Groups are planted x search x ``k_setting`` x anneal x bias scores x loss. An interval needs two
    seeds or more; with one seed its bounds are NaN.

    Returns
    -------
    list of dict
        ``<column>``, ``<column>_lo``, ``<column>_hi`` for the score (``test_acc`` or
        ``test_mse``), ``planted_<score>``, ``jaccard``, ``chance_jaccard`` and
        ``jaccard_minus_chance``; ``keep`` (mean), ``planted_keep``, ``collapsed_layers`` (max),
        ``seeds``, ``n_test``.
    """
    from verify.stats import paired_difference, t_interval

    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row.get(k) for k in GROUPS), []).append(row)
    out = []
    for key, members in groups.items():
        metric = next(m for m in SCORES if members[0].get(m) is not None)
        summary = dict(zip(GROUPS, key, strict=True))
        summary["keep"] = float(np.mean([m["keep"] for m in members]))
        summary["planted_keep"] = float(np.mean([m["planted_keep"] for m in members]))
        columns = {metric: [m[metric] for m in members],
                   f"planted_{metric}": [m[f"planted_{metric}"] for m in members],
                   "jaccard": [m["jaccard"] for m in members],
                   "chance_jaccard": [m["chance_jaccard"] for m in members]}
        for name, values in columns.items():
            summary.update(_interval(name, values, t_interval))
        summary.update(_interval("jaccard_minus_chance",
                                 (columns["jaccard"], columns["chance_jaccard"]),
                                 lambda pair: paired_difference(*pair).difference))
        summary["collapsed_layers"] = max(m["collapsed_layers"] for m in members)
        summary["seeds"] = len({m["seed"] for m in members})
        summary["n_test"] = members[0]["n_test"]
        out.append(summary)
    return out


def _interval(name: str, values: Any, interval: Any) -> dict[str, float]:
    """``name``, ``name_lo``, ``name_hi`` from ``interval(values)``; one value: no bounds."""
    size = len(values[0]) if isinstance(values, tuple) else len(values)
    if size < 2:
        mean = float(np.mean(values[0]) - np.mean(values[1]) if isinstance(values, tuple)
                     else np.mean(values))
        return {name: mean, f"{name}_lo": math.nan, f"{name}_hi": math.nan}
    got = interval(values)
    return {name: float(got.estimate), f"{name}_lo": float(got.low), f"{name}_hi": float(got.high)}
