"""The planted-ticket study: recovery of construction tickets, and Plant 'n' Seek density curves.

Recovery (:func:`recovery_rows`): per seed, a random bias-free target of
``PlantedScale.target_widths`` (:func:`theory.networks.random_target`), a ticket of it in a fresh
random source by each construction (Pensia et al.'s subset sums: a real-weight ticket; multi-prize
counting: a binary one), inputs uniform in the unit ball labelled by the target's argmax, and
every algorithm of :mod:`verify.planted` at the planted density and larger kept fractions: found
ticket accuracy against the planted ticket's, Jaccard overlap per layer, layer collapse.

Plant 'n' Seek (:func:`seek_rows`): edge-popup's test score against the kept fraction on each task
of :mod:`verify.plant_seek`, with the planted ticket's score and density.

Nothing here is a stored run (the sources are drawn from seeds, not trained): every number is
recomputed, seeded, on each call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from verify.scales import PlantedScale

TARGET_SEED_STREAM, SOURCE_SEED_STREAM, DATA_SEED_STREAM = 0, 1, 2


def _seed(seed: int, stream: int) -> int:
    """A seed mixed from the study seed and a stream number (``SeedSequence``)."""
    return int(np.random.SeedSequence([int(seed), int(stream)]).generate_state(1)[0])


def _training(section: dict[str, Any]) -> Any:
    from empirical.config.hparams import TrainingHparams, from_dict

    return from_dict(TrainingHparams, dict(section))


def recovery_rows(sizes: PlantedScale, progress: bool = True,
                  on_row: Callable[[dict[str, Any]], Any] | None = None) -> list[dict[str, Any]]:
    """Every construction x algorithm x kept fraction x seed of the recovery study.

    Returns
    -------
    list of dict
        :func:`verify.planted.recover` rows with ``construction``, ``block_size``,
        ``k_setting`` (``"planted"`` at the planted density, which differs between seeds, else
        the kept fraction) and the construction's ``certified_error`` and ``planted_success``
        added.
    """
    from tqdm.auto import tqdm

    from theory.constructions import get_method
    from theory.networks import random_target
    from verify.planted import from_construction, recover, teacher_task

    training = _training(sizes.training)
    total = (len(sizes.seeds) * len(sizes.constructions) * len(sizes.algorithms)
             * (len(sizes.extra_keeps) + 1))
    rows: list[dict[str, Any]] = []
    with tqdm(total=total, desc="planted recovery", unit="run", disable=not progress) as bar:
        for seed in sizes.seeds:
            target = random_target(list(sizes.target_widths),
                                   np.random.default_rng(_seed(seed, TARGET_SEED_STREAM)))
            data = teacher_task(target, sizes.n_train, sizes.n_test,
                                _seed(seed, DATA_SEED_STREAM))
            for method, block in sizes.constructions.items():
                result = get_method(method)(target, sizes.eps, 0.1,
                                            np.random.default_rng(_seed(seed, SOURCE_SEED_STREAM)),
                                            block_size=block)
                ticket = from_construction(result)
                keeps = sorted({ticket.density, *sizes.extra_keeps})
                for algorithm in sizes.algorithms:
                    for keep in keeps:
                        row = recover(ticket, data, algorithm, keep, training, seed=seed)
                        rows.append({"construction": method, "block_size": block,
                                     "k_setting": ("planted" if keep == ticket.density
                                                   else f"{keep:g}"), **row,
                                     "certified_error": result.certified_error,
                                     "planted_success": bool(result.success)})
                        bar.update(1)
                        if on_row is not None:
                            on_row(rows[-1])
    return rows


def seek_rows(sizes: PlantedScale, progress: bool = True) -> list[dict[str, Any]]:
    """Edge-popup against the kept fraction on every Plant 'n' Seek task of ``sizes``.

    Returns
    -------
    list of dict
        :func:`verify.plant_seek.density_sweep` rows.
    """
    from tqdm.auto import tqdm

    from verify.plant_seek import density_sweep

    training = _training(sizes.seek_training)
    rows: list[dict[str, Any]] = []
    for task in tqdm(sizes.tasks, desc="plant 'n' seek", unit="task", disable=not progress):
        rows += density_sweep(task, sizes.seek_keeps, training, sizes.seeds,
                              width=sizes.seek_width, n=sizes.seek_examples,
                              batch_size=sizes.seek_batch_size)
    return rows
