"""Convolutional networks (numpy) and the CNN strong-ticket construction."""

from __future__ import annotations

import itertools
import json
from functools import partial

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.constructions import conv_subset_sum
from theory.conv import (
    ConvSourceDraw,
    ConvSubnetwork,
    check_conv_target,
    conv_forward,
    conv_forward_loop,
    layer_matrix,
    operator_norm,
    random_conv_target,
)
from theory.sup_error import sup_error
from verify.cli.main import main
from verify.conv_study import _flat

SHAPES = [((3,), (7,)), ((2, 2), (4, 3))]


def test_conv_layer_by_hand() -> None:
    """Kernel [1, -1] on x = [0, 1, 3, 6]: differences [-1, -2, -3]; ReLU between layers."""
    x = np.array([[[0.0, 1.0, 3.0, 6.0]]])
    kernel = np.array([[[1.0, -1.0]]])
    assert conv_forward([kernel], x).tolist() == [[[-1.0, -2.0, -3.0]]]
    assert conv_forward([kernel, -kernel], x).tolist() == [[[0.0, 0.0]]]


@settings(max_examples=12)
@given(shape=st.sampled_from(SHAPES), channels=st.lists(st.integers(1, 3), min_size=2,
                                                         max_size=3), seed=st.integers(0, 2**31))
def test_forward_matches_direct_loops(shape: tuple, channels: list[int], seed: int) -> None:
    kernel, spatial = shape
    rng = np.random.default_rng(seed)
    kernels = [rng.standard_normal((o, c, *kernel)) for c, o in itertools.pairwise(channels)]
    x = rng.standard_normal((2, channels[0], *spatial))
    assert np.allclose(conv_forward(kernels, x), conv_forward_loop(kernels, x), atol=1e-12)


def test_operator_norm_is_the_largest_gain() -> None:
    """||K||_op is attained (top singular vector) and never exceeded on random inputs."""
    rng = np.random.default_rng(0)
    kernel = rng.standard_normal((2, 2, 3))
    norm = operator_norm(kernel, (2, 7))
    x = rng.standard_normal((500, 2, 7))
    gains = (np.linalg.norm(conv_forward([kernel], x).reshape(500, -1), axis=1)
             / np.linalg.norm(x.reshape(500, -1), axis=1))
    assert gains.max() <= norm * (1 + 1e-12)
    top = np.linalg.svd(layer_matrix(kernel, (2, 7)))[2][0].reshape(1, 2, 7)
    assert np.linalg.norm(conv_forward([kernel], top)) == pytest.approx(norm)


def test_random_target_meets_the_assumption() -> None:
    target = random_conv_target([1, 3, 2], (2, 2), (5, 5), np.random.default_rng(1))
    check_conv_target(target, (5, 5))
    with pytest.raises(ValueError, match="op"):
        check_conv_target([3 * t for t in target], (5, 5))


def test_genuine_check_rejects_bad_masks() -> None:
    rng = np.random.default_rng(2)
    target = random_conv_target([1, 2], (3,), (6,), rng)
    result = conv_subset_sum.construct(target, 0.2, 0.2, rng, (6,))
    ticket = result.subnetwork
    ticket.check_genuine()
    draw = ticket.provenance
    as_float = tuple(m.astype(float) for m in ticket.masks)
    with pytest.raises(ValueError, match="boolean"):
        ConvSubnetwork(ticket.source, as_float, draw).check_genuine()
    swapped = (ticket.source[1], ticket.source[0])
    with pytest.raises(ValueError):
        ConvSubnetwork(swapped, (ticket.masks[1], ticket.masks[0]), draw).check_genuine()


