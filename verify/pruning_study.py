"""Pruning methods compared at matched density: IMP, its retraining variants, pruning at
initialisation, their sanity ablations, instability and layer collapse.

One study, on the run store, for the comparisons a lottery-ticket paper is asked for at review:

- accuracy against weights remaining for IMP with reset (``theta_0``) and with weight rewinding
  (``theta_k``), learning-rate rewinding and fine-tuning (Renda, Frankle & Carbin, ICLR 2020),
  and pruning at initialisation by each registered criterion (SNIP, GraSP, SynFlow, magnitude;
  random with uniform and ERK layer densities), every method at the densities of IMP levels
  (:attr:`verify.scales.PruningScale.matched_levels`);
- the sanity ablations of Frankle et al. (ICLR 2021) at chosen levels: re-initialise, shuffle
  within layers, invert the scores;
- instability (Frankle, Dziugaite, Roy & Carbin, ICML 2020) of the dense network and of IMP tickets
  against the rewind point ``k``;
- layer collapse of each criterion's mask as the density falls (Tanaka et al., NeurIPS 2020),
  computed on ``theta_0`` without training.

Every trained run goes through :mod:`empirical.algorithms.lth`, so nothing is trained twice.
Intervals over seeds and paired differences (arms sharing a seed share the initialisation, the
data and the split) are made from these rows by :mod:`verify.pruning_tables`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from verify.scales import PruningScale

#: Plot name of each run source of the rewinding lineage (weights rewound to theta_k).
REWIND_ARMS = {"imp": "IMP (rewind)", "lr-rewind": "LR rewinding", "finetune": "fine-tuning"}
ABLATION_NAMES = {"reinit": "re-init", "shuffle": "shuffle", "invert": "invert"}


def _base(preset: str, seed: int, sizes: PruningScale, rewind: str = "0it",
          scope: str | None = None) -> Any:
    from empirical.config.lth_hparams import from_preset

    pruning = {"rewind": rewind}
    if scope is not None:
        pruning["scope"] = scope
    base = from_preset(preset, training={**sizes.training, "seed": seed})
    # pruning-at-initialisation scopes replace the preset's per-layer IMP rates
    kept = {} if scope else {"rate": base.pruning.rate, "conv_rate": base.pruning.conv_rate,
                             "output_rate": base.pruning.output_rate}
    return dataclasses.replace(base, pruning=dataclasses.replace(
        type(base.pruning)(init=base.pruning.init, exclude=base.pruning.exclude,
                           **{k: v for k, v in kept.items() if v is not None}), **pruning))


def _length(training: Any) -> str:
    """``"1,000 iterations"`` or ``"15 epochs"``: the training length of a recipe."""
    if training.iterations > 0:
        return f"{training.iterations:,} iterations"
    return f"{training.epochs:,} epochs"


def training_note(sizes: PruningScale) -> str:
    """How long each net of the study trains against its preset's own recipe, one clause each.

    Every arm of a net trains the study's length (``sizes.training``); where that is shorter
    than the preset's, the dense reference and the tickets are trained below the recipe, which a
    figure must say.
    """
    from empirical.config.lth_hparams import from_preset

    clauses = []
    for model, preset in sizes.models.items():
        ours, theirs = _length(_base(preset, 0, sizes).training), _length(
            from_preset(preset).training)
        clauses.append(f"{model}: {ours}" + ("" if ours == theirs else
                                             f" (its preset {preset}: {theirs})"))
    return "; ".join(clauses)


def _row(model: str, seed: int, arm: str, family: str, row: Mapping[str, Any],
         level: int | None = None, **extra: Any) -> dict[str, Any]:
    """A tidy row; ``level`` is the IMP level whose density the run matches (default: its own)."""
    return {"model": model, "seed": seed, "arm": arm, "family": family,
            "level": row["level"] if level is None else level, "source": row["source"],
            "density": row["density"],
            "weights_remaining": 100.0 * row["density"], "test_acc": row["test_acc"],
            "early_stop_test_acc": row["early_stop_test_acc"],
            "outputs_reachable": row.get("outputs_reachable"),
            "empty_layers": len(row.get("empty_layers") or ()), "dataset": row["dataset"],
            "hash": row["hash"], "reused": row["reused"], **extra}


def run_study(sizes: PruningScale, runs_dir: str | os.PathLike | None = None,
              data_dir: str | os.PathLike | None = None, progress: bool = True,
              on_row: Callable[[dict[str, Any]], Any] | None = None) -> list[dict[str, Any]]:
    """Every trained arm of the study (rows of accuracy against density; see :func:`_row`).

    Families: ``method`` (IMP reset / rewind at every level, level 0 being the dense network;
    LR rewinding, fine-tuning and every PaI arm at ``sizes.matched_levels``) and ``ablation``
    (re-init, shuffle, invert of the ``ablated`` arms at ``ablation_levels``; ``of`` names the
    ablated arm). ``level`` is the IMP level whose density a run matches, so arms compare level
    by level (and seed by seed: paired).
    """
    import torch
    from tqdm.auto import tqdm

    from empirical.algorithms.lth import control_run, run_level, run_lth, run_pai
    from empirical.algorithms.mpt import make_batches
    from empirical.config.hparams import RuntimeConfig
    from empirical.config.lth_hparams import ABLATIONS, RETRAININGS, imp_chain
    from empirical.device import Distributed

    runtime = RuntimeConfig(data_dir=None if data_dir is None else str(data_dir), progress=False)
    rows: list[dict[str, Any]] = []
    bar = tqdm(desc="pruning-study runs", unit="run", disable=not progress)

    def add(row: dict[str, Any]) -> None:
        rows.append(row)
        bar.update(1)
        if on_row is not None:
            on_row(row)

    for model, preset in sizes.models.items():
        for seed in sizes.seeds:
            reset = _base(preset, seed, sizes)
            rewound = _base(preset, seed, sizes, sizes.rewind)
            imp_rows = run_lth(reset, sizes.levels, runs_dir=runs_dir, runtime=runtime)
            for r in imp_rows:
                add(_row(model, seed, "dense" if r["level"] == 0 else "IMP (reset)", "method",
                         r))
            for r in run_lth(rewound, sizes.levels, runs_dir=runs_dir, runtime=runtime):
                if r["level"] >= 1:
                    add(_row(model, seed, REWIND_ARMS[r["source"]], "method", r))
            rewind_chain = imp_chain(rewound, sizes.levels)
            steps = make_batches(rewound, runtime, torch.device("cpu"),
                                 Distributed())[0].steps_per_epoch
            for level in sizes.matched_levels:
                for retraining in RETRAININGS:
                    r = run_level(control_run(rewind_chain[level], retraining, 0, steps),
                                  runs_dir, runtime)
                    add(_row(model, seed, REWIND_ARMS[retraining], "method", r))
            densities = {r["level"]: r["density"] for r in imp_rows
                         if r["level"] in sizes.matched_levels}
            chain = imp_chain(reset, sizes.levels)
            for level in sizes.ablation_levels if "IMP (reset)" in sizes.ablated else ():
                for ablation in ABLATIONS:
                    r = run_level(control_run(chain[level], ablation), runs_dir, runtime)
                    add(_row(model, seed, ABLATION_NAMES[ablation], "ablation", r,
                             of="IMP (reset)"))
            for method in sizes.pai:
                base = _base(preset, seed, sizes, scope=method.scope)
                for level, density in densities.items():
                    ablated = level in sizes.ablation_levels and method.label in sizes.ablated
                    ablations = ABLATIONS if ablated else ()
                    pai_rows = run_pai(base, method.criterion, density, ablations,
                                       runs_dir=runs_dir, runtime=runtime)
                    add(_row(model, seed, method.label, "method", pai_rows[1], level))
                    for r in pai_rows[2:]:
                        add(_row(model, seed, ABLATION_NAMES[r["source"]], "ablation", r, level,
                                 of=method.label))
    bar.close()
    return rows


def run_stability(sizes: PruningScale, runs_dir: str | os.PathLike | None = None,
                  data_dir: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Instability of the dense network and of IMP tickets against the rewind point.

    Returns
    -------
    list of dict
        model, seed, level, rewind, train_instability, test_instability, test_size, test_acc
        (the level's own run), dense_test_acc (its lineage's level 0) and the copies' hashes;
        one row per (model, seed, level, rewind).
    """
    from empirical.algorithms.lth import run_level, run_lth
    from empirical.algorithms.stability import run_instability
    from empirical.config.hparams import RuntimeConfig
    from empirical.config.lth_hparams import imp_chain

    runtime = RuntimeConfig(data_dir=None if data_dir is None else str(data_dir), progress=False)
    rows = []
    for model, preset in sizes.models.items():
        for seed in sizes.seeds:
            for rewind in sizes.stability_rewinds:
                base = _base(preset, seed, sizes, rewind)
                last = max(sizes.stability_levels)
                if last:
                    run_lth(base, last, runs_dir=runs_dir, runtime=runtime)
                chain = imp_chain(base, last)
                for level in sizes.stability_levels:
                    path, copies = run_instability(chain[level], rewind if level == 0 else None,
                                                   runs_dir=runs_dir, runtime=runtime)
                    rows.append({"model": model, "seed": seed, "level": level, "rewind": rewind,
                                 "density": copies[0]["density"],
                                 "train_instability": path.train_instability,
                                 "test_instability": path.test_instability,
                                 "test_size": path.test_size,
                                 "test_acc": run_level(chain[level], runs_dir,
                                                       runtime)["test_acc"],
                                 "dense_test_acc": run_level(chain[0], runs_dir,
                                                             runtime)["test_acc"],
                                 "hash": copies[0]["hash"], "hash_2": copies[1]["hash"],
                                 "reused": all(c["reused"] for c in copies)})
    return rows


