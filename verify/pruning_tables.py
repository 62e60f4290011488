"""The tables of the pruning-methods study, each number with its uncertainty over seeds.

Pure functions of the rows of :mod:`verify.pruning_study` (nothing is trained or read here):

- :func:`seed_intervals`: mean of a value over seeds with its 95% Student-t interval
  (:func:`verify.stats.t_interval`);
- :func:`summary`: every arm at every level, its accuracy interval and the paired difference
  (:func:`verify.stats.paired_difference`, same seed: same initialisation, data order and split)
  to its reference: IMP (reset) at the same level for every method, the dense network for IMP
  (reset) itself (is the ticket matching?), the ablated arm for an ablation;
- :func:`paired_table`: chosen pairs of arms, level by level (Renda et al.'s ordering of the
  retraining variants);
- :func:`stability_summary`: instability per level and rewind point with its interval, and the
  ticket's paired difference to the dense network (Frankle et al. 2020: matching where stable);
- :func:`collapse_summary`: in how many seeds each criterion's mask collapses.

With one seed the intervals are NaN (the smoke scale); every value is a fraction (accuracy,
error), the notebook scales it to points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from verify.stats import paired_difference, t_interval

NAN = float("nan")
#: The arm every method is compared to, and the one IMP (reset) is compared to.
REFERENCE = "IMP (reset)"
DENSE = "dense"

Accuracies = dict[tuple[str, str, int], dict[int, float]]


def mean_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean of ``values`` (one per seed) and its 95% t interval; NaN bounds below two values."""
    values = [float(v) for v in values]
    if len(values) < 2:
        return (values[0] if values else NAN), NAN, NAN
    interval = t_interval(values)
    return interval.estimate, interval.low, interval.high


def paired_interval(a: Mapping[int, float], b: Mapping[int, float]
                    ) -> tuple[float, float, float, int]:
    """Mean of ``a[s] - b[s]`` over the seeds ``s`` both hold, its paired 95% t interval and the
    number of pairs; NaN bounds below two pairs, all NaN with none."""
    seeds = sorted(a.keys() & b.keys())
    if len(seeds) < 2:
        return (a[seeds[0]] - b[seeds[0]] if seeds else NAN), NAN, NAN, len(seeds)
    diff = paired_difference([a[s] for s in seeds], [b[s] for s in seeds]).difference
    return diff.estimate, diff.low, diff.high, len(seeds)


def seed_intervals(rows: Sequence[Mapping[str, Any]], keys: Sequence[str], value: str
                   ) -> list[dict[str, Any]]:
    """Per group of ``keys`` (in order of appearance): ``value``'s mean over the group's rows
    with its 95% t interval (``value``, ``value_low``, ``value_high``) and ``seeds``."""
    groups: dict[tuple, list[float]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in keys), []).append(row[value])
    out = []
    for group, values in groups.items():
        mean, low, high = mean_interval(values)
        out.append({**dict(zip(keys, group, strict=True)), value: mean, f"{value}_low": low,
                    f"{value}_high": high, "seeds": len(values)})
    return out


def _accuracies(rows: Sequence[Mapping[str, Any]]) -> Accuracies:
    acc: Accuracies = {}
    for row in rows:
        key = (row["model"], row["arm"] if row["family"] == "method" else
               f"{row['arm']} of {row['of']}", row["level"])
        acc.setdefault(key, {})[row["seed"]] = row["test_acc"]
    return acc


def reference_of(family: str, arm: str, of: str = "") -> str | None:
    """The arm a row is compared to: the ablated arm, dense for IMP (reset), else IMP (reset)."""
    if family == "ablation":
        return of
    if arm == DENSE:
        return None
    return DENSE if arm == REFERENCE else REFERENCE