def test_genuine_check_needs_an_honest_draw() -> None:
    """Provenance (issue 11, A2): no draw, the target as its own source, a source edited after
    the construction, or a subclass evaluating something else are all refused."""
    rng = np.random.default_rng(2)
    target = random_conv_target([1, 2], (3,), (6,), rng)
    ticket = conv_subset_sum.construct(target, 0.2, 0.2, rng, (6,)).subnetwork
    assert all(np.array_equal(s, d) for s, d in zip(ticket.source, ticket.provenance.layers(),
                                                    strict=True))
    with pytest.raises(ValueError, match="provenance"):
        ConvSubnetwork(ticket.source, ticket.masks).check_genuine()
    edited = [s.copy() for s in ticket.source]
    edited[1][ticket.masks[1]] *= 1.5
    with pytest.raises(ValueError, match="differs from its regenerated draw"):
        ConvSubnetwork(tuple(edited), ticket.masks, ticket.provenance).check_genuine()
    full = tuple(np.ones(t.shape, dtype=bool) for t in target)
    with pytest.raises(ValueError, match="shapes differ"):
        ConvSubnetwork(tuple(target), full, ticket.provenance).check_genuine()
    draw = ConvSourceDraw(tuple(t.shape for t in target), 0)
    with pytest.raises(ValueError, match="differs from its regenerated draw"):
        ConvSubnetwork(tuple(target), full, draw).check_genuine()

    class Scaled(ConvSubnetwork):
        def __call__(self, x: np.ndarray) -> np.ndarray:
            return 2 * super().__call__(x)

    with pytest.raises(ValueError, match="overrides"):
        Scaled(ticket.source, ticket.masks, ticket.provenance).check_genuine()


@settings(max_examples=8)
@given(shape=st.sampled_from(SHAPES), depth=st.integers(1, 2), block=st.one_of(
    st.none(), st.integers(2, 12)), seed=st.integers(0, 2**31))
def test_certificate_bounds_the_measured_error(shape: tuple, depth: int, block: int | None,
                                               seed: int) -> None:
    """The ticket is a genuine CNN with weight sharing; sampled sup error <= certified <=
    predicted; success => error <= eps; the default width is the bound's."""
    kernel, spatial = shape
    rng = np.random.default_rng(seed)
    target = random_conv_target([1] + [2] * depth, kernel, spatial, rng)
    result = conv_subset_sum.construct(target, 0.2, 0.2, rng, spatial, block_size=block)
    result.subnetwork.check_genuine()
    assert result.source_depth == 2 * depth
    in_shape = (1, *spatial)
    measured = sup_error(partial(_flat, partial(conv_forward, target), in_shape),
                         partial(_flat, result.subnetwork, in_shape), int(np.prod(in_shape)),
                         np.random.default_rng(seed), n_samples=512).value
    assert measured <= result.certified_error * (1 + 1e-9) + 1e-12
    assert result.certified_error <= result.predicted_error * (1 + 1e-9) + 1e-12
    if result.success:
        assert measured <= 0.2
    if block is None:
        assert result.source_width == result.bound_width


def test_error_falls_exponentially_in_block_size() -> None:
    """Median per-weight error (pooled over weights and seeds) of a 1-D conv target against the
    block size n: log error falls linearly in n (2^(n/2) subset sums per sign), far faster than
    any small power of 1/n."""
    target = random_conv_target([1, 2], (3,), (8,), np.random.default_rng(3))
    sizes = np.array([6, 12, 18, 24])
    medians = [np.median(np.concatenate([
        conv_subset_sum.construct(target, 0.1, 0.1, np.random.default_rng(s), (8,),
                                  block_size=int(n)).per_weight_errors for s in range(6)]))
        for n in sizes]
    assert np.polyfit(sizes, np.log(medians), 1)[0] < -0.2
    assert np.polyfit(np.log(sizes), np.log(medians), 1)[0] < -3


@pytest.mark.parametrize("method", ["conv-1d", "conv-2d"])
def test_cli_construct(method: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["verify", "construct", "--method", method, "--width", "2", "--depth", "1",
            "--eps", "0.1", "--json"]
    assert main(argv) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["within_eps"] and row["sup_error"] <= row["certified_error"] * (1 + 1e-9)
    assert row["sup_method"] == ("exact" if method == "conv-1d" else "sampled")


def test_cli_too_deep_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "construct", "--method", "conv-1d", "--depth", "4"]) == 2
    assert "--depth" in capsys.readouterr().err
