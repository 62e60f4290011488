"""The planted-ticket study: recovery of construction tickets, and Plant 'n' Seek density curves.

Recovery (:func:`recovery_rows`): per seed, a random bias-free target of
``PlantedScale.target_widths``, a ticket of it in a fresh random source by each construction
(Pensia et al.'s subset sums: a real-weight ticket; multi-prize counting: a binary one), inputs
uniform in the unit ball labelled by the target's argmax, and every search at the planted density
and larger kept fractions: found ticket accuracy against the planted ticket's, Jaccard overlap
per layer, layer collapse.

Plant 'n' Seek (:func:`seek_rows`): every search's test score against the kept fraction on each
task of :mod:`verify.plant_seek`, with the planted ticket's score and density.

Every search is a run of the run store (:func:`verify.planted_runs.recovery`, kind ``planted``):
a second call reads the rows back and trains nothing. The searches are the scale's, or, where it
names none, every one of :func:`verify.planted.searches` (so a newly registered top-k mask rule
joins the study).
"""

from __future__ import annotations

import os
from typing import Any

from verify.scales import PlantedScale


def _training(section: dict[str, Any], seed: int = 0) -> Any:
    from empirical.config.hparams import TrainingHparams, from_dict

    return from_dict(TrainingHparams, {**dict(section), "seed": seed})


def searches_of(sizes: PlantedScale) -> tuple[str, ...]:
    """The scale's searches, or every registered one (:func:`verify.planted.searches`)."""
    from verify.planted import searches

    return tuple(sizes.algorithms) if sizes.algorithms else searches()


def recovery_runs(sizes: PlantedScale) -> list[Any]:
    """Every construction x search x kept fraction (the planted density, then
    ``extra_keeps``) x seed of the recovery study, as :class:`verify.planted_runs.PlantedRun`."""
    from verify.planted_runs import PlantedRun, sweep

    runs = []
    for method, block in sizes.constructions.items():
        base = PlantedRun(planted=method, target_widths=tuple(sizes.target_widths),
                          eps=sizes.eps, block_size=block, n_train=sizes.n_train,
                          n_test=sizes.n_test, training=_training(sizes.training))
        runs += sweep(base, searches_of(sizes), [None, *sizes.extra_keeps], sizes.seeds)
    return runs


def seek_runs(sizes: PlantedScale) -> list[Any]:
    """Every Plant 'n' Seek task x search x kept fraction (the planted density, then
    ``seek_keeps``) x seed."""
    from verify.planted_runs import PlantedRun, sweep

    runs = []
    for task in sizes.tasks:
        base = PlantedRun(planted=task, width=sizes.seek_width, examples=sizes.seek_examples,
                          batch_size=sizes.seek_batch_size,
                          training=_training(sizes.seek_training))
        runs += sweep(base, searches_of(sizes), [None, *sizes.seek_keeps], sizes.seeds)
    return runs


def recovery_rows(sizes: PlantedScale, runs_dir: str | os.PathLike | None = None,
                  progress: bool = True) -> list[dict[str, Any]]:
    """The rows of :func:`recovery_runs` (:func:`verify.planted_runs.recovery`)."""
    from verify.planted_runs import recoveries

    return recoveries(recovery_runs(sizes), runs_dir, progress)


def seek_rows(sizes: PlantedScale, runs_dir: str | os.PathLike | None = None,
              progress: bool = True) -> list[dict[str, Any]]:
    """The rows of :func:`seek_runs` (:func:`verify.planted_runs.recovery`)."""
    from verify.planted_runs import recoveries

    return recoveries(seek_runs(sizes), runs_dir, progress)
