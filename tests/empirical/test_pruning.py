"""Exact tests of the IMP mask rules: counts, threshold, ties, exclusions, random pruning."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from empirical.algorithms import pruning


def _layers(seed: int, shapes: list[tuple[int, ...]]) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {f"l{i}": torch.randn(s, generator=gen) for i, s in enumerate(shapes)}


def _round_to_ties(w: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Coarse values so that ties at the threshold are common."""
    return {n: torch.round(t * 2) / 2 for n, t in w.items()}


shapes_st = st.lists(
    st.sampled_from([(7,), (3, 5), (4, 2, 3, 3), (2,), (12, 1)]), min_size=1, max_size=4
)
rate_st = st.sampled_from([0.1, 0.15, 0.2, 0.29, 0.5, 0.9])


def test_count_rule_exact_values() -> None:
    assert pruning.count_to_prune(100, 0.29) == 29  # 0.29 * 100 is 28.999... in floating point
    assert pruning.count_to_prune(5, 0.2) == 1
    assert pruning.count_to_prune(4, 0.2) == 0
    assert pruning.count_to_prune(266200, 0.2) == 53240
    assert pruning.count_to_prune(10, 1.0) == 10
    assert pruning.count_to_keep(10, 0.25) == 3
    assert pruning.count_to_keep(100, 0.07) == 7
    for bad in (0.0, -0.1, 1.5, math.nan):
        with pytest.raises(ValueError, match="prune rate"):
            pruning.count_to_prune(10, bad)


def test_smallest_magnitudes_go_and_negatives_are_not_frozen() -> None:
    w = {"a": torch.tensor([-5.0, 1.0, -2.0, 3.0, 0.5]), "b": torch.tensor([-0.1, -0.2, -0.3])}
    masks = pruning.magnitude_prune(w, pruning.all_ones(w), 0.4)
    assert masks["a"].tolist() == [True, False, True, True, False]  # floor(2.0): |0.5|, |1|
    assert masks["b"].tolist() == [False, True, True]  # floor(1.2): the negative -0.1 goes


def test_ties_break_by_layer_order_then_flat_index() -> None:
    w = {"a": torch.ones(2, 2), "b": -torch.ones(3)}
    layerwise = pruning.magnitude_prune(w, pruning.all_ones(w), 0.5)
    assert layerwise["a"].flatten().tolist() == [False, False, True, True]
    assert layerwise["b"].tolist() == [False, True, True]
    glob = pruning.magnitude_prune(w, pruning.all_ones(w), 0.5, scope="global")
    assert glob["a"].flatten().tolist() == [False, False, False, True]  # floor(0.5 * 7) = 3
    assert glob["b"].tolist() == [True, True, True]


@given(seed=st.integers(0, 2**16), shapes=shapes_st, rate=rate_st, ties=st.booleans())
def test_layerwise_count_threshold_and_monotone(seed, shapes, rate, ties) -> None:
    w = _layers(seed, shapes)
    w = _round_to_ties(w) if ties else w
    start = pruning.random_prune(pruning.all_ones(w), seed, scope="layerwise")
    new = pruning.magnitude_prune(w, start, rate)
    for n in w:
        before, after = start[n], new[n]
        assert after.dtype == torch.bool
        assert not (after & ~before).any()  # masks only shrink
        removed = before & ~after
        assert int(removed.sum()) == math.floor(rate * int(before.sum()) + 1e-9)
        if removed.any() and after.any():
            assert w[n][removed].abs().max() <= w[n][after].abs().min()


@given(seed=st.integers(0, 2**16), shapes=shapes_st, rate=rate_st, ties=st.booleans())
def test_global_count_threshold_and_exclusion(seed, shapes, rate, ties) -> None:
    w = _layers(seed, [*shapes, (40,)])
    w = _round_to_ties(w) if ties else w
    ones = pruning.all_ones(w)
    pool = list(w)[:-1]
    try:
        new = pruning.magnitude_prune(w, ones, rate, scope="global", exclude=["output"])
    except ValueError as err:  # a tiny layer emptied by the global threshold
        assert "0 weights" in str(err)
        return
    assert new[list(w)[-1]].all()  # the excluded output layer stays dense
    removed = torch.cat([(~new[n]).flatten() for n in pool])
    kept_mag = torch.cat([w[n][new[n]].abs() for n in pool])
    gone_mag = torch.cat([w[n][~new[n]].abs() for n in pool])
    total = sum(w[n].numel() for n in pool)
    assert int(removed.sum()) == math.floor(rate * total + 1e-9)
    if gone_mag.numel():
        assert gone_mag.max() <= kept_mag.min()


