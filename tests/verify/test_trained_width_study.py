"""The trained-ticket width study (verify/trained_width_study.py) and binary-depth tickets of
trained networks (verify/trained_ticket.py)."""

from __future__ import annotations

import numpy as np
import pytest

from theory.constructions import binary_depth, get_method
from theory.networks import random_target
from verify.cli.main import main
from verify.scales import TrainedTarget, TrainedWidthScale
from verify.trained_ticket import plan_source, source_entries
from verify.trained_width_study import run_study

TARGET = TrainedTarget("digits 64-4-10", "digits", "digits-dense", (4,),
                       {"mpt-binary": (2, 8), "binary-depth": (1,)}, {"epochs": 2})


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    sizes = TrainedWidthScale((TARGET,), eps=0.1, delta=0.1, bits=2, seeds=(0,))
    return run_study(sizes, tmp_path_factory.mktemp("runs"), progress=False)


def test_one_row_per_construction_block_and_seed(rows: list[dict]) -> None:
    assert [(r["construction"], r["block_size"]) for r in rows] == [
        ("mpt-binary", 2), ("mpt-binary", 8), ("binary-depth", 1)]
    for row in rows:
        assert row["dataset"] == "digits" and row["target_widths"] == "64-4-10"
        assert 0 <= row["ticket_acc"] <= 1 and 0 <= row["agreement"] <= 1
        assert row["evidence"] == "certified" and row["certified_sup_error"] > 0
        assert row["bound_width"] > row["source_width"] and len(row["hash"]) == 16
    # the gadget's widest layer is d_0 n; the target is the same run for every row
    assert [r["source_width"] for r in rows[:2]] == [64 * 2, 64 * 8]
    assert len({r["hash"] for r in rows}) == 1 and len({r["target_acc"] for r in rows}) == 1
    assert rows[2]["bits"] == 2 and rows[2]["source_depth"] == 2 * (2 + 1 + 2)


def test_binary_depth_size_check_matches_the_construction() -> None:
    target = random_target([3, 4, 2], np.random.default_rng(0))
    for bits, block in ((1, 2), (3, 1)):
        result = get_method("binary-depth")(target, 0.1, 0.1, np.random.default_rng(1),
                                            block_size=block, bits=bits)
        layers = binary_depth.source_widths([3, 4, 2], 0.1, 0.1, block, bits)
        assert source_entries(layers) == result.subnetwork.n_source
    assert plan_source("binary-depth", [3, 4, 2], 0.1, 0.1, 5, bits=2) == [
        3, *binary_depth.block_widths(3, 4, 3, 5, 5), *binary_depth.block_widths(4, 2, 3, 5, 5)]
    with pytest.raises(ValueError, match="bits does not apply"):
        plan_source("mpt-binary", [3, 4, 2], 0.1, 0.1, 5, bits=2)
    with pytest.raises(ValueError, match="limit"):
        plan_source("binary-depth", [784, 500, 10], 0.01, 0.1, 64, bits=12)


def test_unknown_construction_is_refused_before_training(tmp_path) -> None:
    bad = TrainedTarget("x", "digits", "digits-dense", (4,), {"depth-plus-one": (2,)})
    with pytest.raises(ValueError, match="unknown construction 'depth-plus-one'"):
        run_study(TrainedWidthScale((bad,), 0.1, 0.1, 2, (0,)), tmp_path, progress=False)
    assert not any(tmp_path.iterdir())


def test_cli_bits_with_a_gadget_is_one_line_exit_2(tmp_path, capsys) -> None:
    code = main(["verify", "trained", "--method", "pensia", "--bits", "3", "--widths", "4",
                 "--runs-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--bits" in err


def test_a_row_without_a_certificate_says_sampled(rows: list[dict]) -> None:
    from verify.trained_width_study import tidy_row

    raw = {"method": "mpt-binary", "dataset": "digits", "target_widths": "64-4-10",
           "block_sizes": "8,8", "bits": None, "source_width": 512, "source_depth": 4,
           "bound_width": 9, "source_weights": 1, "kept_weights": 1, "ticket_acc": 0.5,
           "target_acc": 0.6, "agreement": 0.7, "max_logit_error": 1.0,
           "certified_sup_error": None, "seed": 0, "seconds": 0.1}
    row = tidy_row(TARGET, raw, "0" * 16)
    assert row["evidence"] == "sampled" and row["block_size"] == 8
    assert tidy_row(TARGET, {**raw, "certified_sup_error": 0.2}, "0" * 16)["evidence"] == (
        "certified")
