"""Planted recoveries as stored runs, `tickets verify planted`, bias scores
(verify/planted_runs.py, verify/cli/verify_planted.py, empirical/layers.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from empirical.config.hparams import TrainingHparams
from empirical.layers import LayerConfig, make_linear
from empirical.mask_rules import MASK_RULES, TopK
from verify.cli.main import main
from verify.planted import searches
from verify.planted_runs import PlantedRun, recovery, recovery_table, sweep
from verify.stats import paired_difference, t_interval

SMALL = ["--n-train", "200", "--n-test", "100", "--epochs", "1", "--block-size", "8"]


def _cli(capsys, *argv: str) -> tuple[int, list[dict], str]:
    code = main(["verify", "planted", *argv])
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return code, rows, err


def test_cli_runs_every_search_then_reads_them_back(tmp_path, capsys, monkeypatch) -> None:
    argv = ["--runs-dir", str(tmp_path), "--keep", "planted,0.5", "--json", *SMALL]
    code, rows, _ = _cli(capsys, *argv)
    assert code == 0 and len(rows) == 2 * len(searches())
    assert [r["algorithm"] for r in rows[::2]] == list(searches())
    assert all(not r["reused"] for r in rows)
    assert {r["k_setting"] for r in rows} == {"planted", "0.5"}
    assert all(0 <= r["jaccard"] <= 1 and 0 < r["chance_jaccard"] < 1 for r in rows)
    assert len(list((tmp_path / "planted").iterdir())) >= 2 * len(searches())

    import verify.planted_runs as planted_runs

    def no_training(*_args):
        raise AssertionError("a stored run was trained again")

    monkeypatch.setattr(planted_runs, "_train", no_training)
    code, again, _ = _cli(capsys, *argv)
    assert code == 0 and all(r["reused"] for r in again)
    assert [{**r, "reused": False} for r in again] == rows


def test_cli_summary_has_intervals_over_seeds(tmp_path, capsys) -> None:
    code, rows, _ = _cli(capsys, "--runs-dir", str(tmp_path), "--search", "edge-popup",
                         "--seeds", "2", "--summary", "--json", *SMALL)
    assert code == 0 and len(rows) == 1
    row = rows[0]
    assert row["seeds"] == 2 and row["n_test"] == 100
    assert row["jaccard_lo"] <= row["jaccard"] <= row["jaccard_hi"]


@pytest.mark.parametrize("argv, flag", [
    (["--search", "edge-popup,magic"], "--search"),
    (["--keep", "0"], "--keep"),
    (["--keep", "half"], "--keep"),
    (["--planted", "spiral"], "--planted"),
    (["--planted", "circle", "--bias-scores"], "--bias-scores"),
    (["--search", "imp", "--anneal", "geometric"], "--anneal"),
    (["--target-widths", "4"], "--target-widths"),
    (["--planted", "helix", "--width", "20"], "--width"),
    (["--seeds", "0"], "--seeds"),
    (["--epochs", "0"], "--epochs"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, argv, flag) -> None:
    try:
        code = main(["verify", "planted", "--runs-dir", str(tmp_path), *argv])
    except SystemExit as stop:  # argparse refuses the flag's value
        code = stop.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert flag in err[-1] and "error" in err[-1]
    assert len([line for line in err if "error:" in line]) == 1
    assert not (tmp_path / "planted").exists()  # refused before any work


def test_bias_scores_zero_the_biases_below_the_threshold() -> None:
    layer = make_linear(3, 4, LayerConfig(mode="edge-popup", keep=0.5, bias_scores=True),
                        bias=True)
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.copy_(torch.tensor([1.0, 2.0, 3.0, 4.0]))
        layer.bias_scores.copy_(torch.tensor([0.1, -0.5, 0.05, 0.3]))
    x = torch.randn(5, 3)
    out = layer(x)  # kept: |s_b| 0.5 and 0.3, the top K = 2 of 4
    np.testing.assert_array_equal(layer.bias_score_mask().numpy(), [0.0, 1.0, 0.0, 1.0])
    torch.testing.assert_close(out, torch.tensor([0.0, 2.0, 0.0, 4.0]).expand(5, 4))
    out.sum().backward()  # straight through: dL/ds_b = dL/db_eff * b * sign(s_b)
    torch.testing.assert_close(layer.bias_scores.grad, 5 * torch.tensor([1.0, -2.0, 3.0, 4.0]))
    assert layer.bias.grad is None and layer.bias_scores.requires_grad


def test_bias_scores_default_off_keeps_the_layer_as_it_was() -> None:
    torch.manual_seed(0)
    plain = make_linear(3, 4, LayerConfig(mode="edge-popup", keep=0.5), bias=True)
    torch.manual_seed(0)
    also = make_linear(3, 4, LayerConfig(mode="edge-popup", keep=0.5, bias_scores=False),
                       bias=True)
    assert plain.bias_scores is None and plain.bias_score_mask() is None
    assert set(plain.state_dict()) == set(also.state_dict())
    x = torch.randn(2, 3)
    torch.testing.assert_close(plain(x), also(x))


def test_bias_scores_train_in_a_plant_seek_run(tmp_path) -> None:
    run = PlantedRun(planted="circle", width=24, examples=200, biases="biases",
                     bias_scores=True, anneal="geometric", keep=0.3, batch_size=50,
                     training=TrainingHparams(optimizer="adam", lr=0.01, epochs=2))
    row = recovery(run, tmp_path)
    assert 0 <= row["bias_jaccard"] <= 1 and row["anneal"] == "geometric"
    kept = [float(k) for k in row["kept_layers"].split(",")]
    assert max(abs(k - 0.3) for k in kept) < 0.1  # the schedule ends at k


def test_a_registered_top_k_rule_is_a_search(monkeypatch) -> None:
    class Again(TopK):
        name = "again"

    monkeypatch.setitem(MASK_RULES, "again", Again)
    assert {"edge-popup:again", "biprop:again"} <= set(searches())
    assert "edge-popup:bernoulli" not in searches()
    run = sweep(PlantedRun(), ["biprop:again"], [0.5], [0])[0]
    assert run.search == "biprop:again"


def test_recovery_table_intervals_come_from_stats() -> None:
    rows = [{"planted": "p", "algorithm": "a", "k_setting": "planted", "anneal": "none",
             "bias_scores": False, "keep": 0.2, "planted_keep": 0.2, "seed": s,
             "test_acc": acc, "planted_test_acc": 0.9, "jaccard": j, "chance_jaccard": c,
             "collapsed_layers": 0, "n_test": 50}
            for s, acc, j, c in ((0, 0.5, 0.2, 0.1), (1, 0.7, 0.25, 0.12),
                                 (2, 0.6, 0.3, 0.11))]
    (row,) = recovery_table(rows)
    acc = t_interval([0.5, 0.7, 0.6])
    diff = paired_difference([0.2, 0.25, 0.3], [0.1, 0.12, 0.11]).difference
    assert (row["test_acc"], row["test_acc_lo"], row["test_acc_hi"]) == (
        acc.estimate, acc.low, acc.high)
    assert (row["jaccard_minus_chance_lo"], row["jaccard_minus_chance_hi"]) == (
        diff.low, diff.high)
    assert row["seeds"] == 3 and row["n_test"] == 50
