"""Intervals and paired tests for the comparisons of the studies, all computed by scipy.stats.

- :func:`t_interval`: mean over seeds with Student's t interval (``scipy.stats.ttest_1samp``).
- :func:`bootstrap_interval`: a bootstrap interval of any statistic (``scipy.stats.bootstrap``).
- :func:`paired_difference`: mean of paired differences (same seed, same data) with its t
  interval and p-value (``scipy.stats.ttest_rel``).
- :func:`mcnemar`: exact McNemar test of two classifiers' paired predictions on one test set
  (``scipy.stats.binomtest`` on the discordant pairs).
- :func:`accuracy_interval`: binomial interval of one accuracy measured on ``n`` test examples
  (``scipy.stats.binomtest(...).proportion_ci``).

Every interval is an :class:`Interval`; ``Interval.format`` writes it as the captions do
(``+1.6 [+1.1, +2.1]``).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """An estimate with a two-sided confidence interval.

    Attributes
    ----------
    estimate
        The point estimate (a mean, a mean difference, a proportion).
    low, high
        The interval's ends.
    confidence
        Its confidence level.
    n
        The number of observations behind it (seeds, pairs or test examples).
    """

    estimate: float
    low: float
    high: float
    confidence: float
    n: int

    def format(self, scale: float = 1.0, digits: int = 1, signed: bool = False) -> str:
        """``estimate [low, high]`` times ``scale`` (100 for points), ``+`` on positives if
        ``signed``."""
        spec = f"{'+' if signed else ''}.{digits}f"
        low, high = format(scale * self.low, spec), format(scale * self.high, spec)
        return f"{format(scale * self.estimate, spec)} [{low}, {high}]"


@dataclass(frozen=True)
class PairedTest:
    """A paired comparison: the mean difference ``a - b`` with its interval, and a p-value."""

    difference: Interval
    pvalue: float


@dataclass(frozen=True)
class McNemarResult:
    """Exact McNemar test of paired predictions.

    Attributes
    ----------
    only_a, only_b
        Test examples only classifier ``a`` (``b``) got right: the discordant pairs.
    pvalue
        Two-sided exact p-value: ``binomtest(only_a, only_a + only_b, 0.5)``; 1 when there is
        no discordant pair.
    n
        Test examples compared.
    """

    only_a: int
    only_b: int
    pvalue: float
    n: int


def _sample(values: Sequence[float] | np.ndarray, minimum: int = 2) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()
    if array.size < minimum:
        raise ValueError(f"an interval needs at least {minimum} values, got {array.size}")
    if not np.isfinite(array).all():
        raise ValueError("values must be finite")
    return array


@contextlib.contextmanager
def _agreeing_seeds() -> Iterator[None]:
    """Silence scipy's "precision loss" warning for values that (nearly) agree: seeds that agree
    to the test set's granularity are common here, and their interval (a point) is still right."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        yield


def t_interval(values: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE) -> Interval:
    """Mean of ``values`` with Student's t interval ``mean +- t_{n-1} s / sqrt(n)``.

    Parameters
    ----------
    values : sequence of float
        One value per seed (at least 2).
    confidence : float
        Confidence level.

    Returns
    -------
    Interval
        From ``scipy.stats.ttest_1samp(values, 0).confidence_interval(confidence)``.
    """
    sample = _sample(values)
    with _agreeing_seeds():
        ci = stats.ttest_1samp(sample, 0.0).confidence_interval(confidence)
    return Interval(float(sample.mean()), float(ci.low), float(ci.high), confidence, sample.size)


