"""``tickets train {biprop,edge-popup,dense}`` and ``tickets bench train`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verify.cli.main import main

FAST = ["--widths", "32", "--epochs", "1"]


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


def test_train_json_summary_and_reuse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "biprop", "--preset", "digits-biprop", *FAST, "--keep", "0.3",
            "--runs-dir", str(tmp_path), "--json"]
    first = run_json(capsys, argv)
    assert {"run_dir", "test_acc", "kept_fraction", "seconds", "hash", "reused"} <= set(first)
    assert first["reused"] is False and first["kind"] == "biprop"
    assert Path(first["run_dir"]) == tmp_path / "biprop" / first["hash"]
    assert all(abs(k - 0.3) < 0.02 for k in first["kept_fraction"].values())
    second = run_json(capsys, argv)
    assert second["reused"] is True and second["test_acc"] == first["test_acc"]


def test_threads_are_applied_recorded_and_not_hashed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    base = ["train", "dense", "--preset", "digits-dense", *FAST, "--runs-dir", str(tmp_path),
            "--json"]
    try:
        first = run_json(capsys, [*base, "--threads", "1"])
        assert torch.get_num_threads() == 1
        stored = json.loads((Path(first["run_dir"]) / "hparams.json").read_text())
        assert stored["runtime"] == {"threads": 1, "data_on_device": True}
        assert "threads" not in json.dumps(stored["hparams"])
        second = run_json(capsys, [*base, "--threads", "2"])
        assert second["reused"] is True and second["hash"] == first["hash"]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)
    assert main([*base, "--threads", "0"]) == 2
    assert "--threads" in capsys.readouterr().err


def test_explicit_flag_overrides_preset(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    base = ["train", "edge-popup", "--preset", "digits-edge-popup", *FAST,
            "--runs-dir", str(tmp_path), "--json"]
    summary = run_json(capsys, base)
    hparams = json.loads((Path(summary["run_dir"]) / "hparams.json").read_text())["hparams"]
    assert hparams["model"]["widths"] == [32] and hparams["training"]["epochs"] == 1
    assert hparams["training"]["optimizer"] == "adam" and hparams["mask"]["mode"] == "edge-popup"


def test_other_model_drops_the_presets_widths(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    summary = run_json(capsys, ["train", "biprop", "--preset", "mnist1d-biprop", "--model",
                                "conv2", "--width-mult", "0.125", "--epochs", "1",
                                "--runs-dir", str(tmp_path), "--json"])
    hparams = json.loads((Path(summary["run_dir"]) / "hparams.json").read_text())["hparams"]
    assert hparams["model"]["name"] == "conv2" and hparams["model"]["widths"] is None


def test_dense_human_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "dense", "--preset", "digits-dense", *FAST,
                 "--runs-dir", str(tmp_path)]) == 0
    assert "test accuracy" in capsys.readouterr().out


@pytest.mark.parametrize("flags", [
    ["--keep", "0"], ["--keep", "1.5"], ["--model", "resnet9000"], ["--dataset", "svhn"],
    ["--dataset", "mnist", "--data-dir", "/nonexistent/data"], ["--preset", "nope"],
    ["--preset", "digits-dense"], ["--epochs", "zero"],
])
def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                           flags: list[str]) -> None:
    try:
        code = main(["train", "biprop", *FAST, "--runs-dir", str(tmp_path), *flags])
    except SystemExit as exit_:  # argparse rejects the flag itself
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error" in err[0]


def test_bench_train_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "train", "--model", "conv4", "--batch-size", "2", "--steps", "1",
                 "--warmup", "1", "--device", "cpu", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["variant"] for r in rows] == ["ours", "sort", "dense"]
    assert rows[0]["ratio_to_ours"] == 1.0 and all(r["samples_per_s"] > 0 for r in rows)
    assert rows[2]["ratio_to_dense"] == 1.0 and rows[2]["cpu_ratio_to_dense"] == 1.0
    assert rows[0]["cpu_ratio_to_dense"] == pytest.approx(
        rows[0]["cpu_step_ms"] / rows[2]["cpu_step_ms"])


@pytest.mark.parametrize("argv, keep", [
    (["biprop", "--model", "conv4", "--dataset", "mnist1d"], 0.5),
    (["edge-popup", "--model", "fc", "--dataset", "digits"], 0.5),
    (["biprop", "--preset", "resnet18-mpt-1/32"], 0.2),
    (["biprop", "--model", "conv4", "--dataset", "mnist1d", "--keep", "1"], 1.0),
    (["dense", "--model", "fc", "--dataset", "digits"], 1.0),
])
def test_score_training_prunes_by_default(argv: list[str], keep: float,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Without --keep a score run keeps k = 0.5 (nothing pruned only when asked), and says so."""
    from verify.cli.main import build_parser
    from verify.cli.train_mpt import hparams_from_args

    args = build_parser().parse_args(["train", *argv])
    assert hparams_from_args(args).mask.keep == keep
    if argv[0] != "dense":
        with pytest.raises(SystemExit):
            main(["train", argv[0], "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "(global: overall), in (0, 1] (default: 0.5)" in text
