"""Lottery tickets against their controls: accuracy and early-stop iteration vs weights remaining.

The study of Frankle & Carbin (ICLR 2019, figures on LeNet-300-100 and Conv-2/4/6): iterative
magnitude pruning (IMP) levels, each level's ticket retrained from the original initialisation,
against two controls at the same sparsity: the same mask with a random re-initialisation, and a
random mask with the same per-layer counts (random pruning). Every run goes through
:func:`empirical.algorithms.lth.run_lth`, so levels and controls live in the hashed run store and
are reused
when finished. Learning speed is the early-stopping iteration (minimum validation loss). Rows are
tidy (one per run) and carry the run hash; sizes come from :class:`verify.scales.LTHScale`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from verify.comparisons import (
    POINTS,
    Correct,
    arm_columns,
    examples_tested,
    mcnemar_columns,
    paired_columns,
)
from verify.scales import LTHScale

#: Plot names of the run sources of :mod:`empirical.config.lth_hparams`.
ARMS = {"dense": "IMP ticket", "imp": "IMP ticket", "reinit": "random re-init",
        "random-prune": "random pruning"}


@dataclass(frozen=True)
class Lineage:
    """One IMP chain of the study: a model and seed, levels ``0..levels`` with their controls.

    ``base`` is the :class:`empirical.config.lth_hparams.LTHHparams` that
    :func:`empirical.algorithms.lth.run_lth` starts from; the controls use ``control_seed``.
    """

    model: str
    preset: str
    seed: int
    base: Any
    levels: int
    controls: tuple[str, ...]
    control_seed: int

    def runs(self) -> list[Any]:
        """The hyperparameters of every run of the chain, in the order ``run_lth`` trains them."""
        from empirical.config.lth_hparams import derived, imp_chain

        chain = []
        for level in imp_chain(self.base, self.levels):
            chain.append(level)
            if level.level.level >= 1:
                chain += [derived(level, c, self.control_seed) for c in self.controls]
        return chain


def lineages(sizes: LTHScale) -> list[Lineage]:
    """Every IMP chain of the study, one per (model, seed), in the order :func:`run_study` runs
    them."""
    from empirical.config.lth_hparams import from_preset

    return [Lineage(model, preset, seed, from_preset(preset, training={**sizes.training,
                                                                        "seed": seed}),
                    sizes.levels_of(model), tuple(sizes.controls), seed)
            for model, preset in sizes.models.items() for seed in sizes.seeds_of(model)]


def runs_per_lineage(sizes: LTHScale, model: str) -> int:
    """Runs of one model and seed: levels ``0..N`` and every control at levels ``1..N``."""
    levels = sizes.levels_of(model)
    return levels + 1 + levels * len(sizes.controls)


def tidy_row(model: str, preset: str, seed: int, row: Mapping[str, Any]) -> dict[str, Any]:
    """One :func:`empirical.algorithms.lth.run_level` result as a tidy study row.

    Returns
    -------
    dict
        model, preset, seed, level, arm, source, density, weights_remaining (percent), test_acc,
        early_stop_step, early_stop_test_acc, dataset, hash, reused.
    """
    return {
        "model": model, "preset": preset, "seed": seed, "level": row["level"],
        "arm": ARMS[row["source"]], "source": row["source"], "density": row["density"],
        "weights_remaining": 100.0 * row["density"], "test_acc": row["test_acc"],
        "early_stop_step": row["early_stop_step"],
        "early_stop_test_acc": row["early_stop_test_acc"], "dataset": row["dataset"],
        "hash": row["hash"], "reused": row["reused"],
    }


def run_study(sizes: LTHScale, runs_dir: str | os.PathLike | None = None,
              data_dir: str | os.PathLike | None = None, progress: bool = True,
              on_row: Callable[[dict[str, Any]], Any] | None = None) -> list[dict[str, Any]]:
    """IMP with controls for every model and seed of ``sizes`` (runs reused when finished).

    Parameters
    ----------
    sizes : LTHScale
        Models (label -> LTH preset), levels, seeds, controls, training overrides.
    runs_dir, data_dir : path, optional
        Run store root and dataset directory.
    progress : bool
        Show a tqdm bar over the runs.
    on_row : callable, optional
        Called with each row when its run is done.

    Returns
    -------
    list of dict
        One row per run (see :func:`tidy_row`); the dense level 0 is the IMP ticket at 100%.
    """
    from tqdm.auto import tqdm

    from empirical.algorithms.lth import run_lth
    from empirical.config.hparams import RuntimeConfig

    runtime = RuntimeConfig(data_dir=None if data_dir is None else str(data_dir),
                            progress=False)
    rows: list[dict[str, Any]] = []
    total = sum(len(sizes.seeds_of(m)) * runs_per_lineage(sizes, m) for m in sizes.models)
    with tqdm(total=total, desc="LTH runs", unit="run", disable=not progress) as bar:
        for lineage in lineages(sizes):

            def done(row: dict[str, Any], lineage: Lineage = lineage) -> None:
                rows.append(tidy_row(lineage.model, lineage.preset, lineage.seed, row))
                bar.update(1)
                if on_row is not None:
                    on_row(rows[-1])

            run_lth(lineage.base, lineage.levels, controls=lineage.controls,
                    control_seed=lineage.control_seed, runs_dir=runs_dir, runtime=runtime,
                    on_row=done)
    return rows


def summary(rows: Sequence[Mapping[str, Any]], correct: Correct | None = None
            ) -> list[dict[str, Any]]:
    """Each model, arm and level over seeds, and the IMP ticket against what it is compared with.

    The IMP ticket of level ``l >= 1`` is paired with the dense network (level 0) of the same
    seed; each control with the IMP ticket of the same level and seed (its mask or per-layer
    counts come from that ticket).

    Parameters
    ----------
    rows : sequence of dict
        Rows of :func:`run_study`.
    correct : callable, optional
        Run hash -> per test example correctness (:func:`verify.comparisons.stored_correct`);
        without it the McNemar and test-size columns are missing.

    Returns
    -------
    list of dict
        model, arm, level, weights_remaining; test_acc (points) and early_stop_step with their
        95% t intervals over seeds (:func:`verify.comparisons.arm_columns`); dense_test_acc (the
        model's level-0 mean); ``paired`` (what the difference compares, e.g. ``IMP ticket -
        random re-init``), ``difference`` in points with its paired t interval and p-value
        (:func:`verify.comparisons.paired_columns`), ``only_ticket``, ``only_other`` and
        ``mcnemar_p`` on the pooled predictions; seeds, pairs, test_size.
    """
    import pandas as pd

    frame = pd.DataFrame(list(rows))
    frame["early_stop_step"] = pd.to_numeric(frame["early_stop_step"], errors="coerce")
    ticket = ARMS["imp"]
    by_run = frame.set_index(["model", "arm", "level", "seed"])
    hits = {str(h): None if correct is None else correct(str(h)) for h in frame["hash"]}
    table = []
    for (model, arm, level), runs in frame.groupby(["model", "arm", "level"], sort=False):
        runs = runs.set_index("seed")
        other = (model, ticket, 0) if arm == ticket else (model, ticket, level)
        paired = "" if (arm == ticket and level == 0) else (
            f"{ticket} - {'dense' if arm == ticket else arm}")
        base = by_run.loc[other] if paired else runs.iloc[:0]
        ours, theirs = (runs, base) if arm == ticket else (base, runs)
        seeds = sorted(set(ours.index) & set(theirs.index))
        table.append({
            "model": model, "arm": arm, "level": level,
            "weights_remaining": float(runs["weights_remaining"].mean()),
            **arm_columns("test_acc", runs["test_acc"]),
            **arm_columns("early_stop_step", runs["early_stop_step"], scale=1.0),
            "dense_test_acc": POINTS * float(
                frame.loc[(frame["model"] == model) & (frame["level"] == 0), "test_acc"].mean()),
            "paired": paired or "-",
            **paired_columns("difference", ours.loc[seeds, "test_acc"],
                             theirs.loc[seeds, "test_acc"]),
            **mcnemar_columns("ticket", "other", [hits[str(h)] for h in ours.loc[seeds, "hash"]],
                              [hits[str(h)] for h in theirs.loc[seeds, "hash"]]),
            "seeds": len(runs), "pairs": len(seeds),
            "test_size": examples_tested([hits[str(h)] for h in runs["hash"]]),
        })
    return table
