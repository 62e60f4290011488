"""Strong tickets of trained networks (verify/trained_ticket.py, ``tickets verify trained``)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from empirical.config.hparams import (
    DatasetHparams,
    MaskHparams,
    ModelHparams,
    RunHparams,
    TrainingHparams,
)
from theory.constructions.blocks import gadget_source_widths
from theory.networks import check_target, forward
from verify.cli.main import main
from verify.trained_ticket import (
    load_trained,
    source_entries,
    theory_target,
    ticket_of_trained,
    train_target,
)


def _hparams(**model) -> RunHparams:
    return RunHparams(model=ModelHparams(**{"name": "fc", "widths": (8,), "bn": "none", **model}),
                      mask=MaskHparams(mode="dense"),
                      training=TrainingHparams(optimizer="adam", lr=1e-2, epochs=3))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    return train_target(_hparams(), str(tmp_path_factory.mktemp("runs")))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), widths=st.lists(st.integers(1, 6), min_size=2, max_size=4),
       scale=st.floats(0.1, 30.0))
def test_rescaling_is_exact_by_homogeneity(seed: int, widths: list[int], scale: float) -> None:
    rng = np.random.default_rng(seed)
    weights = [scale * rng.standard_normal((b, a)) for a, b in itertools.pairwise(widths)]
    layers, factors = theory_target(weights)
    check_target(layers, "both")
    assert all(c >= 1 for c in factors)
    x = rng.standard_normal((16, widths[0]))
    np.testing.assert_allclose(np.prod(factors) * forward(layers, x), forward(weights, x),
                               rtol=1e-12, atol=1e-12 * np.prod(factors))


def test_only_bias_free_relu_fc_runs_are_accepted(tmp_path) -> None:
    with pytest.raises(ValueError, match="batch norm"):
        train_target(_hparams(bn="default"), str(tmp_path))
    with pytest.raises(ValueError, match="biases"):
        train_target(_hparams(bias=True), str(tmp_path))
    with pytest.raises(ValueError, match="not a finished run"):
        load_trained(tmp_path)


def test_ticket_of_a_trained_network(trained) -> None:
    assert [w.shape for w in trained.weights] == [(8, 64), (10, 8)]
    row = ticket_of_trained(trained, "pensia", eps=0.05, block_size=10, max_summands=5)
    assert row["target_widths"] == "64-8-10" and row["n_test"] == 359
    assert row["target_acc"] == pytest.approx(trained.stored_test_acc, abs=0.01)
    assert row["homogeneity_gap"] < 1e-9
    assert row["max_logit_error"] <= row["certified_logit_bound"]
    assert row["source_weights"] == source_entries(gadget_source_widths([64, 8, 10], [10, 10]))
    assert 0 < row["kept_weights"] < row["source_weights"]
    assert row["agreement"] == pytest.approx(1 - row["disagreements"] / row["n_test"])
    assert row["summands_per_sign"] == "5,5"
    finer = ticket_of_trained(trained, "pensia", eps=0.05, block_size=24)
    assert finer["max_logit_error"] < row["max_logit_error"]
    assert finer["max_weight_error"] < row["max_weight_error"]
    assert finer["agreement"] >= row["agreement"]
    assert finer["max_logit_error"] < 0.2 * finer["max_abs_logit"]  # 0.08 measured


def test_cli_on_a_stored_run(trained, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["verify", "trained", "--run", trained.run_dir, "--block-size", "6", "--json"]
    assert main(argv) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["method"] == "pensia" and row["block_sizes"] == "6,6"
    assert main([*argv[:-1], "--method", "mpt-binary"]) == 0
    assert "mpt-binary" in capsys.readouterr().out
    widths = ["verify", "trained", "--run", trained.run_dir, "--method", "mpt-binary",
              "--block-size", "4,32", "--json"]
    assert main(widths) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["block_sizes"] for r in rows] == ["4,4", "32,32"]
    assert rows[1]["source_weights"] == 8 * rows[0]["source_weights"]


@pytest.mark.parametrize(("extra", "message"), [
    (["--run", "/nonexistent/run"], "no such directory"),
    (["--widths", "8"], "drop the model flags"),
    (["--method", "malach", "--max-summands", "3"], "pensia only"),
    (["--block-size", "100000000"], "limit"),
])
def test_cli_bad_input_is_one_line(trained, extra: list[str], message: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["verify", "trained", "--run", trained.run_dir, *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_cli_refuses_an_oversized_source_before_training(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["verify", "trained", "--dataset", "digits", "--widths", "8", "--block-size",
            "10000000", "--runs-dir", str(tmp_path)]
    assert main(argv) == 2
    assert "limit" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_pensia_scale_784_500_10_on_real_digits(tmp_path) -> None:
    """Pensia et al.'s published scale: a 784-500-10 network trained on mnist5k, every weight a
    subset sum of at most 21 products per sign (block 60): measured 95.3% for both, no
    disagreement, 99.998% of the weights within 0.01."""
    hparams = RunHparams(
        dataset=DatasetHparams(name="mnist5k"),
        model=ModelHparams(name="fc", widths=(500,), bn="none"),
        mask=MaskHparams(mode="dense"),
        training=TrainingHparams(optimizer="adam", lr=1e-3, schedule="constant", epochs=20),
    )
    row = ticket_of_trained(train_target(hparams, str(tmp_path)), "pensia", block_size=60,
                            max_summands=21)
    assert row["target_widths"] == "784-500-10" and row["target_acc"] > 0.9
    assert abs(row["ticket_acc"] - row["target_acc"]) <= 0.001 + 1e-12
    assert row["disagreements"] <= 5
    assert row["weights_within_eps"] >= 0.9999
