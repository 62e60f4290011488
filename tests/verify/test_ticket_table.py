"""The ticket-vs-controls table: arms and paired differences per level, exact on a small case."""

from __future__ import annotations

import numpy as np

from verify.stats import mcnemar, paired_difference, t_interval
from verify.ticket_table import table


def _row(seed: int, level: int, source: str, acc: float, density: float = 0.5) -> dict:
    return {"seed": seed, "level": level, "source": source, "test_acc": acc,
            "density": 1.0 if source == "dense" else density}


def test_table_pairs_by_seed() -> None:
    rows = [_row(0, 0, "dense", 0.60), _row(1, 0, "dense", 0.64), _row(2, 0, "dense", 0.62),
            _row(0, 1, "imp", 0.70), _row(1, 1, "imp", 0.75), _row(2, 1, "imp", 0.71),
            _row(0, 1, "random-prune", 0.61), _row(2, 1, "random-prune", 0.60),
            _row(0, 2, "imp", 0.72, 0.25)]
    first, second = table(rows)
    assert first["weights remaining"] == "50.0%" and second["weights remaining"] == "25.0%"
    assert first["imp"] == t_interval([0.70, 0.75, 0.71]).format(100, 1)
    assert first["dense"] == t_interval([0.60, 0.64, 0.62]).format(100, 1)
    expected = paired_difference([0.70, 0.71], [0.61, 0.60]).difference.format(100, 1, True)
    assert first["imp - random-prune"] == expected and expected.startswith("+10.0 [")
    assert first["imp - dense"] == paired_difference(
        [0.70, 0.75, 0.71], [0.60, 0.64, 0.62]).difference.format(100, 1, True)
    assert first["reinit"] == "" and first["reinit seeds"] == 0 and first["imp - reinit"] == ""
    assert second["imp"] == "" and second["imp seeds"] == 1  # one seed: no interval


def test_mcnemar_per_seed_when_rows_carry_predictions() -> None:
    right = np.array([True] * 8 + [False] * 2)
    arms = ((0, "dense", 0.7, 0.01, 0), (1, "imp", 0.8, 0.05, None), (1, "reinit", 0.75, 0.02, 3))
    rows = [{**_row(s, level, src, acc + s * slope), "correct": np.roll(right, k or s)}
            for s in (0, 1) for level, src, acc, slope, k in arms]
    [entry] = table(rows)
    expected = [mcnemar(np.roll(right, s), np.roll(right, 3)).pvalue for s in (0, 1)]
    assert entry["imp vs reinit McNemar p"] == " ".join(f"{p:.2g}" for p in expected)
    assert entry["imp vs dense McNemar p"].split()[0] == "1"  # seed 0: the same predictions
    assert entry["imp vs random-prune McNemar p"] == ""
