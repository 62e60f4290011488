"""The interval columns of the study tables (verify/comparisons.py) on hand-made values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from verify.comparisons import (
    NO_INTERVAL,
    arm_columns,
    examples_tested,
    interval_text,
    mcnemar_columns,
    paired_columns,
    readable,
    t_band,
    verdict,
)

T_975_DF2 = 0.95 / math.sqrt(2 * 0.975 * 0.025)  # Student's t quantile, 2 degrees of freedom


def test_arm_columns_are_the_t_interval_in_points() -> None:
    # 0.90, 0.92, 0.94: mean 92 points, s = 2 points, half width t_{0.975,2} * 2 / sqrt(3)
    columns = arm_columns("acc", [0.90, 0.92, 0.94])
    half = T_975_DF2 * 2 / math.sqrt(3)
    assert list(columns) == ["acc", "acc_low", "acc_high"]
    assert (columns["acc"], columns["acc_low"], columns["acc_high"]) == pytest.approx(
        (92, 92 - half, 92 + half), rel=1e-12)
    assert t_band([90, 92, 94]) == pytest.approx((92 - half, 92 + half), rel=1e-12)


def test_one_seed_has_no_interval() -> None:
    columns = arm_columns("acc", [0.9])
    assert columns["acc"] == pytest.approx(90) and math.isnan(columns["acc_low"])
    assert math.isnan(arm_columns("acc", [math.nan, 0.5])["acc_high"])
    assert all(math.isnan(v) for v in arm_columns("acc", []).values())
    assert t_band([93.0]) == (93.0, 93.0)
    pair = paired_columns("gap", [0.9], [0.8])
    assert pair["gap"] == pytest.approx(10) and math.isnan(pair["gap_low"])
    assert math.isnan(pair["gap_p"])
    assert interval_text(90.0, math.nan, math.nan) == NO_INTERVAL
    assert interval_text(math.nan, math.nan, math.nan) == "-"


def test_paired_columns_are_the_interval_of_the_differences() -> None:
    # differences 0.10, 0.00, 0.05 -> 10, 0, 5 points: mean 5, s = 5
    columns = paired_columns("gap", [0.9, 0.8, 0.85], [0.8, 0.8, 0.8])
    half = T_975_DF2 * 5 / math.sqrt(3)
    assert (columns["gap"], columns["gap_low"], columns["gap_high"]) == pytest.approx(
        (5, 5 - half, 5 + half))
    # t = 5 / (5 / sqrt(3)) = sqrt(3) on 2 degrees of freedom: p = 1 - t / sqrt(2 + t^2)
    assert columns["gap_p"] == pytest.approx(1 - math.sqrt(3) / math.sqrt(5), rel=1e-10)
    with pytest.raises(ValueError, match="as many values"):
        paired_columns("gap", [0.9, 0.8], [0.8])


def test_mcnemar_pools_every_seed() -> None:
    a = [np.array([1, 1, 0, 1], bool), np.array([1, 0, 1], bool)]
    b = [np.array([0, 1, 0, 0], bool), np.array([1, 1, 0], bool)]
    # only a: examples 0 and 3 of seed 0, 2 of seed 1; only b: example 1 of seed 1
    columns = mcnemar_columns("mpt", "dense", a, b)
    assert (columns["only_mpt"], columns["only_dense"]) == (3, 1)
    assert columns["mcnemar_p"] == pytest.approx(2 * 5 / 16)  # 2 P(X <= 1 | 4, 1/2)
    missing = mcnemar_columns("mpt", "dense", [a[0], None], b)
    assert all(math.isnan(v) for v in missing.values())
    assert examples_tested([a[0], None, b[0]]) == 4.0 and math.isnan(examples_tested([None]))
    with pytest.raises(ValueError, match="sizes"):
        examples_tested(a)


def test_readable_writes_each_interval_as_one_cell() -> None:
    rows = [{"model": "A", "gap": 1.25, "gap_low": -0.5, "gap_high": 3.0, "gap_p": 0.2,
             "acc": 90.0, "acc_low": math.nan, "acc_high": math.nan, "seeds": 1}]
    (row,) = readable(rows, signed=["gap"])
    assert row == {"model": "A", "gap": 1.25, "gap_ci95": "[-0.50, +3.00]", "gap_p": 0.2,
                   "acc": 90.0, "acc_ci95": NO_INTERVAL, "seeds": 1}


def test_verdict_counts_intervals_by_sign() -> None:
    rows = [{"d": -2.0, "d_low": -3.0, "d_high": -1.0, "w": 80.0},
            {"d": 0.5, "d_low": -1.0, "d_high": 2.0, "w": 64.0},
            {"d": 2.0, "d_low": 1.0, "d_high": 3.0, "w": 8.68},
            {"d": 1.5, "d_low": 0.5, "d_high": 2.5, "w": 3.59},
            {"d": 1.0, "d_low": math.nan, "d_high": math.nan, "w": 100.0},
            {"d": math.nan, "d_low": math.nan, "d_high": math.nan, "w": 100.0}]
    assert verdict(rows, "d", "ticket - re-init") == (
        "ticket - re-init: above 0 in 2 of 4 95% intervals; includes 0 (not distinguishable) "
        f"in 1; below 0 in 1; 1 with {NO_INTERVAL}.")
    assert verdict(rows, "d", "ticket - re-init", where="w", unit="%") == (
        "ticket - re-init: above 0 in 2 of 4 95% intervals (at 8.68 to 3.59%); includes 0 (not "
        f"distinguishable) in 1 (at 64%); below 0 in 1 (at 80%); 1 with {NO_INTERVAL} "
        "(at 100%).")
    # runs of one kind are broken by rows of another
    assert verdict([rows[2], rows[1], rows[3]], "d", "x", where="w", unit="%").startswith(
        "x: above 0 in 2 of 3 95% intervals (at 8.68, 3.59%)")
    assert verdict(rows[4:], "d", "MPT - dense") == f"MPT - dense: 1 with {NO_INTERVAL}."
    tested = [{**rows[4], "mcnemar_p": 0.01}, {**rows[1], "mcnemar_p": 0.2},
              {**rows[0], "mcnemar_p": math.nan}]
    assert verdict(tested, "d", "MPT - dense").endswith(
        "exact McNemar on the pooled test predictions p < 0.05 in 1 of 2.")
    assert verdict([], "d", "MPT - dense") == "MPT - dense: no paired runs."
