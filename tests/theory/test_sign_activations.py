"""Sign-activation tickets: exact agreement outside the certified margin, agreement vs width."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.constructions import sign_activations as sign
from theory.networks import random_target
from verify.cli.main import main
from verify.sign_study import run_sign_construction


def test_sign_forward_and_margins_by_hand() -> None:
    """W_1 = [[1, -1], [0.5, 0.5]], W_2 = [[1, 1]]; x = (0.6, 0.8): W_1 x = (-0.2, 0.7),
    h = (-1, +1), W_2 h = 0 -> sgn 0 = +1; margins (0.2 / 1, 0)."""
    weights = [np.array([[1.0, -1.0], [0.5, 0.5]]), np.array([[1.0, 1.0]])]
    x = np.array([[0.6, 0.8]])
    assert sign.sign_forward(weights, x).tolist() == [[1.0]]
    assert np.allclose(sign.margins(weights, x), [[0.2, 0.0]])
    assert sign.sgn(np.array([-0.0, 0.0, -1e-300])).tolist() == [1.0, 1.0, -1.0]


def test_tolerance_by_hand() -> None:
    assert sign.tolerance([4, 3, 2], 0.3) == pytest.approx(0.1)
    assert sign.tolerance([9, 2], 0.3) == pytest.approx(0.1)


@settings(max_examples=10)
@given(widths=st.lists(st.integers(1, 3), min_size=2, max_size=4),
       block=st.one_of(st.none(), st.integers(2, 16)), seed=st.integers(0, 2**31))
def test_agreement_is_exact_outside_the_certified_margin(widths: list[int], block: int | None,
                                                        seed: int) -> None:
    rng = np.random.default_rng(seed)
    target = random_target(widths, rng)
    result = sign.construct(target, 0.1, 0.2, rng, block_size=block)
    result.subnetwork.check_genuine()
    assert result.source_depth == len(widths)
    x = rng.standard_normal((2000, widths[0]))
    outside = np.all(sign.margins(target, x) > np.array(result.certified_margins), axis=1)
    agree = np.all(sign.ticket_forward(result.subnetwork, x) == sign.sign_forward(target, x),
                   axis=1)
    assert np.all(agree[outside])
    if result.success:
        assert max(result.certified_margins) <= 0.1


def test_default_width_agrees_almost_everywhere() -> None:
    row = run_sign_construction(2, 2, 0.1, seed=0)
    assert row["success"] and row["disagreements_outside"] == 0
    assert row["outside_margin"] >= 0.99 and row["agreement_rate"] >= row["outside_margin"]
    assert row["source_depth"] == 3


def test_cli_construct_sign(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["verify", "construct", "--method", "sign", "--width", "2", "--depth", "2",
            "--eps", "0.1", "--block-size", "8", "--json"]
    assert main(argv) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["construction"] == "sign" and row["disagreements_outside"] == 0
    assert main(["verify", "sweep", "--method", "sign", "--vary", "width"]) == 2


def test_bad_margin_raises() -> None:
    with pytest.raises(ValueError, match="margin"):
        sign.construct([np.array([[0.5]])], 0.0, 0.1, np.random.default_rng(0))


def test_margin_at_the_boundary_is_not_certified() -> None:
    """Found by hypothesis: a copy with no unit of a < 0 outputs sgn(0) = +1 for x < 0 while
    mu_1 = gamma_1 = |W|; rounding of |W x| / |x| must not certify such inputs."""
    rng = np.random.default_rng(2)
    target = random_target([1, 1, 1], rng)
    result = sign.construct(target, 0.1, 0.2, rng, block_size=2)
    x = rng.standard_normal((2000, 1))
    outside = np.all(sign.margins(target, x) > np.array(result.certified_margins), axis=1)
    agree = np.all(sign.ticket_forward(result.subnetwork, x) == sign.sign_forward(target, x),
                   axis=1)
    assert not agree.all() and np.all(agree[outside])


def test_later_layer_certificate_is_the_l1_error() -> None:
    """Hand-made worst case: W_2 = [0.5, 0.1], ticket row [0.25, 0.35], so E = (-0.25, 0.25)
    and gamma_2 = ||E||_1 = 0.5.  For h = (1, -1) the target margin is 0.4 (above max |E| =
    0.25) yet the ticket's pre-activation is -0.1: the wrong sign, so only the l1 norm
    certifies."""
    target = [np.array([[0.5], [0.5]]), np.array([[0.5, 0.1]])]
    first = np.array([[1.0], [-1.0]])
    second = np.array([[0.5, -0.5], [0.5, -0.5]])
    effective = [first, second, np.array([[0.25, 0.35]])]
    gammas, _ = sign.certified_margins(target, effective, copies=[1])
    assert gammas == pytest.approx((0.0, 0.5))
    assert gammas[1] > 0.5
    h = np.array([1.0, -1.0])
    assert abs(target[1] @ h)[0] == pytest.approx(0.4) and (effective[2] @ h)[0] < 0
    assert abs(target[1] @ h)[0] <= gammas[1]
