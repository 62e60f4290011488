"""Tests of the scales and of the MPT and LTH studies behind the notebooks."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from verify import lth_study, mpt_study
from verify.scales import SCALES, LTHScale, ModelSpec, datasets_of, get_scale


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
    higher test accuracy, and the reported accuracy is the test accuracy at k = 0.5."""
    cases = [("dense", 1.0, 0, 0.8, 0.8), ("dense", 1.0, 1, 0.9, 0.9),
             ("MPT-1/32", 0.5, 0, 0.7, 0.9), ("MPT-1/32", 0.5, 1, 0.9, 0.9),
             ("MPT-1/32", 0.2, 0, 0.95, 0.6), ("MPT-1/32", 0.2, 1, 0.95, 0.7)]
    rows = [{"series": "depth", "model": "A", "width_mult": 1.0, "variant": v, "keep": k,
             "seed": s, "test_acc": a, "val_acc": val} for v, k, s, a, val in cases]
    (best,) = mpt_study.best_vs_dense(rows)
    assert (best["variant"], best["best_keep"], best["seeds"]) == ("MPT-1/32", 0.5, 2)
    assert best["best_acc"] == pytest.approx(0.8) and best["dense_acc"] == pytest.approx(0.85)
    assert best["best_val_acc"] == pytest.approx(0.9)
    assert best["gap"] == pytest.approx(-0.05) and best["dense_acc_std"] == pytest.approx(0.05)
    with pytest.raises(ValueError, match="validation split"):
        mpt_study.best_vs_dense([{**r, "val_acc": None} for r in rows])


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
            (0, 1, "imp", 0.8, 0.9, 50), (1, 1, "imp", 0.8, 0.7, 150),
            (0, 1, "reinit", 0.8, 0.5, 200)]]
    assert rows[0]["arm"] == "IMP ticket" and rows[0]["weights_remaining"] == 100.0
    table = {(r["arm"], r["level"]): r for r in lth_study.summary(rows)}
    imp = table[("IMP ticket", 1)]
    assert imp["test_acc"] == pytest.approx(0.8) and imp["test_acc_std"] == pytest.approx(0.1)
    assert imp["early_stop_step"] == pytest.approx(100) and imp["seeds"] == 2
    assert imp["dense_test_acc"] == pytest.approx(0.7)
    assert table[("random re-init", 1)]["seeds"] == 1


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
