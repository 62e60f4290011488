"""The interval columns of the studies' comparative tables and figures, from :mod:`verify.stats`.

A study table has one row per arm (a model, variant, level...) and reports, in percentage
points:

- per arm, the mean over seeds with its 95% Student t interval (:func:`arm_columns`: columns
  ``X``, ``X_low``, ``X_high``; with one seed the ends are missing: "n=1, no interval");
- for paired arms (same seed, same data), the mean paired difference with its t interval and
  the paired t test's p-value (:func:`paired_columns`: ``X``, ``X_low``, ``X_high``, ``X_p``);
- where the runs stored their test predictions, the exact McNemar test on the predictions of
  every seed pooled (:func:`mcnemar_columns`), and the test-set size (:func:`examples_tested`).

:func:`readable` writes each ``X_low``/``X_high`` pair as one text column ``X_ci95`` for the
Markdown tables; :func:`t_band` gives seaborn the same interval for a figure's band.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from verify.plotting import plain_number
from verify.stats import CONFIDENCE, mcnemar, paired_difference, t_interval

POINTS = 100.0
"""Accuracies are stored as fractions and reported in percentage points."""
NO_INTERVAL = "n=1, no interval"
"""What a table says instead of an interval when one seed (or one pair) stands behind a mean."""
CI_SUFFIX = "_ci95"
BAND = "95% t interval over seeds (none with one seed)"
"""What a figure's band is (:func:`t_band`), in the words of a caption."""

Correct = Callable[[str], "np.ndarray | None"]
"""Run hash -> which test examples its final model classifies correctly (None: not stored)."""


def _finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()
    return array[np.isfinite(array)]


def arm_columns(name: str, values: Sequence[float] | np.ndarray,
                scale: float = POINTS) -> dict[str, float]:
    """Mean of one arm over seeds and its 95% t interval (:func:`verify.stats.t_interval`).

    Parameters
    ----------
    name : str
        Column stem.
    values : sequence of float
        One value per seed; missing values (NaN) are left out.
    scale : float
        Factor applied to every column (100: fractions to points; 1 for counts).

    Returns
    -------
    dict
        ``name`` (mean), ``name_low`` and ``name_high``; the ends are NaN with fewer than two
        values (no interval), all three with none.
    """
    sample = _finite(values)
    if sample.size == 0:
        return {name: math.nan, f"{name}_low": math.nan, f"{name}_high": math.nan}
    if sample.size == 1:
        return {name: scale * float(sample[0]), f"{name}_low": math.nan,
                f"{name}_high": math.nan}
    interval = t_interval(sample)
    return {name: scale * interval.estimate, f"{name}_low": scale * interval.low,
            f"{name}_high": scale * interval.high}


def paired_columns(name: str, a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray,
                   scale: float = POINTS) -> dict[str, float]:
    """Mean paired difference ``a - b`` (same seed, same data) with its 95% t interval.

    Parameters
    ----------
    name : str
        Column stem.
    a, b : sequence of float
        The two arms, paired by position.
    scale : float
        Factor applied to the difference and its ends.

    Returns
    -------
    dict
        ``name`` (mean difference), ``name_low``, ``name_high`` and ``name_p`` (two-sided p of
        the paired t test, :func:`verify.stats.paired_difference`); with one pair only the
        difference, with none nothing (NaN).
    """
    x, y = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if x.size != y.size:
        raise ValueError(f"paired arms need as many values each, got {x.size} and {y.size}")
    empty = {name: math.nan, f"{name}_low": math.nan, f"{name}_high": math.nan,
             f"{name}_p": math.nan}
    if x.size == 0:
        return empty
    if x.size == 1:
        return {**empty, name: scale * float(x[0] - y[0])}
    test = paired_difference(x, y)
    return {name: scale * test.difference.estimate, f"{name}_low": scale * test.difference.low,
            f"{name}_high": scale * test.difference.high, f"{name}_p": test.pvalue}


def mcnemar_columns(a_name: str, b_name: str, correct_a: Sequence[np.ndarray | None],
                    correct_b: Sequence[np.ndarray | None]) -> dict[str, float]:
    """Exact McNemar test of two arms on their test predictions, every seed's pair pooled.

    Parameters
    ----------
    a_name, b_name : str
        Names of the arms in the columns.
    correct_a, correct_b : sequence of bool arrays or None
        Per seed (paired by position), which test examples each arm's run got right; None
        where a run stored no predictions.

    Returns
    -------
    dict
        ``only_<a_name>``, ``only_<b_name>`` (discordant examples over all seeds) and
        ``mcnemar_p`` (:func:`verify.stats.mcnemar` of the concatenated vectors); NaN when a
        run of a pair stored no predictions.
    """
    missing = {f"only_{a_name}": math.nan, f"only_{b_name}": math.nan, "mcnemar_p": math.nan}
    if len(correct_a) != len(correct_b):
        raise ValueError(f"paired arms need as many runs each, got {len(correct_a)} and "
                         f"{len(correct_b)}")
    if not correct_a or any(c is None for c in (*correct_a, *correct_b)):
        return missing
    result = mcnemar(np.concatenate(list(correct_a)), np.concatenate(list(correct_b)))
    return {f"only_{a_name}": result.only_a, f"only_{b_name}": result.only_b,
            "mcnemar_p": result.pvalue}


def examples_tested(correct: Sequence[np.ndarray | None]) -> float:
    """The test-set size behind an arm's runs (NaN when none stored predictions).

    Raises
    ------
    ValueError
        The runs were evaluated on test sets of different sizes.
    """
    sizes = {int(np.asarray(c).size) for c in correct if c is not None}
    if len(sizes) > 1:
        raise ValueError(f"the runs of one arm were tested on sets of sizes {sorted(sizes)}")
    return float(sizes.pop()) if sizes else math.nan


