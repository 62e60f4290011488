"""The pruning study's tables: intervals over seeds and paired differences on hand-made rows."""

import dataclasses
import math

import pytest

from verify.pruning_tables import (
    collapse_summary,
    paired_table,
    reference_of,
    stability_summary,
    summary,
)
from verify.scales import get_scale

T_1 = 12.706204736174698  # t_{0.975, 1}: two seeds
T_2 = 4.302652729749464  # t_{0.975, 2}: three seeds


def _row(arm, level, seed, acc, family="method", of=None):
    row = {"model": "m", "family": family, "arm": arm, "level": level, "seed": seed,
           "test_acc": acc, "weights_remaining": 100 * 0.8 ** level}
    return row if of is None else {**row, "of": of}


ROWS = [_row("dense", 0, 0, 0.90), _row("dense", 0, 1, 0.92),
        _row("IMP (reset)", 1, 0, 0.91), _row("IMP (reset)", 1, 1, 0.95),
        _row("SNIP", 1, 0, 0.80), _row("SNIP", 1, 1, 0.90),
        _row("shuffle", 1, 0, 0.85, "ablation", "SNIP"),
        _row("shuffle", 1, 1, 0.86, "ablation", "SNIP")]


def _one(table, **match):
    hits = [r for r in table if all(r[k] == v for k, v in match.items())]
    assert len(hits) == 1, hits
    return hits[0]


def test_summary_pairs_each_arm_with_its_reference_by_seed():
    table = summary(ROWS)
    dense = _one(table, arm="dense")
    assert dense["reference"] == "" and math.isnan(dense["diff"])
    assert (dense["test_acc"], dense["seeds"]) == (pytest.approx(0.91), 2)
    assert dense["test_acc_low"] == pytest.approx(0.91 - T_1 * 0.01)
    imp = _one(table, arm="IMP (reset)")  # vs dense: +0.01, +0.03
    assert imp["reference"] == "dense"
    assert (imp["diff"], imp["diff_low"], imp["diff_high"]) == pytest.approx(
        (0.02, 0.02 - T_1 * 0.01, 0.02 + T_1 * 0.01))
    snip = _one(table, arm="SNIP")  # vs IMP (reset): -0.11, -0.05
    assert snip["reference"] == "IMP (reset)"
    assert (snip["diff"], snip["diff_high"]) == pytest.approx((-0.08, -0.08 + T_1 * 0.03))
    shuffle = _one(table, arm="shuffle")  # vs SNIP: +0.05, -0.04
    assert (shuffle["reference"], shuffle["of"]) == ("SNIP", "SNIP")
    assert (shuffle["diff"], shuffle["diff_low"]) == pytest.approx((0.005, 0.005 - T_1 * 0.045))


def test_one_seed_has_no_interval_and_missing_pairs_no_difference():
    table = summary([r for r in ROWS if r["seed"] == 0] + [_row("GraSP", 2, 0, 0.7)])
    snip = _one(table, arm="SNIP")
    assert snip["diff"] == pytest.approx(-0.11)
    assert math.isnan(snip["test_acc_low"]) and math.isnan(snip["diff_high"])
    assert math.isnan(_one(table, arm="GraSP")["diff"])  # no IMP (reset) at level 2
    assert reference_of("ablation", "invert", "GraSP") == "GraSP"


def test_paired_table_only_where_both_arms_ran():
    table = paired_table([*ROWS, _row("SNIP", 2, 0, 0.7)], [("SNIP", "IMP (reset)")])
    assert len(table) == 1
    assert (table[0]["level"], table[0]["diff"], table[0]["seeds"]) == (1, pytest.approx(-0.08),
                                                                        2)


def test_stability_summary_intervals_and_matching():
    rows = [{"model": "m", "seed": s, "level": 3, "rewind": "0it", "density": 0.5,
             "test_instability": e, "train_instability": 0.0, "test_acc": a,
             "dense_test_acc": 0.9, "test_size": 1000}
            for s, e, a in ((0, 0.01, 0.91), (1, 0.02, 0.92), (2, 0.03, 0.90))]
    (entry,) = stability_summary(rows)
    sem = 0.01 / math.sqrt(3)
    assert (entry["test_instability"], entry["test_instability_high"]) == pytest.approx(
        (0.02, 0.02 + T_2 * sem))
    assert (entry["diff_vs_dense"], entry["diff_vs_dense_low"]) == pytest.approx(
        (0.01, 0.01 - T_2 * sem))
    assert entry["train_instability_low"] == entry["train_instability_high"] == 0.0
    assert (entry["seeds"], entry["test_size"]) == (3, 1000)


def test_collapse_summary_counts_seeds():
    rows = [{"model": "m", "seed": s, "arm": "SNIP", "density": 0.01, "collapsed": c,
             "empty_layers": e, "outputs_reachable": r, "outputs": 10}
            for s, c, e, r in ((0, True, 1, 0), (1, False, 0, 10), (2, True, 0, 4))]
    assert collapse_summary(rows) == [{
        "model": "m", "arm": "SNIP", "density": 0.01, "collapsed_seeds": 2, "seeds": 3,
        "empty_layers_max": 1, "outputs_reachable_min": 0, "outputs_reachable_max": 10,
        "outputs": 10}]


def test_scale_matched_levels_and_their_check():
    cpu = get_scale("pruning_methods", "cpu")
    assert set(cpu.ablation_levels) <= set(cpu.matched_levels) <= set(range(1, cpu.levels + 1))
    smoke = get_scale("pruning_methods", "smoke")
    assert smoke.matched_levels == tuple(range(1, smoke.levels + 1))
    with pytest.raises(ValueError, match="not among the method levels"):
        dataclasses.replace(cpu, method_levels=(3,), ablation_levels=(6,))
    with pytest.raises(ValueError, match="outside the IMP levels"):
        dataclasses.replace(cpu, method_levels=(cpu.levels + 1,))


def test_training_note_says_where_a_study_trains_shorter_than_the_preset() -> None:
    from verify.pruning_study import training_note

    assert training_note(get_scale("pruning_methods", "smoke")) == (
        "MLP-64-64 (digits): 2 epochs (its preset digits-lth: 15 epochs)")
    cpu = training_note(get_scale("pruning_methods", "cpu"))
    assert "LeNet-300-100 (MNIST 5k): 1,000 iterations (its preset mnist5k-lth: 2,000" in cpu
    assert "CNN (MNIST-1D): 1,000 iterations (its preset mnist1d-cnn-lth: 1,500" in cpu
    # the paper scale trains every preset's own length: no clause says otherwise
    assert "its preset" not in training_note(get_scale("pruning_methods", "paper"))