def summary(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per model, family, arm and level: mean test accuracy with its 95% t interval over seeds,
    and the paired difference to :func:`reference_of` (dense at level 0, else the same level).

    Returns
    -------
    list of dict
        model, family, arm, of, level, weights_remaining, test_acc, test_acc_low, test_acc_high,
        reference, diff, diff_low, diff_high, seeds (fractions).
    """
    acc = _accuracies(rows)
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in rows:
        key = (row["model"], row["family"], row["arm"], row.get("of") or "", row["level"])
        groups.setdefault(key, []).append(row)
    out = []
    for (model, family, arm, of, level), group in groups.items():
        own = acc[(model, arm if family == "method" else f"{arm} of {of}", level)]
        reference = reference_of(family, arm, of)
        ref = acc.get((model, reference, 0 if reference == DENSE else level), {})
        mean, low, high = mean_interval(list(own.values()))
        d_mean, d_low, d_high, _ = paired_interval(own, ref)
        out.append({"model": model, "family": family, "arm": arm, "of": of, "level": level,
                    "weights_remaining": sum(r["weights_remaining"] for r in group) / len(group),
                    "test_acc": mean, "test_acc_low": low, "test_acc_high": high,
                    "reference": reference or "", "diff": d_mean, "diff_low": d_low,
                    "diff_high": d_high, "seeds": len(own)})
    return out


def paired_table(rows: Sequence[Mapping[str, Any]], pairs: Sequence[tuple[str, str]]
                 ) -> list[dict[str, Any]]:
    """For each pair ``(a, b)`` of method arms and each level both ran at: the paired difference
    ``a - b`` over seeds with its 95% t interval.

    Returns
    -------
    list of dict
        model, level, weights_remaining, arm, versus, diff, diff_low, diff_high, seeds.
    """
    acc = _accuracies([r for r in rows if r["family"] == "method"])
    density = {(r["model"], r["level"]): r["weights_remaining"] for r in rows}
    out = []
    for model, level in dict.fromkeys((m, lv) for m, _, lv in acc):
        for a, b in pairs:
            if (model, a, level) in acc and (model, b, level) in acc:
                d_mean, d_low, d_high, n = paired_interval(acc[(model, a, level)],
                                                           acc[(model, b, level)])
                out.append({"model": model, "level": level,
                            "weights_remaining": density[(model, level)], "arm": a,
                            "versus": b, "diff": d_mean, "diff_low": d_low, "diff_high": d_high,
                            "seeds": n})
    return out


def stability_summary(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per model, level and rewind point: test and train instability with their 95% t intervals
    over seeds, and the paired difference of the level's test accuracy to the dense network's.

    Parameters
    ----------
    rows : sequence of dict
        :func:`verify.pruning_study.run_stability` rows (``test_acc``: the IMP level's own run,
        ``dense_test_acc``: its lineage's level 0).

    Returns
    -------
    list of dict
        model, level, rewind, density, test_instability(_low, _high),
        train_instability(_low, _high), diff_vs_dense(_low, _high), seeds, test_size.
    """
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["model"], row["level"], row["rewind"]), []).append(row)
    out = []
    for (model, level, rewind), group in groups.items():
        entry: dict[str, Any] = {"model": model, "level": level, "rewind": rewind,
                                 "density": sum(r["density"] for r in group) / len(group)}
        for name in ("test_instability", "train_instability"):
            mean, low, high = mean_interval([r[name] for r in group])
            entry.update({name: mean, f"{name}_low": low, f"{name}_high": high})
        diff = paired_interval({r["seed"]: r["test_acc"] for r in group},
                               {r["seed"]: r["dense_test_acc"] for r in group})
        entry.update({"diff_vs_dense": diff[0], "diff_vs_dense_low": diff[1],
                      "diff_vs_dense_high": diff[2], "seeds": len(group),
                      "test_size": group[0]["test_size"]})
        out.append(entry)
    return out


def collapse_summary(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per model, criterion and density: the seeds whose mask collapsed (an empty layer or an
    output cut off from the input), the most empty layers and the fewest and most outputs still
    reachable over seeds (masks are exact; there is nothing to estimate).

    Returns
    -------
    list of dict
        model, arm, density, collapsed_seeds, seeds, empty_layers_max, outputs_reachable_min,
        outputs_reachable_max, outputs.
    """
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["model"], row["arm"], row["density"]), []).append(row)
    return [{"model": model, "arm": arm, "density": density,
             "collapsed_seeds": sum(bool(r["collapsed"]) for r in group), "seeds": len(group),
             "empty_layers_max": max(r["empty_layers"] for r in group),
             "outputs_reachable_min": min(r["outputs_reachable"] for r in group),
             "outputs_reachable_max": max(r["outputs_reachable"] for r in group),
             "outputs": group[0]["outputs"]}
            for (model, arm, density), group in groups.items()]