def t_band(values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """A figure band: the 95% t interval of ``values`` (seaborn's ``errorbar=t_band``); with
    one value the band collapses onto it (no interval)."""
    sample = _finite(values)
    if sample.size < 2:
        value = float(sample[0]) if sample.size else math.nan
        return value, value
    interval = t_interval(sample)
    return interval.low, interval.high


def interval_text(estimate: float, low: float, high: float, digits: int = 2,
                  signed: bool = False) -> str:
    """``[low, high]`` as a table cell; :data:`NO_INTERVAL` when only the estimate exists, ``-``
    when it does not either."""
    if not math.isfinite(estimate):
        return "-"
    if not (math.isfinite(low) and math.isfinite(high)):
        return NO_INTERVAL
    spec = f"{'+' if signed else ''}.{digits}f"
    return f"[{format(low, spec)}, {format(high, spec)}]"


def readable(rows: Sequence[Mapping[str, Any]], signed: Sequence[str] = (),
             digits: int = 2) -> list[dict[str, Any]]:
    """The rows with every ``X_low``/``X_high`` pair replaced by one text column ``X_ci95``.

    Parameters
    ----------
    rows : sequence of dict
        Table rows holding ``X``, ``X_low`` and ``X_high`` for some stems ``X``.
    signed : sequence of str
        Stems written with a sign (differences).
    digits : int
        Decimals of the interval's ends.

    Returns
    -------
    list of dict
        Same keys in the same order, each pair of ends replaced by ``X_ci95`` in its place.
    """
    table = []
    for row in rows:
        stems = {key.removesuffix("_low") for key in row if key.endswith("_low")}
        stems = {s for s in stems if s in row and f"{s}_high" in row}
        out: dict[str, Any] = {}
        for key, value in row.items():
            stem = key.removesuffix("_low")
            if stem in stems and key == f"{stem}_low":
                out[stem + CI_SUFFIX] = interval_text(float(row[stem]), float(value),
                                                      float(row[f"{stem}_high"]), digits,
                                                      stem in signed)
            elif key.removesuffix("_high") not in stems or not key.endswith("_high"):
                out[key] = value
        table.append(out)
    return table


def stored_correct(runs_dir: str | os.PathLike | None = None) -> Correct:
    """Which test examples a stored run's final model gets right, by run hash.

    The vectors come from the run's ``predictions.pt`` through the run store's checks
    (:meth:`empirical.storage.store.RunStore.predictions`); a run that kept none gives None.
    """
    from empirical.algorithms.run_reader import locate_run
    from empirical.storage.store import RunStore

    def correct(run_hash: str) -> np.ndarray | None:
        store = RunStore(locate_run(run_hash, runs_dir))
        try:
            predictions = store.predictions()
        except FileNotFoundError:
            return None
        return predictions.correct().numpy()

    return correct


def verdict(rows: Sequence[Mapping[str, Any]], stem: str, what: str, where: str | None = None,
            unit: str = "") -> str:
    """One caption sentence on the sign of the paired differences ``stem`` of ``rows``.

    Counts the 95% intervals (``stem_low``, ``stem_high``) that lie above 0, include 0 (not
    distinguishable) or lie below 0, and the rows whose difference has no interval (one pair).
    With ``where`` (a column such as ``weights_remaining``) each count says at which values:
    consecutive rows (in the order given) of one kind as a range ``a to b``.

    Where the rows carry ``mcnemar_p`` (:func:`mcnemar_columns`), the sentence ends with how many
    of those tests reject "no difference" at the 5% level.

    Example: ``"IMP ticket - random re-init: above 0 in 3 of 4 95% intervals (at 8.68 to 3.59,
    51.3%); includes 0 (not distinguishable) in 1 (at 80%); below 0 in 0; exact McNemar on the
    pooled test predictions p < 0.05 in 2 of 4."``
    """
    names = ("above 0", "includes 0 (not distinguishable)", "below 0", NO_INTERVAL)
    runs: dict[str, list[list[float]]] = {name: [] for name in names}
    counts = dict.fromkeys(names, 0)
    previous = None
    for row in rows:
        low, high = float(row[f"{stem}_low"]), float(row[f"{stem}_high"])
        if not math.isfinite(float(row[stem])):
            continue
        if not (math.isfinite(low) and math.isfinite(high)):
            name = NO_INTERVAL
        else:
            name = names[2] if high < 0 else names[0] if low > 0 else names[1]
        counts[name] += 1
        value = math.nan if where is None else float(row[where])
        if name == previous:
            runs[name][-1][1] = value
        else:
            runs[name].append([value, value])
        previous = name
    total = sum(counts[name] for name in names[:3])

    def at(name: str) -> str:
        if where is None or not runs[name]:
            return ""
        shown = ", ".join(plain_number(a) if a == b else f"{plain_number(a)} to {plain_number(b)}"
                          for a, b in runs[name])
        return f" (at {shown}{unit})"

    parts = [f"{name} in {counts[name]}" + (f" of {total} 95% intervals" if i == 0 else "")
             + at(name) for i, name in enumerate(names[:3])] if total else []
    if counts[NO_INTERVAL]:
        parts.append(f"{counts[NO_INTERVAL]} with {NO_INTERVAL}{at(NO_INTERVAL)}")
    tested = [float(r["mcnemar_p"]) for r in rows if math.isfinite(float(r.get("mcnemar_p",
                                                                                 math.nan)))]
    if tested:
        level = round(1 - CONFIDENCE, 6)
        parts.append(f"exact McNemar on the pooled test predictions p < {level:g} in "
                     f"{sum(p < level for p in tested)} of {len(tested)}")
    return f"{what}: {'; '.join(parts) or 'no paired runs'}."
