"""Multi-prize tickets against the weight-trained dense network: accuracy vs kept fraction k.

The study of Diffenderfer & Kailkhura (ICLR 2021, figures on Conv-2/4/6/8 depth and width): for
each model of a depth series and each width multiplier of one model, train biprop scores at every
kept fraction ``k`` (MPT-1/32: real activations; MPT-1/1: sign activations with non-affine
BatchNorm) and the dense network with trained weights, over several seeds. Every run goes through
:func:`empirical.algorithms.mpt.run_mpt`, so it lives in the hashed run store and a finished run is
read back,
never recomputed. The sizes come from :class:`verify.scales.MPTScale`; rows are tidy (one per run)
and carry the run hash.
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
from verify.scales import ModelSpec, MPTScale, WidthDepthScale

Setup = MPTScale | WidthDepthScale  # anything with dataset, presets and training overrides

DENSE = "dense"
#: Model settings of each variant on top of its preset (Diffenderfer & Kailkhura 2021: MPT-1/1
#: uses sign activations and non-affine BatchNorm; MPT-1/32 keeps the model's own; edge-popup,
#: Ramanujan et al. 2020, is the prune-only ablation whose kept weights stay real).
VARIANT_MODEL: dict[str, dict[str, Any]] = {
    "MPT-1/32": {},
    "MPT-1/1": {"binary_act": True, "bn": "nonaffine"},
    # +BN: gamma/beta learnt with the scores (the paper's "+BN" rows); on MNIST-1D the
    # non-affine choice overfits (test 24-31%, train 60-85%), affine BN reaches ~60%
    "MPT-1/1 +BN": {"binary_act": True, "bn": "affine"},
    "edge-popup": {},
    DENSE: {},
}
SECTIONS = ("dataset", "model", "mask", "training")
SETTING = ("series", "model", "width_mult")
"""The columns naming one network of a study (its score arms and dense baseline share them)."""


@dataclass(frozen=True)
class MPTPoint:
    """One run of the study: which series, model, width multiplier, variant, k and seed."""

    series: str
    model: ModelSpec
    width_mult: float
    variant: str
    keep: float
    seed: int


def preset_hparams(preset: str, changes: Mapping[str, Mapping[str, Any]]) -> Any:
    """The :class:`empirical.config.hparams.RunHparams` of ``preset`` with per-section ``changes``.

    Parameters
    ----------
    preset : str
        A biprop, edge-popup or dense preset of :data:`empirical.config.presets.PRESETS`.
    changes : mapping
        ``{section: {field: value}}`` applied over the preset (sections: dataset, model, mask,
        training); ``mask.mode`` is always the preset's algorithm.

    Returns
    -------
    RunHparams
    """
    from empirical.config.hparams import RunHparams, from_dict
    from empirical.config.presets import get_preset

    chosen = get_preset(preset)
    if chosen.algorithm not in ("biprop", "edge-popup", DENSE):
        raise ValueError(f"preset {preset!r} trains {chosen.algorithm}, not scores or dense")
    unknown = sorted(set(changes) - set(SECTIONS))
    if unknown:
        raise ValueError(f"unknown section {unknown[0]!r}; choose one of {', '.join(SECTIONS)}")
    sections = {s: {**chosen.section(s), **dict(changes.get(s, {}))} for s in SECTIONS}
    sections["mask"]["mode"] = chosen.algorithm
    return from_dict(RunHparams, sections)


def point_hparams(sizes: Setup, point: MPTPoint) -> Any:
    """The run hyperparameters of one point (preset + dataset, model, k, seed, scale overrides)."""
    preset = sizes.presets[point.variant]
    model = {"name": point.model.name, "widths": point.model.widths,
             "width_mult": point.width_mult, **VARIANT_MODEL[point.variant]}
    mask = {} if point.variant == DENSE else {"keep": point.keep}
    training = ({**sizes.dense_training, **point.model.dense_training}
                if point.variant == DENSE else sizes.training)
    return preset_hparams(preset, {
        "dataset": {"name": sizes.dataset, "val_size": study_val_size(sizes)}, "model": model,
        "mask": mask, "training": {**training, "seed": point.seed}})


def study_val_size(sizes: Setup) -> int:
    """The validation split of every run of a study: the score presets' (the dense baseline
    trains on the same training examples as the tickets it is compared with)."""
    from empirical.config.presets import get_preset

    sizes_of = {get_preset(sizes.presets[v]).section("dataset").get("val_size", 0)
                for v in sizes.presets if v != DENSE}
    if len(sizes_of) != 1:
        raise ValueError(f"the score presets of a study must share one validation split, got "
                         f"{sorted(sizes_of)}")
    return sizes_of.pop()


def point_runs(sizes: Setup, points: Sequence[MPTPoint]) -> list[Any]:
    """The distinct runs (:class:`RunHparams`, by hash, first occurrence first) that
    :func:`run_points` trains or reads back for ``points``."""
    from empirical.config.hparams import hparams_hash

    runs = {}
    for point in points:
        hparams = point_hparams(sizes, point)
        runs.setdefault(hparams_hash(hparams), hparams)
    return list(runs.values())


def study_points(sizes: MPTScale) -> list[MPTPoint]:
    """Every run of the study: the depth series, then the width series (duplicates removed).

    Each model (and each width multiplier of the width model) gets every variant at every kept
    fraction and the dense baseline (``keep = 1``), for every seed.
    """
    settings = [("depth", m, 1.0) for m in sizes.depth_models]
    settings += [("width", sizes.width_model, w) for w in sizes.width_mults]
    points = []
    for series, model, mult in settings:
        for seed in sizes.seeds:
            points.append(MPTPoint(series, model, mult, DENSE, 1.0, seed))
            points += [MPTPoint(series, model, mult, v, k, seed)
                       for v in sizes.variants for k in sizes.keeps]
    return points


def grid_points(depths: Sequence[int], widths: Sequence[int], keep: float,
                variants: Sequence[str], seeds: Sequence[int]) -> list[MPTPoint]:
    """MLPs of every depth (layers) and hidden width, each variant at ``keep`` and dense.

    Parameters
    ----------
    depths : sequence of int
        Numbers of linear layers (>= 2: at least one hidden layer).
    widths : sequence of int
        Hidden widths.
    keep : float
        Kept fraction of the score variants.
    variants : sequence of str
        Keys of :data:`VARIANT_MODEL` other than dense.
    seeds : sequence of int
        Seeds.

    Returns
    -------
    list of MPTPoint
        Series ``"grid"``; model labels ``MLP-<depth>x<width>``.
    """
    if any(d < 2 for d in depths) or any(w < 1 for w in widths):
        raise ValueError(f"depths must be >= 2 and widths >= 1, got {list(depths)}, "
                         f"{list(widths)}")
    unknown = [v for v in variants if v not in VARIANT_MODEL or v == DENSE]
    if unknown:
        choices = ", ".join(v for v in VARIANT_MODEL if v != DENSE)
        raise ValueError(f"unknown variant {unknown[0]!r}; choose one of {choices}")
    points = []
    for depth in depths:
        for width in widths:
            model = ModelSpec(f"MLP-{depth}x{width}", "fc", (width,) * (depth - 1), depth)
            for seed in seeds:
                points.append(MPTPoint("grid", model, 1.0, DENSE, 1.0, seed))
                points += [MPTPoint("grid", model, 1.0, v, keep, seed) for v in variants]
    return points


def run_point(sizes: Setup, point: MPTPoint, runs_dir: str | os.PathLike | None = None,
              data_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Train (or read back) one point and return its tidy row.

    Returns
    -------
    dict
        series, model, depth, widths, width_mult, variant, keep, seed, dataset, test_acc (the
        final one), val_acc (final, on the validation split carved from the training data),
        test_acc_at_best_val, train_acc, kept_overall, epochs, steps, hash, reused, seconds.
    """
    from empirical.algorithms.mpt import run_mpt
    from empirical.config.hparams import RuntimeConfig

    runtime = RuntimeConfig(data_dir=None if data_dir is None else str(data_dir),
                            progress=False)
    result = run_mpt(point_hparams(sizes, point), runs_dir, runtime)
    return {
        "series": point.series, "model": point.model.label, "depth": point.model.depth,
        "widths": "x".join(map(str, point.model.widths or ())) or "-",
        "width_mult": point.width_mult, "variant": point.variant, "keep": point.keep,
        "seed": point.seed, "dataset": sizes.dataset, "test_acc": result["test_acc"],
        "val_acc": result["val_acc"], "test_acc_at_best_val": result["test_acc_at_best_val"],
        "train_acc": result["train_acc"], "kept_overall": result["kept_overall"],
        "epochs": result["epochs"], "steps": result["steps"], "hash": result["hash"],
        "reused": result["reused"],
        "seconds": result["seconds"],
    }


