"""Sympy bounds: LaTeX, hand-computed values, agreement with the constructions, monotonicity."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import sympy as sp

from theory import bounds
from theory.constructions import binary_depth, constructions, malach, mpt_binary, our_bounds, pensia

BLOCK_BOUNDS = {
    "ours-pensia": pensia.block_sizes_bound,
    "ours-malach": malach.block_sizes_bound,
    "ours-mpt-binary": mpt_binary.block_sizes_bound,
}


@pytest.mark.parametrize(
    "name", sorted({*bounds.BOUNDS, *(b.name for b in our_bounds().values())}))
def test_latex_and_unknown_constant_flag(name: str) -> None:
    bound = bounds.get_bound(name)
    assert bound.latex().strip()
    assert bound.has_unknown_constant == (bounds.C in bound.expr.free_symbols)
    assert bound.kind in {"upper", "lower", "ours"}
    assert (bound.kind == "ours") == name.startswith("ours-")


@pytest.mark.parametrize(
    ("name", "values", "expected"),
    [
        ("lueker-subset-sum", {"C": 2.0, "epsilon": 0.1, "delta": 0.2}, 2 * math.log(20)),
        ("subset-sum-counting", {"epsilon": 1 / 8}, 3.0),
        ("pensia-width", {"C": 1, "d": 2, "l": 3, "epsilon": 0.5, "delta": 0.1}, 2 * math.log(120)),
        ("pensia-lower", {"C": 1, "d": 4, "epsilon": math.exp(-2)}, 8.0),
        ("malach-width", {"C": 1, "d": 2, "l": 3}, 288.0),
        (
            "mpt-1-32-width",
            {"C": 1, "d": 4, "l": 1, "epsilon": 0.5, "delta": 0.5},
            16 + 4 * math.log(8),
        ),
        ("sreenivasan-depth", {"C": 1, "d": 5, "l": 2, "epsilon": 0.1}, 2 * math.log(100)),
        ("sreenivasan-width", {"C": 1, "d": 5, "l": 2, "epsilon": 0.1}, 5 * math.log(100) ** 2),
    ],
)
def test_theorem_values_by_hand(name: str, values: dict, expected: float) -> None:
    assert bounds.get_bound(name).evaluate(**values) == pytest.approx(expected)


def test_ours_mpt_by_hand() -> None:
    """d=1, l=1, eps=e-1: tau = 1/sqrt(2), c = ceil(sqrt(2)/2) = 1, L = ln(2/delta) with
    delta = 2/e, s = 2 (sqrt(1/2) + sqrt(3/2)), width ceil(s^2) = ceil(8 + 4 sqrt(3)) = 15."""
    value = bounds.get_bound("ours-mpt-binary").evaluate(
        d=1, l=1, epsilon=math.e - 1, delta=2 / math.e
    )
    assert value == 15


@pytest.mark.parametrize("name", list(BLOCK_BOUNDS))
@pytest.mark.parametrize(
    ("d", "depth", "eps", "delta"), [(1, 1, 0.1, 0.1), (3, 2, 0.05, 0.01), (8, 4, 0.5, 0.5)]
)
def test_ours_equals_construction_bound(
    name: str, d: int, depth: int, eps: float, delta: float
) -> None:
    blocks = BLOCK_BOUNDS[name]([d] * (depth + 1), eps, delta)
    value = bounds.get_bound(name).evaluate(d=d, l=depth, epsilon=eps, delta=delta)
    assert value == d * max(blocks)


@pytest.mark.parametrize("name", list(BLOCK_BOUNDS))
def test_ours_monotone_in_eps_and_d(name: str) -> None:
    """Non-increasing in eps, non-decreasing in d from d = 2 (at d = 1 the entrywise assumption
    allows |w| = 1, where the product density vanishes, so Malach's bound is larger there)."""
    bound = bounds.get_bound(name)
    eps_grid = np.geomspace(0.01, 0.9, 12)
    by_eps = [bound.evaluate(d=3, l=2, epsilon=e, delta=0.1) for e in eps_grid]
    assert all(a >= b for a, b in itertools.pairwise(by_eps))
    by_d = [bound.evaluate(d=d, l=2, epsilon=0.1, delta=0.1) for d in range(2, 12)]
    assert all(a <= b for a, b in itertools.pairwise(by_d))


def test_ours_order_of_growth() -> None:
    """Pensia's bound grows like log(1/eps), the counting bounds like 1/eps."""
    ratio = {
        name: bounds.get_bound(name).evaluate(d=2, l=1, epsilon=1e-4, delta=0.1)
        / bounds.get_bound(name).evaluate(d=2, l=1, epsilon=1e-2, delta=0.1)
        for name in BLOCK_BOUNDS
    }
    assert ratio["ours-pensia"] < 3
    assert 50 < ratio["ours-mpt-binary"] < 150 and 50 < ratio["ours-malach"] < 200


def test_bad_names_and_values() -> None:
    with pytest.raises(ValueError, match="unknown bound"):
        bounds.get_bound("nope")
    with pytest.raises(ValueError, match="needs exactly"):
        bounds.get_bound("pensia-width").evaluate(d=2)
    assert isinstance(bounds.get_bound("pensia-width").expr, sp.Expr)


@pytest.mark.parametrize(
    ("d", "depth", "eps", "delta"), [(1, 1, 0.1, 0.1), (3, 2, 0.05, 0.01), (8, 4, 0.5, 0.5)]
)
def test_ours_binary_depth_equals_construction(d: int, depth: int, eps: float,
                                               delta: float) -> None:
    widths = [d] * (depth + 1)
    bits = binary_depth.fractional_bits(widths, eps)
    q, fan = binary_depth.candidates_bound(widths, bits, delta)
    hidden = max(binary_depth.block_widths(d, d, bits + 1, q, fan)[:-1])
    value = bounds.get_bound("ours-binary-depth").evaluate(d=d, l=depth, epsilon=eps, delta=delta)
    assert value == hidden
    assert {"pensia", "malach", "mpt-binary", "binary-depth", "orseau",
            "depth-plus-one"} <= set(our_bounds())
    assert all(c.bound is not None for c in constructions("gadget", "depth"))


@pytest.mark.parametrize(("widths", "eps", "delta"),
                         [([1, 1], 0.1, 0.1), ([3, 2, 4], 0.05, 0.01), ([8, 8, 8], 0.5, 0.3)])
def test_bound_parameters_are_the_smallest_meeting_their_derivations(
    widths: list[int], eps: float, delta: float
) -> None:
    """Each construction's bound parameters satisfy the inequality their docstring derives, and
    one less would not: Pensia's ``2^(1 - m/C_P) <= min(tau, delta / (2 E_s))``, Malach's
    ``exp(-n q / 2) <= delta / E``, MPT's ``2 c tau >= w_max``, binary-depth's
    ``2^-(K+1) <= min tau`` and ``(3/4)^q <= delta / (2 N_s)``."""
    d = np.asarray(widths, dtype=float)
    tau = pensia.layer_tolerances(widths, eps)
    pairs = 2 * float(np.sum(d[1:] * d[:-1]))
    for m, t in zip(pensia.summand_counts(widths, eps, delta), tau, strict=True):
        need = min(t, delta / (2 * pairs))
        assert 2 ** (1 - m / pensia.CALIBRATED_C) <= need < 2 ** (1 - (m - 1) / pensia.CALIBRATED_C)
    for n, d_in, t in zip(malach.block_sizes_bound(widths, eps, delta), d[:-1], tau, strict=True):
        q = malach.window_probability(1 / math.sqrt(d_in), t)
        assert math.exp(-n * q / 2) <= delta / pairs < math.exp(-(n - 1) * q / 2)
    for c, d_in, t in zip(mpt_binary.counts_needed(widths, eps), d[:-1], tau, strict=True):
        assert 2 * c * t >= 1 / math.sqrt(d_in) > 2 * (c - 1) * t
    bits = binary_depth.fractional_bits(widths, eps)
    assert 2.0 ** -(bits + 1) <= min(tau) and (bits == 0 or 2.0 ** -bits > min(tau))
    q, _ = binary_depth.candidates_bound(widths, bits, delta)
    digits = bits + 1
    slots = float(np.sum(2 * d[:-1])) * digits * (digits + 3) / 2
    assert 0.75**q <= delta / (2 * slots) < 0.75 ** (q - 1)
