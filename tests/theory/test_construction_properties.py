"""Properties every gadget construction must have, over random small targets (hypothesis).

For pensia, malach and mpt-binary: the subnetwork is genuine; the measured sup error never
exceeds the certified bound, which never exceeds the predicted one; reported success implies a
measured error <= eps; the default source width is within our bound_width; the success rate over
seeds is at least the 1 - delta our bounds promise.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.constructions import ConstructionResult, constructions, get_method
from theory.networks import forward, random_target
from theory.sup_error import sup_error

GADGET_METHODS = ["pensia", "malach", "mpt-binary"]


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[int], float, int, int | None]:
    """Target widths (depth 1-2, widths 1-3), eps, seed and an optional block-size override."""
    widths = draw(st.lists(st.integers(1, 3), min_size=2, max_size=3))
    eps = draw(st.floats(0.1, 0.5))
    seed = draw(st.integers(0, 2**31))
    block = draw(st.one_of(st.none(), st.integers(2, 24)))
    return widths, eps, seed, block


def _measured(target: list[np.ndarray], result: ConstructionResult, seed: int) -> float:
    return sup_error(
        lambda x: forward(target, x),
        result.subnetwork.evaluator(),
        len(target[0][0]),
        np.random.default_rng(seed),
    ).value


@pytest.mark.parametrize("method", GADGET_METHODS)
@settings(max_examples=12)
@given(case=cases())
def test_error_bounds_hold_and_subnetwork_is_genuine(method: str, case: tuple) -> None:
    widths, eps, seed, block = case
    rng = np.random.default_rng(seed)
    target = random_target(widths, rng, constraint="both")
    overrides = {} if block is None else {"block_size": block}
    result = get_method(method)(target, eps, 0.2, rng, **overrides)
    result.subnetwork.check_genuine()
    assert result.per_weight_errors.size == 2 * sum(a * b for a, b in itertools.pairwise(widths))
    assert result.source_depth == 2 * (len(widths) - 1)
    assert result.certified_error <= result.predicted_error + 1e-12
    measured = _measured(target, result, seed)
    assert measured <= result.certified_error * (1 + 1e-9) + 1e-12
    if result.success:
        assert measured <= eps
        assert result.max_weight_error <= max(result.plan["tolerances"])
    if block is None:
        assert result.source_width <= result.bound_width
    assert 0 < result.kept_fraction <= 1 or result.subnetwork.n_kept == 0
    json.dumps(result.summary())


@pytest.mark.parametrize("method", GADGET_METHODS)
def test_success_rate_at_least_one_minus_delta(method: str) -> None:
    """At our bound's default width, at least a 1 - delta fraction of seeds succeed."""
    delta, seeds = 0.3, range(10)
    successes = 0
    for seed in seeds:
        rng = np.random.default_rng(1000 + seed)
        target = random_target([2, 2, 1], rng, constraint="both")
        successes += get_method(method)(target, 0.3, delta, rng).success
    assert successes >= (1 - delta) * len(seeds)


def test_registry_names_and_unknown_method() -> None:
    assert set(GADGET_METHODS) <= {c.name for c in constructions("gadget")}
    with pytest.raises(ValueError, match="unknown construction"):
        get_method("nope")
