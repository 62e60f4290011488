"""Tests of the scales and of the MPT and LTH studies behind the notebooks."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from verify import lth_study, mpt_study
from verify.comparisons import NO_INTERVAL, readable, stored_correct
from verify.scales import SCALES, LTHScale, ModelSpec, datasets_of, get_scale

T_975_DF1 = math.tan(0.475 * math.pi)  # Student's t quantile 0.975, 1 degree of freedom
T_975_DF2 = 0.95 / math.sqrt(2 * 0.975 * 0.025)  # 2 degrees of freedom, closed form


def test_scales_grow_from_smoke_to_paper() -> None:
    assert datasets_of("mpt", "paper") == ("cifar10",)
    assert datasets_of("lth", "paper") == ("cifar10", "mnist")
    assert datasets_of("lth", "cpu") == ("mnist1d", "mnist5k")
    assert datasets_of("subset_sum", "cpu") == ()
    runs = [len(mpt_study.study_points(get_scale("mpt", s))) for s in SCALES]
    assert runs == sorted(runs)
    with pytest.raises(ValueError, match="unknown study"):
        get_scale("nope", "smoke")


def test_study_points_cover_every_setting() -> None:
    sizes = get_scale("mpt", "smoke")
    points = mpt_study.study_points(sizes)
    settings = len(sizes.depth_models) + len(sizes.width_mults)
    per_setting = 1 + len(sizes.variants) * len(sizes.keeps)
    assert len(points) == settings * len(sizes.seeds) * per_setting
    assert {p.series for p in points} == {"depth", "width"}
    assert all(p.keep == 1.0 for p in points if p.variant == mpt_study.DENSE)


def test_point_hparams_follow_preset_variant_and_scale() -> None:
    sizes = get_scale("mpt", "smoke")
    model = ModelSpec("MLP-3", "fc", (8, 8), 3)
    binary = mpt_study.point_hparams(sizes, mpt_study.MPTPoint("depth", model, 0.5, "MPT-1/1",
                                                               0.2, 3))
    assert (binary.mask.mode, binary.mask.keep) == ("biprop", 0.2)
    assert binary.model.binary_act and binary.model.bn == "nonaffine"
    assert (binary.model.widths, binary.model.width_mult) == ((8, 8), 0.5)
    assert (binary.training.seed, binary.training.epochs) == (3, sizes.training["epochs"])
    # the dense baseline keeps its own preset's length (trained to convergence), not the
    # score runs' shortened schedule
    baseline = mpt_study.point_hparams(sizes, mpt_study.MPTPoint("depth", model, 1.0, "dense",
                                                                 1.0, 0))
    assert baseline.training.epochs == 40 and baseline.mask.mode == "dense"
    assert binary.dataset.name == sizes.dataset
    dense = mpt_study.point_hparams(sizes, mpt_study.MPTPoint("depth", model, 1.0, "dense", 1.0,
                                                              0))
    assert (dense.mask.mode, dense.mask.keep, dense.model.binary_act) == ("dense", 1.0, False)


def test_preset_hparams_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="trains lth"):
        mpt_study.preset_hparams("digits-lth", {})
    with pytest.raises(ValueError, match="unknown section"):
        mpt_study.preset_hparams("digits-biprop", {"pruning": {}})


def test_grid_points() -> None:
    points = mpt_study.grid_points([2, 3], [4], 0.5, ["MPT-1/32"], [0, 1])
    assert len(points) == 2 * 1 * 2 * 2
    assert {p.model.label for p in points} == {"MLP-2x4", "MLP-3x4"}
    assert {p.model.widths for p in points} == {(4,), (4, 4)}
    with pytest.raises(ValueError, match="depths must be >= 2"):
        mpt_study.grid_points([1], [4], 0.5, ["MPT-1/32"], [0])
    with pytest.raises(ValueError, match="unknown variant"):
        mpt_study.grid_points([2], [4], 0.5, ["dense"], [0])


def test_best_vs_dense_exact() -> None:
    """k is chosen on validation accuracy: k = 0.5 wins on validation although k = 0.2 has the
    higher test accuracy, and the reported accuracy is the test accuracy at k = 0.5, with its
    t interval over three seeds and the paired difference to dense seed by seed."""
    cases = [("dense", 1.0, 0, 0.8, 0.8), ("dense", 1.0, 1, 0.9, 0.9), ("dense", 1.0, 2, 0.85, 0.9),
             ("MPT-1/32", 0.5, 0, 0.7, 0.9), ("MPT-1/32", 0.5, 1, 0.9, 0.9),
             ("MPT-1/32", 0.5, 2, 0.8, 0.9),
             ("MPT-1/32", 0.2, 0, 0.95, 0.6), ("MPT-1/32", 0.2, 1, 0.95, 0.7),
             ("MPT-1/32", 0.2, 2, 0.95, 0.7)]
    rows = [{"series": "depth", "model": "A", "width_mult": 1.0, "variant": v, "keep": k,
             "seed": s, "test_acc": a, "val_acc": val, "hash": f"{v}{k}{s}"}
            for v, k, s, a, val in cases]
    (best,) = mpt_study.best_vs_dense(rows)
    assert (best["variant"], best["best_keep"], best["seeds"], best["pairs"]) == (
        "MPT-1/32", 0.5, 3, 3)
    assert best["best_val_acc"] == pytest.approx(90.0)
    # MPT 70, 90, 80 points: mean 80, s = 10, half width t_{0.975,2} * 10 / sqrt(3)
    half = T_975_DF2 * 10 / math.sqrt(3)
    assert (best["best_acc"], best["best_acc_low"], best["best_acc_high"]) == pytest.approx(
        (80, 80 - half, 80 + half))
    # dense 80, 90, 85: mean 85, s = 5
    half = T_975_DF2 * 5 / math.sqrt(3)
    assert (best["dense_acc"], best["dense_acc_low"], best["dense_acc_high"]) == pytest.approx(
        (85, 85 - half, 85 + half))
    # gap per seed -10, 0, -5: mean -5, s = 5
    assert (best["gap"], best["gap_low"], best["gap_high"]) == pytest.approx(
        (-5, -5 - half, -5 + half))
    assert math.isnan(best["mcnemar_p"]) and math.isnan(best["test_size"])
    with pytest.raises(ValueError, match="validation split"):
        mpt_study.best_vs_dense([{**r, "val_acc": None} for r in rows])


def test_best_vs_dense_pools_the_predictions_of_every_seed() -> None:
    """McNemar on the paired predictions of both seeds pooled: MPT alone right on 4 examples,
    dense alone on 1; with one seed per arm there is no interval."""
    correct = {"m0": [1, 1, 0, 1], "d0": [1, 0, 0, 0], "m1": [1, 1, 1, 0], "d1": [0, 0, 1, 1]}
    rows = [{"series": "depth", "model": "A", "width_mult": 1.0, "variant": v, "keep": k,
             "seed": s, "test_acc": np.mean(correct[h]), "val_acc": 0.5, "hash": h}
            for v, k, s, h in [("dense", 1.0, 0, "d0"), ("dense", 1.0, 1, "d1"),
                               ("MPT-1/1", 0.5, 0, "m0"), ("MPT-1/1", 0.5, 1, "m1")]]
    (best,) = mpt_study.best_vs_dense(rows, lambda h: np.array(correct[h], dtype=bool))
    assert (best["only_mpt"], best["only_dense"], best["test_size"]) == (4, 1, 4.0)
    assert best["mcnemar_p"] == pytest.approx(2 * 6 / 32)  # 2 P(X <= 1 | 5, 1/2)
    (single,) = mpt_study.best_vs_dense([r for r in rows if r["seed"] == 0])
    assert single["gap"] == pytest.approx(50.0) and math.isnan(single["gap_low"])
    (cells,) = readable([single], signed=["gap"])
    assert cells["gap_ci95"] == cells["best_acc_ci95"] == NO_INTERVAL
    assert "gap_low" not in cells and "best_acc_high" not in cells


def test_mpt_run_point_is_stored_and_reused(tmp_path: Path) -> None:
    sizes = dataclasses.replace(get_scale("mpt", "smoke"), training={"epochs": 1})
    point = mpt_study.MPTPoint("depth", ModelSpec("MLP-2", "fc", (8,), 2), 1.0, "MPT-1/32",
                               0.5, 0)
    first = mpt_study.run_point(sizes, point, tmp_path)
    again = mpt_study.run_point(sizes, point, tmp_path)
    assert not first["reused"] and again["reused"]
    assert first["hash"] == again["hash"] and first["test_acc"] == again["test_acc"]
    assert (tmp_path / "biprop" / first["hash"] / "result.json").exists()
    assert 0.0 <= first["test_acc"] <= 1.0 and first["kept_overall"] == pytest.approx(0.5, 0.05)


def test_lth_summary_exact() -> None:
    rows = [lth_study.tidy_row("M", "p", seed, {
        "level": level, "source": source, "density": density, "test_acc": acc,
        "early_stop_step": step, "early_stop_test_acc": acc, "dataset": "digits",
        "hash": f"h{seed}{level}{source}", "reused": False})
        for seed, level, source, density, acc, step in [
            (0, 0, "dense", 1.0, 0.8, 100), (1, 0, "dense", 1.0, 0.6, 300),
            (2, 0, "dense", 1.0, 0.7, 200),
            (0, 1, "imp", 0.8, 0.9, 50), (1, 1, "imp", 0.8, 0.7, 150), (2, 1, "imp", 0.8, 0.8, 100),
            (0, 1, "reinit", 0.8, 0.5, 200), (1, 1, "reinit", 0.8, 0.6, 200)]]
    assert rows[0]["arm"] == "IMP ticket" and rows[0]["weights_remaining"] == 100.0
    table = {(r["arm"], r["level"]): r for r in lth_study.summary(rows)}
    imp = table[("IMP ticket", 1)]
    # 90, 70, 80 points: mean 80, s = 10; steps 50, 150, 100: mean 100, s = 50
    half = T_975_DF2 * 10 / math.sqrt(3)
    assert (imp["test_acc"], imp["test_acc_low"], imp["test_acc_high"]) == pytest.approx(
        (80, 80 - half, 80 + half))
    assert (imp["early_stop_step_low"], imp["early_stop_step_high"]) == pytest.approx(
        (100 - 5 * half, 100 + 5 * half))
    assert imp["seeds"] == 3 and imp["dense_test_acc"] == pytest.approx(70)
    # the ticket against dense, seed by seed: +10 each time, so the interval has no width
    assert imp["paired"] == "IMP ticket - dense" and imp["pairs"] == 3
    assert (imp["difference"], imp["difference_low"], imp["difference_high"]) == pytest.approx(
        (10, 10, 10))
    # the control against the ticket of its seeds 0 and 1: 90 - 50 and 70 - 60 points
    reinit = table[("random re-init", 1)]
    assert reinit["paired"] == "IMP ticket - random re-init"
    assert (reinit["seeds"], reinit["pairs"]) == (2, 2)
    half = T_975_DF1 * 15  # differences 40, 10: mean 25, s = 15 sqrt(2), s / sqrt(2) = 15
    assert (reinit["difference"], reinit["difference_low"], reinit["difference_high"]) == (
        pytest.approx((25, 25 - half, 25 + half)))
    dense = table[("IMP ticket", 0)]
    assert dense["paired"] == "-" and math.isnan(dense["difference"])


def test_lth_study_runs_levels_and_controls(tmp_path: Path) -> None:
    sizes = LTHScale({"tiny": "digits-lth"}, levels=1, seeds=(0,), controls=("reinit",),
                     training={"epochs": 1})
    rows = lth_study.run_study(sizes, tmp_path, progress=False)
    assert len(rows) == lth_study.runs_per_lineage(sizes, "tiny") == 3
    assert [r["arm"] for r in rows] == ["IMP ticket", "IMP ticket", "random re-init"]
    assert rows[1]["density"] < 1.0 and rows[1]["density"] == rows[2]["density"]
    again = lth_study.run_study(sizes, tmp_path, progress=False)
    assert all(r["reused"] for r in again)
    assert [r["hash"] for r in again] == [r["hash"] for r in rows]
    # the stored predictions pair the runs: with one seed, the difference of the accuracies is
    # the difference of the discordant counts over the test set
    (_, ticket, control) = lth_study.summary(rows, stored_correct(tmp_path))
    for row in (ticket, control):
        assert row["test_size"] == 359 and row["pairs"] == 1  # the digits test split
        assert math.isnan(row["difference_low"]) and 0 <= row["mcnemar_p"] <= 1
        assert row["difference"] == pytest.approx(
            100 * (row["only_ticket"] - row["only_other"]) / row["test_size"])