def collapse_table(sizes: PruningScale, data_dir: str | os.PathLike | None = None
                   ) -> list[dict[str, Any]]:
    """Layer collapse of every PaI arm's mask on ``theta_0`` at ``collapse_densities``.

    Returns
    -------
    list of dict
        model, seed, arm, density, collapsed, empty_layers, outputs_reachable, outputs; masks
        only (nothing is trained).
    """
    import torch

    from empirical.algorithms.lth import build_lth_model
    from empirical.algorithms.mpt import make_batches
    from empirical.algorithms.pruning_at_init import prune_at_init
    from empirical.config.hparams import RuntimeConfig
    from empirical.device import Distributed

    runtime = RuntimeConfig(data_dir=None if data_dir is None else str(data_dir), progress=False)
    rows = []
    for model, preset in sizes.models.items():
        for seed in sizes.seeds:
            for method in sizes.pai:
                base = _base(preset, seed, sizes, scope=method.scope)
                train, _, _ = make_batches(base, runtime, torch.device("cpu"), Distributed())
                batch = next(iter(train.epoch(0)))
                for density in sizes.collapse_densities:
                    net = build_lth_model(base, seed)
                    result = prune_at_init(net, method.criterion, density, scope=method.scope,
                                           batch=batch, exclude=base.pruning.exclude, seed=seed)
                    c = result.collapse
                    rows.append({"model": model, "seed": seed, "arm": method.label,
                                 "density": density, "collapsed": c.collapsed,
                                 "empty_layers": len(c.empty_layers),
                                 "outputs_reachable": c.outputs_reachable,
                                 "outputs": c.outputs})
    return rows