def run_points(sizes: Setup, points: Sequence[MPTPoint],
               runs_dir: str | os.PathLike | None = None,
               data_dir: str | os.PathLike | None = None, progress: bool = True,
               on_row: Callable[[dict[str, Any]], Any] | None = None) -> list[dict[str, Any]]:
    """Run (or read back) ``points`` (e.g. :func:`study_points` or :func:`grid_points`).

    Parameters
    ----------
    sizes : MPTScale or WidthDepthScale
        Dataset, presets and training overrides at one scale (:func:`verify.scales.get_scale`).
    points : sequence of MPTPoint
        The runs.
    runs_dir, data_dir : path, optional
        Run store root and dataset directory.
    progress : bool
        Show a tqdm bar over the runs.
    on_row : callable, optional
        Called with each row when its run is done.

    Returns
    -------
    list of dict
        One row per point (see :func:`run_point`); a run shared by two points (the width model at
        multiplier 1 is also in the depth series) is trained once and appears twice, same hash.
    """
    from tqdm.auto import tqdm

    rows = []
    for point in tqdm(points, desc="MPT runs", unit="run", disable=not progress):
        row = run_point(sizes, point, runs_dir, data_dir)
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows


def run_study(sizes: MPTScale, runs_dir: str | os.PathLike | None = None,
              data_dir: str | os.PathLike | None = None, progress: bool = True
              ) -> list[dict[str, Any]]:
    """Every run of the MPT study at one scale: :func:`run_points` of :func:`study_points`."""
    return run_points(sizes, study_points(sizes), runs_dir, data_dir, progress)


