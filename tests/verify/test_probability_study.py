"""Success probabilities: Clopper-Pearson intervals, sweeps, Pensia's lower bound, Lueker's C."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from theory.networks import random_source
from verify import probability_study as study


def test_clopper_pearson_by_hand() -> None:
    """k = 0: [0, 1 - (alpha/2)^(1/n)]; k = n: [(alpha/2)^(1/n), 1]."""
    lo, hi = study.clopper_pearson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / 10))
    lo, hi = study.clopper_pearson(10, 10)
    assert lo == pytest.approx(0.025 ** (1 / 10)) and hi == 1.0


@settings(max_examples=40)
@given(n=st.integers(1, 200), data=st.data(), confidence=st.floats(0.5, 0.999))
def test_clopper_pearson_matches_scipy_exact_interval(n: int, data: st.DataObject,
                                                      confidence: float) -> None:
    k = data.draw(st.integers(0, n))
    lo, hi = study.clopper_pearson(k, n, confidence)
    ref = binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    assert lo == pytest.approx(ref.low, abs=1e-9) and hi == pytest.approx(ref.high, abs=1e-9)
    assert lo <= k / n <= hi


def test_clopper_pearson_rejects_bad_counts() -> None:
    for args in [(3, 2), (-1, 2), (0, 0)]:
        with pytest.raises(ValueError):
            study.clopper_pearson(*args)


def test_success_probability_rows() -> None:
    by_delta = study.success_probability("pensia", "delta", [0.5], seeds=3)
    row = by_delta[0]
    assert row["trials"] == 3 and row["source_width"] == row["bound_width"]
    assert row["promised"] == 0.5 and row["ci_low"] <= row["success_rate"] <= row["ci_high"]
    by_width = study.success_probability("depth-plus-one", "width", [2], seeds=2)
    assert math.isnan(by_width[0]["promised"]) and by_width[0]["source_width"] == 4
    with pytest.raises(ValueError, match="vary"):
        study.success_probability("pensia", "eps", [0.1], seeds=1)


def test_lower_bound_width_by_hand() -> None:
    assert study.pensia_lower_bound_width(1, 1 / 8) == 6.0
    assert study.pensia_lower_bound_width(4, 1 / 16) == 8.0


def test_worst_case_error_matches_brute_force() -> None:
    """max over a grid of w of the best (P, N) over all subsets, against the exact radii."""
    rng_seed = 11
    exact = study.worst_case_error_one_dim(7, np.random.default_rng(rng_seed))
    first, second = random_source([1, 7, 1], np.random.default_rng(rng_seed), dist="uniform")
    a, b = first[:, 0], second[0]
    sums = []
    for side in (a > 0, a < 0):
        products = (a * b)[side]
        sums.append(np.array([sum(c) for r in range(len(products) + 1)
                              for c in itertools.combinations(products, r)]))
    grid = np.linspace(-1, 1, 4001)
    brute = max(float(np.max(np.min(np.abs(grid[:, None] - s[None]), axis=1))) for s in sums)
    assert brute <= exact + 1e-12 and exact - brute <= 1 / 4000


def test_no_source_below_the_lower_bound_approximates_every_map() -> None:
    rows = study.pensia_lower_bound_table([0.1], [4, 6], seeds=50)
    assert all(r["below_bound"] and r["successes"] == 0 for r in rows)


def test_lueker_constant_rows() -> None:
    rows = study.lueker_constant([2, 4, 8, 12], [0.1], [0.5, 0.1], seeds=30)
    for row in rows:
        assert row["c_estimate"] == pytest.approx(row["n_needed"] / row["log_term"])
        assert row["success_rate"] >= 1 - row["delta"]
    assert rows[0]["n_needed"] <= rows[1]["n_needed"]
