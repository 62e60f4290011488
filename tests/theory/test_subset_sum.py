"""Tests for theory.subset_sum, verify.subset_sum_study and ``tickets bench subset-sum``."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.subset_sum import (
    choose_backend,
    counting_lower_bound,
    covering_radius,
    is_eps_cover,
    numba_available,
    solve_subset_sum,
)
from verify.cli.main import main
from verify.subset_sum_study import subset_sum_table


def _all_subsets(n: int) -> np.ndarray:
    return np.array(list(itertools.product([False, True], repeat=n)), dtype=bool).reshape(-1, n)


BACKENDS = ["numpy", pytest.param("numba", marks=pytest.mark.skipif(
    not numba_available(), reason="numba not installed"))]


@pytest.mark.parametrize("backend", BACKENDS)
def test_exact_small_instance(backend: str) -> None:
    result = solve_subset_sum(np.array([0.5, 0.25, -0.125]), 0.4, backend=backend)
    np.testing.assert_array_equal(result.mask, [[True, False, True]])
    assert result.sums[0] == 0.375 and result.errors[0] == pytest.approx(0.025)
    assert solve_subset_sum(np.array([[0.3, 0.4]]), np.array([0.7]),
                            backend=backend).errors[0] < 1e-15
    empty = solve_subset_sum(np.zeros((2, 0)), np.array([0.5, -2.0]), backend=backend)
    np.testing.assert_array_equal(empty.errors, [0.5, 2.0])


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 12), m=st.integers(1, 20), seed=st.integers(0, 2**31),
       padded=st.booleans())
def test_solver_is_optimal(backend: str, n: int, m: int, seed: int, padded: bool) -> None:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (m, n))
    t = rng.uniform(-1.5, 1.5, m)
    valid = rng.random((m, n)) < 0.6 if padded else None
    result = solve_subset_sum(x, t, valid=valid, backend=backend)
    usable = x if valid is None else np.where(valid, x, 0.0)
    brute = np.abs(_all_subsets(n).astype(float) @ usable.T - t).min(axis=0)
    np.testing.assert_allclose(result.errors, brute, atol=1e-12)
    np.testing.assert_array_equal(result.sums, np.where(result.mask, x, 0.0).sum(axis=1))
    if valid is not None:
        assert not np.any(result.mask & ~valid)


@pytest.mark.skipif(not numba_available(), reason="numba not installed")
@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 22), m=st.integers(1, 300), seed=st.integers(0, 2**31),
       spread=st.sampled_from([1e-3, 1.0, 1e3]), padded=st.booleans())
def test_numba_and_numpy_paths_agree(n: int, m: int, seed: int, spread: float,
                                     padded: bool) -> None:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-spread, spread, (m, n))
    t = rng.uniform(-2 * spread, 2 * spread, m)
    t[: m // 4] = rng.uniform(-50, 50, m // 4) * spread  # far outside every half's range
    valid = rng.random((m, n)) < 0.7 if padded else None
    fast = solve_subset_sum(x, t, valid=valid, backend="numba")
    slow = solve_subset_sum(x, t, valid=valid, backend="numpy")
    np.testing.assert_array_equal(fast.errors, slow.errors)
    np.testing.assert_array_equal(fast.mask, slow.mask)


@pytest.mark.parametrize("backend", BACKENDS)
def test_ties_give_an_optimal_subset(backend: str) -> None:
    x = np.tile(np.array([1.0, 1.0, 2.0, -1.0, 0.0, 3.0, 1.0]), (3, 1))
    t = np.array([2.0, 4.5, -1.0])
    result = solve_subset_sum(x, t, backend=backend)
    np.testing.assert_array_equal(result.errors, [0.0, 0.5, 0.0])
    np.testing.assert_array_equal(result.sums, (result.mask * x).sum(axis=1))


def test_auto_backend_compiles_only_large_batches() -> None:
    compiled = "numba" if numba_available() else "numpy"
    assert choose_backend("auto", 397_000, 21) == compiled
    assert choose_backend("auto", 8192, 24) == compiled  # 8192 * 2^12 = 2^25 sums
    assert choose_backend("auto", 300, 21) == "numpy"
    assert choose_backend("numpy", 397_000, 21) == "numpy"


def test_bad_solver_input() -> None:
    with pytest.raises(ValueError, match="backend"):
        solve_subset_sum(np.zeros(3), 0.0, backend="gpu")
    with pytest.raises(ValueError, match="at most"):
        solve_subset_sum(np.zeros(31), 0.0)
    with pytest.raises(ValueError, match="targets"):
        solve_subset_sum(np.zeros((2, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        solve_subset_sum(np.array([np.nan, 1.0]), 0.0)
    with pytest.raises(ValueError, match="valid"):
        solve_subset_sum(np.zeros((2, 3)), np.zeros(2), valid=np.ones((2, 3)))


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 7), seed=st.integers(0, 2**31))
def test_covering_radius_matches_grid(n: int, seed: int) -> None:
    x = np.random.default_rng(seed).uniform(-1, 1, n)
    sums = _all_subsets(n).astype(float) @ x
    grid = np.linspace(-1, 1, 20001)
    brute = np.abs(grid[:, None] - sums[None]).min(axis=1).max()
    radius = covering_radius(x)
    assert brute - 1e-12 <= radius <= brute + 1e-4
    assert is_eps_cover(x, radius * 1.0001) and not is_eps_cover(x, radius * 0.9999)


def test_covering_radius_exact_values() -> None:
    assert covering_radius(np.zeros(0)) == 1.0
    assert covering_radius(np.array([1.0])) == 1.0  # sums {0, 1}: z = -1 is 1 away
    # sums {-1, 0, 0.5, -0.5}: widest gap [0.5, ...] to z = 1 has distance 0.5
    assert covering_radius(np.array([-1.0, 0.5])) == pytest.approx(0.5)
    assert covering_radius(np.array([-1.0, 0.5, 1.0])) == pytest.approx(0.25)


def test_counting_bound_and_bad_eps() -> None:
    assert counting_lower_bound(0.01) == pytest.approx(math.log2(100))
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError):
            counting_lower_bound(bad)
        with pytest.raises(ValueError):
            is_eps_cover(np.ones(2), bad)


def test_study_table() -> None:
    rows = subset_sum_table([4, 12], [0.1, 0.01], 6, seed=1)
    assert [(r["n"], r["eps"]) for r in rows] == [(4, 0.1), (4, 0.01), (12, 0.1), (12, 0.01)]
    assert set(rows[0]) == {"n", "eps", "success_prob", "median_radius", "quantile_radius",
                            "lower_bound_n", "seeds"}
    assert rows[2]["success_prob"] >= rows[0]["success_prob"]
    assert rows[2]["median_radius"] < rows[0]["median_radius"]
    assert rows[1]["lower_bound_n"] == 7
    assert rows == subset_sum_table([4, 12], [0.1, 0.01], 6, seed=1)
    with pytest.raises(ValueError):
        subset_sum_table([0], [0.1], 2)


def test_study_beyond_exact_radius_uses_interval_decision() -> None:
    (row,) = subset_sum_table([26], [0.05], 2)
    assert math.isnan(row["median_radius"]) and row["success_prob"] == 1.0


def test_bench_cli_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "subset-sum", "--n-weights", "300", "--summands", "10", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["instances"] == 300 and 0 <= row["fraction_within_eps"] <= 1
    assert row["instances_within_eps"] == round(300 * row["fraction_within_eps"])
    assert row["max_error"] >= row["mean_error"] >= 0
    assert row["same_errors_as_previous"] is True and row["speedup_vs_previous"] > 0
    assert row["backend"] == "numpy"  # 300 instances: too few to load the compiled kernel
    assert main(["bench", "subset-sum", "--n-weights", "50", "--backend", "numpy",
                 "--no-baseline", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["backend"] == "numpy" and "previous_seconds" not in row
    if numba_available():
        assert main(["bench", "subset-sum", "--n-weights", "40", "--backend", "numba",
                     "--json"]) == 0
        row = json.loads(capsys.readouterr().out)
        assert row["backend"] == "numba" and row["same_errors_as_previous"] is True
    assert main(["bench", "subset-sum", "--n-weights", "5", "--summands", "31"]) == 2
    assert "--summands" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "subset-sum", "--summands", "0"])
    assert exit_info.value.code == 2