def bootstrap_interval(values: Sequence[float] | np.ndarray,
                       statistic: Callable[..., float] = np.mean,
                       confidence: float = CONFIDENCE, n_resamples: int = 9999,
                       method: str = "BCa", seed: int = 0) -> Interval:
    """``statistic`` of ``values`` with a bootstrap interval (Efron & Tibshirani 1993).

    Parameters
    ----------
    values : sequence of float
        The sample (at least 2 values).
    statistic : callable
        ``statistic(sample, axis=...)`` (numpy reductions such as ``np.mean``, ``np.median``).
    confidence : float
        Confidence level.
    n_resamples : int
        Bootstrap resamples.
    method : str
        ``BCa`` (bias-corrected and accelerated), ``percentile`` or ``basic``.
    seed : int
        Seed of the resampling.

    Returns
    -------
    Interval
        From ``scipy.stats.bootstrap``.
    """
    sample = _sample(values)
    result = stats.bootstrap((sample,), statistic, confidence_level=confidence,
                             n_resamples=n_resamples, method=method,
                             rng=np.random.default_rng(seed))
    ci = result.confidence_interval
    return Interval(float(statistic(sample)), float(ci.low), float(ci.high), confidence,
                    sample.size)


def paired_difference(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray,
                      confidence: float = CONFIDENCE) -> PairedTest:
    """Mean of the paired differences ``a_i - b_i`` with its t interval (paired t test).

    Parameters
    ----------
    a, b : sequence of float
        The two arms, paired by position (same seed, same data); at least 2 pairs.
    confidence : float
        Confidence level.

    Returns
    -------
    PairedTest
        From ``scipy.stats.ttest_rel(a, b)``: the interval of the mean difference and the
        two-sided p-value of "no difference".
    """
    x, y = _sample(a), _sample(b)
    if x.size != y.size:
        raise ValueError(f"paired arms need as many values each, got {x.size} and {y.size}")
    with _agreeing_seeds():
        result = stats.ttest_rel(x, y)
        ci = result.confidence_interval(confidence)
    difference = Interval(float((x - y).mean()), float(ci.low), float(ci.high), confidence,
                          x.size)
    return PairedTest(difference, float(result.pvalue))


def mcnemar(correct_a: Sequence[bool] | np.ndarray,
            correct_b: Sequence[bool] | np.ndarray) -> McNemarResult:
    """Exact McNemar test: do two classifiers err equally often on the same test examples?

    Under the null hypothesis each discordant example (right for exactly one classifier) is
    right for ``a`` with probability 1/2, so ``only_a ~ Binomial(only_a + only_b, 1/2)``
    (McNemar 1947; the exact binomial form).

    Parameters
    ----------
    correct_a, correct_b : sequence of bool
        Per test example, whether each classifier predicted it correctly (same order).

    Returns
    -------
    McNemarResult
        Discordant counts and ``scipy.stats.binomtest``'s two-sided p-value.
    """
    a = np.asarray(correct_a, dtype=bool).ravel()
    b = np.asarray(correct_b, dtype=bool).ravel()
    if a.size != b.size or a.size == 0:
        raise ValueError(f"paired predictions need one non-empty test set, got {a.size} and "
                         f"{b.size} examples")
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    discordant = only_a + only_b
    pvalue = stats.binomtest(only_a, discordant, 0.5).pvalue if discordant else 1.0
    return McNemarResult(only_a, only_b, float(pvalue), a.size)


def accuracy_interval(correct: int, n: int, confidence: float = CONFIDENCE,
                      method: str = "exact") -> Interval:
    """Accuracy ``correct / n`` on a test set of ``n`` examples with its binomial interval.

    Parameters
    ----------
    correct, n : int
        Correct predictions and test-set size (``0 <= correct <= n``, ``n >= 1``).
    confidence : float
        Confidence level.
    method : str
        ``exact`` (Clopper & Pearson 1934), ``wilson`` (Wilson 1927) or ``wilsoncc``.

    Returns
    -------
    Interval
        From ``scipy.stats.binomtest(correct, n).proportion_ci(confidence, method)``.
    """
    if not 0 <= correct <= n or n < 1:
        raise ValueError(f"need 0 <= correct <= n and n >= 1, got correct={correct}, n={n}")
    ci = stats.binomtest(correct, n).proportion_ci(confidence_level=confidence, method=method)
    return Interval(correct / n, float(ci.low), float(ci.high), confidence, n)