def best_vs_dense(rows: Sequence[Mapping[str, Any]], correct: Correct | None = None
                  ) -> list[dict[str, Any]]:
    """Best MPT over k, chosen on VALIDATION accuracy, against the dense network, seed by seed.

    The kept fraction of each (model, width, variant) is the one of highest mean final validation
    accuracy over seeds (the validation split is carved from the training data); its final test
    accuracy is compared with the dense network's (:func:`against_dense`). Selecting k on test
    accuracy would report a maximum over noisy test scores, biased upwards.

    Parameters
    ----------
    rows : sequence of dict
        Rows of :func:`run_study` (``val_acc``, ``test_acc`` and ``hash`` per run).
    correct : callable, optional
        Run hash -> per test example correctness (:func:`verify.comparisons.stored_correct`);
        without it the McNemar and test-size columns are missing.

    Returns
    -------
    list of dict
        series, model, width_mult, variant, best_keep, best_val_acc (mean, points), then the
        columns of :func:`against_dense`.
    """
    import pandas as pd

    frame = pd.DataFrame(list(rows))
    if frame["val_acc"].isna().any():
        raise ValueError("choosing k needs a validation split in every run (dataset.val_size)")
    arms = frame[frame["variant"] != DENSE].groupby([*SETTING, "variant", "keep"], sort=False)
    val = arms["val_acc"].mean()
    best = val.groupby(level=[*SETTING, "variant"], sort=False).idxmax()
    table = []
    for key in best:
        chosen = arms.get_group(key)
        head = dict(zip([*SETTING, "variant"], key[:-1], strict=True))
        table.append({**head, "best_keep": key[-1], "best_val_acc": POINTS * float(val[key]),
                      **against_dense(chosen, _dense_of(frame, head), correct, "best_acc")})
    return table


def grid_vs_dense(rows: Sequence[Mapping[str, Any]], correct: Correct | None = None
                  ) -> list[dict[str, Any]]:
    """Every score arm (setting, variant, k) of ``rows`` against the dense network of its
    setting, seed by seed (:func:`against_dense`); for the width/depth grid, whose k is fixed.

    Returns
    -------
    list of dict
        series, model, depth, widths, width_mult, variant, keep, then :func:`against_dense`'s
        columns (``acc`` the arm's accuracy).
    """
    import pandas as pd

    frame = pd.DataFrame(list(rows))
    scores = frame[frame["variant"] != DENSE]
    table = []
    for key, arm in scores.groupby([*SETTING, "variant", "keep"], sort=False):
        head = dict(zip([*SETTING, "variant", "keep"], key, strict=True))
        first = arm.iloc[0]
        table.append({**head, "depth": first["depth"], "widths": first["widths"],
                      **against_dense(arm, _dense_of(frame, head), correct, "acc")})
    return table


def _dense_of(frame: Any, head: Mapping[str, Any]) -> Any:
    """The dense runs of ``head``'s setting (series, model, width multiplier)."""
    return frame[(frame["variant"] == DENSE)
                 & (frame[list(SETTING)] == [head[c] for c in SETTING]).all(axis=1)]


def against_dense(arm: Any, dense: Any, correct: Correct | None, name: str) -> dict[str, Any]:
    """One score arm against the dense network of the same setting (same seeds, same data).

    Parameters
    ----------
    arm, dense : pandas.DataFrame
        Runs (one per seed: ``seed``, ``test_acc``, ``hash``) of the arm and of the dense
        network; the pairs are the seeds both have.
    correct : callable, optional
        Run hash -> per test example correctness (None: no McNemar test).
    name : str
        Column stem of the arm's accuracy.

    Returns
    -------
    dict
        In points: ``name`` and ``dense_acc`` with their 95% t intervals over seeds
        (:func:`verify.comparisons.arm_columns`), ``gap`` = arm - dense with the paired t
        interval and p-value (:func:`verify.comparisons.paired_columns`); ``only_mpt``,
        ``only_dense`` and ``mcnemar_p`` on the pooled predictions of the paired seeds;
        ``seeds`` (of the arm), ``pairs`` and ``test_size``.
    """
    a, b = arm.set_index("seed"), dense.set_index("seed")
    seeds = sorted(set(a.index) & set(b.index))
    hits = {str(h): None if correct is None else correct(str(h))
            for h in (*a["hash"], *b["hash"])}
    return {**arm_columns(name, a["test_acc"]), **arm_columns("dense_acc", b["test_acc"]),
            **paired_columns("gap", a.loc[seeds, "test_acc"], b.loc[seeds, "test_acc"]),
            **mcnemar_columns("mpt", "dense", [hits[str(h)] for h in a.loc[seeds, "hash"]],
                              [hits[str(h)] for h in b.loc[seeds, "hash"]]),
            "seeds": len(a), "pairs": len(seeds), "test_size": examples_tested(list(hits.values()))}