def supermask_table(rows: Sequence[Mapping[str, Any]], runs_dir: str | os.PathLike | None = None,
                    data_dir: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """The accuracy each method's mask carries by itself, untrained (Zhou et al., NeurIPS 2019).

    For every pruned run of the ``method`` family: its mask on ``theta_0`` and on the signed
    constants of ``theta_0``; and, at the density of each IMP (reset) level, Zhou et al.'s "large
    final, same sign" mask of the trained dense network (arm ``large final, same sign``).

    Returns
    -------
    list of dict
        model, seed, arm, level, weights_remaining, supermask_acc, signed_constant_acc, hash.
    """
    from empirical.algorithms.lth import build_lth_model, read_hparams, trained_model
    from empirical.algorithms.model_masks import prunable_weights
    from empirical.config.lth_hparams import dense_level
    from empirical.storage.store import RunStore
    from verify.ticket_cost import large_final_same_sign, supermask_accuracy

    data = None if data_dir is None else str(data_dir)
    out = []
    for row in rows:
        if row["family"] != "method" or row["arm"] == "dense":
            continue
        hparams = read_hparams(runs_dir, row["hash"])
        masks = RunStore.for_run(runs_dir, "lth", hparams).load_ticket()["masks"]
        entries = [(row["arm"], masks)]
        if row["arm"] == "IMP (reset)":
            dense = dense_level(hparams)
            initial = prunable_weights(build_lth_model(dense, dense.training.seed))
            final = prunable_weights(trained_model(dense, RunStore.for_run(runs_dir, "lth",
                                                                           dense)))
            entries.append(("large final, same sign",
                            large_final_same_sign(initial, final, row["density"])))
        for arm, mask in entries:
            out.append({"model": row["model"], "seed": row["seed"], "arm": arm,
                        "level": row["level"], "weights_remaining": row["weights_remaining"],
                        "supermask_acc": supermask_accuracy(hparams, mask, runs_dir,
                                                            data_dir=data),
                        "signed_constant_acc": supermask_accuracy(
                            hparams, mask, runs_dir, signed_constant=True, data_dir=data),
                        "hash": row["hash"]})
    return out


def cost_table(rows: Sequence[Mapping[str, Any]], runs_dir: str | os.PathLike | None = None,
               data_dir: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """:func:`verify.ticket_cost.cost_row` of every run of the study, with its arm and level."""
    from empirical.algorithms.lth import read_hparams
    from empirical.storage.store import RunStore
    from verify.ticket_cost import cost_row

    data = None if data_dir is None else str(data_dir)
    out = []
    for row in rows:
        path = RunStore.for_run(runs_dir, "lth", read_hparams(runs_dir, row["hash"])).path
        cost = cost_row(path, data)
        out.append({"model": row["model"], "seed": row["seed"], "arm": row["arm"],
                    "family": row["family"], "level": row["level"],
                    **{k: v for k, v in cost.items() if k != "layer_density"}})
    return out
