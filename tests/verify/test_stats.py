"""verify.stats against values computed by hand from the textbook formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from verify.stats import (
    Interval,
    accuracy_interval,
    bootstrap_interval,
    mcnemar,
    paired_difference,
    t_interval,
)

# Student's t quantile 0.975 with 2 degrees of freedom in closed form, (2p - 1) / sqrt(2p(1-p))
T_975_DF2 = 0.95 / math.sqrt(2 * 0.975 * 0.025)
T_975_DF3 = 3.18244630528371  # with 3 degrees of freedom (tables, 15 digits)
Z_975 = 1.959963984540054


def test_t_interval_of_one_two_three() -> None:
    # mean 2, s = 1, s / sqrt(3); half width t_{0.975, 2} / sqrt(3)
    result = t_interval([1.0, 2.0, 3.0])
    half = T_975_DF2 / math.sqrt(3)
    assert result.estimate == pytest.approx(2.0)
    assert (result.low, result.high) == pytest.approx((2 - half, 2 + half), rel=1e-12)
    assert result.n == 3 and result.confidence == 0.95


def test_paired_difference_is_the_t_interval_of_the_differences() -> None:
    # differences 1, 0, 2, 1: mean 1, s = sqrt(2/3), half width t_{0.975, 3} s / 2
    result = paired_difference([1.0, 2.0, 3.0, 4.0], [0.0, 2.0, 1.0, 3.0])
    half = T_975_DF3 * math.sqrt(2 / 3) / 2
    assert result.difference.estimate == pytest.approx(1.0)
    assert (result.difference.low, result.difference.high) == pytest.approx(
        (1 - half, 1 + half), rel=1e-13)
    # t = 1 / (s / 2) = sqrt(6); two-sided p of t_3 at sqrt(6), from the t_3 CDF in closed form
    t = math.sqrt(6)
    cdf = 0.5 + (math.atan(t / math.sqrt(3)) + (t / math.sqrt(3)) / (1 + t * t / 3)) / math.pi
    assert result.pvalue == pytest.approx(2 * (1 - cdf), rel=1e-10)


def test_mcnemar_exact_binomial() -> None:
    # 7 examples only a gets right, 1 only b, 2 both: p = 2 P(X <= 1 | 8, 1/2) = 2 * 9 / 256
    a = [True] * 7 + [False] + [True, True]
    b = [False] * 7 + [True] + [True, True]
    result = mcnemar(a, b)
    assert (result.only_a, result.only_b, result.n) == (7, 1, 10)
    assert result.pvalue == pytest.approx(18 / 256, rel=1e-12)
    assert mcnemar([True, False], [True, False]).pvalue == 1.0


def test_accuracy_interval_exact_and_wilson() -> None:
    # Clopper-Pearson with 0 or n successes: 1 - (alpha/2)^(1/n) and (alpha/2)^(1/n)
    none, every = accuracy_interval(0, 10), accuracy_interval(10, 10)
    assert none.low == 0.0 and none.high == pytest.approx(1 - 0.025 ** 0.1, rel=1e-9)
    assert every.high == 1.0 and every.low == pytest.approx(0.025 ** 0.1, rel=1e-9)
    # Wilson score interval at 950 / 1000
    p, n, z = 0.95, 1000, Z_975
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    wilson = accuracy_interval(950, 1000, method="wilson")
    assert wilson.estimate == 0.95 and wilson.n == 1000
    assert (wilson.low, wilson.high) == pytest.approx((centre - half, centre + half), rel=1e-9)


def test_bootstrap_percentile_of_two_points() -> None:
    # resampled means of {0, 1} are 0, 1/2, 1 with probabilities 1/4, 1/2, 1/4: the 2.5% and
    # 97.5% percentiles are 0 and 1
    result = bootstrap_interval([0.0, 1.0], method="percentile", seed=1)
    assert (result.estimate, result.low, result.high) == (0.5, 0.0, 1.0)
    again = bootstrap_interval(np.arange(10.0), seed=3)
    assert again == bootstrap_interval(np.arange(10.0), seed=3)
    assert again.low < 4.5 < again.high


def test_format_and_bad_input() -> None:
    assert Interval(0.016, 0.011, 0.021, 0.95, 3).format(scale=100, signed=True) == \
        "+1.6 [+1.1, +2.1]"
    with pytest.raises(ValueError, match="at least 2"):
        t_interval([1.0])
    with pytest.raises(ValueError, match="as many"):
        paired_difference([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="correct <= n"):
        accuracy_interval(11, 10)
    with pytest.raises(ValueError, match="finite"):
        t_interval([1.0, float("nan")])