@pytest.mark.parametrize(("rate", "levels", "n"), [(0.2, 15, 266200), (0.1, 20, 10), (0.15, 9, 73)])
def test_density_after_levels_follows_the_rule(rate, levels, n) -> None:
    w = {"x": torch.linspace(-1.0, 1.0, n)}
    masks = pruning.all_ones(w)
    for _ in range(levels):
        masks = pruning.magnitude_prune(w, masks, rate)
    kept = pruning.density(masks).n_kept
    ideal = (1 - rate) ** levels * n
    assert ideal <= kept < ideal + 1 / rate
    assert pruning.density(masks).overall == pruning.expected_density(levels, rate, [n])


def test_paper_lenet_densities() -> None:
    sizes = [784 * 300, 300 * 100, 100 * 10]
    rates = [0.2, 0.2, 0.1]
    published = {3: 0.513, 7: 0.211, 9: 0.135, 11: 0.087, 15: 0.036}
    for level, dens in published.items():
        assert pruning.expected_density(level, rates, sizes) == pytest.approx(dens, abs=5e-4)


def test_per_kind_rates_and_exclusion_in_layerwise() -> None:
    w = {"conv": torch.randn(4, 2, 3, 3), "fc": torch.randn(6, 8), "out": torch.randn(3, 6)}
    rates = pruning.layer_rates(w, 0.2, conv_rate=0.15, output_rate=0.1)
    assert rates == {"conv": 0.15, "fc": 0.2, "out": 0.1}
    masks = pruning.magnitude_prune(w, pruning.all_ones(w), rates, exclude=["fc"])
    assert pruning.density(masks).kept == {"conv": 72 - 10, "fc": 48, "out": 18 - 1}


def test_bad_requests_raise_value_error() -> None:
    w = {"a": torch.randn(10), "b": torch.randn(3)}
    ones = pruning.all_ones(w)
    with pytest.raises(ValueError, match="0 weights in layer a"):
        pruning.magnitude_prune(w, ones, 1.0)
    with pytest.raises(ValueError, match="unknown layer 'c'"):
        pruning.magnitude_prune(w, ones, 0.2, exclude=["c"])
    with pytest.raises(ValueError, match="scope"):
        pruning.magnitude_prune(w, ones, 0.2, scope="per-channel")
    with pytest.raises(ValueError, match="every prunable layer is excluded"):
        pruning.magnitude_prune(w, ones, 0.2, exclude=["a", "b"])
    half = pruning.prune_to_density(w, ones, 0.5)
    with pytest.raises(ValueError, match="only 5 remain"):
        pruning.prune_to_density(w, half, 0.6)
    with pytest.raises(ValueError, match="0 weights in layer b"):  # global threshold empties b
        pruning.magnitude_prune(
            {"a": torch.ones(10) * 9, "b": torch.ones(2)},
            pruning.all_ones({"a": torch.ones(10), "b": torch.ones(2)}),
            0.2,
            scope="global",
        )
    with pytest.raises(ValueError, match="NaN"):
        pruning.magnitude_prune({"a": torch.tensor([1.0, math.nan])}, {"a": torch.ones(2)}, 0.5)


def test_one_shot_to_density_keeps_ceil_d_n() -> None:
    w = _layers(3, [(10, 10), (7,), (5, 2)])
    ones = pruning.all_ones(w)
    layerwise = pruning.prune_to_density(w, ones, 0.33)
    assert pruning.density(layerwise).kept == {"l0": 33, "l1": 3, "l2": 4}
    glob = pruning.prune_to_density(w, ones, 0.33, scope="global", exclude=["l1"])
    d = pruning.density(glob)
    assert d.kept["l0"] + d.kept["l2"] == 37 and d.kept["l1"] == 7  # ceil(0.33 * 110)


@given(seed=st.integers(0, 2**16), shapes=shapes_st, scope=st.sampled_from(pruning.SCOPES))
def test_random_prune_keeps_counts_and_is_reproducible(seed, shapes, scope) -> None:
    w = _layers(seed, [*shapes, (30,)])
    ref = pruning.magnitude_prune(w, pruning.all_ones(w), 0.5)
    try:
        a = pruning.random_prune(ref, seed, scope=scope)
    except ValueError as err:  # the global shuffle emptied a tiny layer
        assert scope == "global" and "0 weights" in str(err)
        return
    b = pruning.random_prune(ref, seed, scope=scope)
    assert all(torch.equal(a[n], b[n]) for n in w)
    da, dr = pruning.density(a), pruning.density(ref)
    assert da.n_kept == dr.n_kept
    if scope == "layerwise":
        assert da.kept == dr.kept


def test_random_prune_seed_matters_and_exclusion_copies() -> None:
    w = _layers(0, [(20, 20), (10,)])
    ref = pruning.magnitude_prune(w, pruning.all_ones(w), 0.5)
    a = pruning.random_prune(ref, 1, scope="global", exclude=["output"])
    b = pruning.random_prune(ref, 2, scope="global", exclude=["output"])
    assert not torch.equal(a["l0"], b["l0"])
    assert torch.equal(a["l1"], ref["l1"]) and torch.equal(b["l1"], ref["l1"])
    assert not torch.equal(a["l0"], ref["l0"])
