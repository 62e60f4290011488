"""``tickets export`` / ``tickets eval`` end to end on tiny runs: exact reload, damage refused."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from empirical.export.layouts import VALUE_DTYPES
from empirical.export.ticket_file import load_ticket
from verify.cli.main import main

FAST = ["--widths", "32", "--epochs", "1"]
RUNS = {
    "biprop-layerwise": ["biprop", "--preset", "digits-biprop", *FAST, "--keep", "0.3"],
    "biprop-global": ["biprop", "--preset", "digits-biprop", *FAST, "--keep", "0.3",
                      "--scope", "global"],
    "biprop-bn": ["biprop", "--preset", "digits-biprop", *FAST, "--bn", "affine"],
    "biprop-binary": ["biprop", "--preset", "digits-biprop", *FAST, "--binary-act",
                      "--widths", "48,24"],
    "edge-popup": ["edge-popup", "--preset", "digits-edge-popup", *FAST, "--keep", "0.4"],
    "edge-popup-bernoulli": ["edge-popup", "--preset", "digits-edge-popup", *FAST,
                             "--mask-rule", "bernoulli"],
    "lth": ["lth", "--preset", "digits-lth", "--levels", "1", "--epochs", "1", "--rewind", "2it"],
}


def _cli(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, train: Callable[[list[str], Path], Path]
         ) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    return {name: train(argv, root) for name, argv in RUNS.items()}


def _export(capsys: pytest.CaptureFixture[str], run: str, out: Path, *flags: str) -> dict:
    code, stdout, err = _cli(capsys, ["export", run, "--out", str(out), *flags, "--json"])
    assert code == 0, err
    return json.loads(stdout)


def _eval(capsys: pytest.CaptureFixture[str], path: Path, *flags: str) -> dict:
    code, stdout, err = _cli(capsys, ["eval", str(path), *flags, "--json"])
    assert code == 0, err
    return json.loads(stdout)


CASES = [(name, layout) for name in RUNS
         for layout in (("lth",) if name == "lth" else ("self-contained", "seed-only"))]


@pytest.mark.parametrize("name,layout", CASES)
def test_round_trip_reproduces_predictions(runs: dict[str, Path], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str], name: str,
                                           layout: str) -> None:
    path = tmp_path / f"{name}.safetensors"
    summary = _export(capsys, str(runs[name]), path, "--layout", layout)
    assert summary["predictions"] is True and summary["bytes"] == path.stat().st_size
    assert summary["bytes"] < summary["checkpoint_bytes"]
    row = _eval(capsys, path)
    assert row["identical_predictions"] is True and row["same_accuracy"] is True
    result = json.loads((runs[name] / "result.json").read_text())
    assert row["test_acc"] == result["test_acc"]


def test_rebuilt_network_equals_the_run_bit_for_bit(runs: dict[str, Path],
                                                    tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from empirical.algorithms.run_reader import read_run
    from empirical.export.ticket_file import eval_batches

    for name in ("biprop-global", "biprop-binary", "edge-popup"):
        path = tmp_path / f"{name}.safetensors"
        _export(capsys, str(runs[name]), path, "--layout", "seed-only")
        ticket = read_run(runs[name])
        x = torch.cat([xb for xb, _ in eval_batches(ticket.hparams)])
        with torch.no_grad():
            assert torch.equal(load_ticket(path).model(x), ticket.model(x))


def test_biprop_self_contained_is_at_most_two_bits_per_weight(
        runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.safetensors"
    _export(capsys, str(runs["biprop-layerwise"]), path)
    loaded = load_ticket(path)
    layers = json.loads(loaded.metadata["layers"])
    weights = sum(torch.Size(e["shape"]).numel() for e in layers)
    packed = sum(t.numel() * t.element_size() for k, t in loaded.tensors.items()
                 if k.endswith((".mask", ".signs")))
    kept = sum(e["kept"] for e in layers)
    assert packed == sum(-(-torch.Size(e["shape"]).numel() // 8) + -(-e["kept"] // 8)
                         for e in layers)
    assert 8 * packed / weights <= 1 + kept / weights + 0.01 <= 2


def test_packed_engine_predicts_like_the_run(runs: dict[str, Path], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("biprop-layerwise", "biprop-bn", "biprop-binary"):
        path = tmp_path / f"{name}.safetensors"
        _export(capsys, str(runs[name]), path)
        float_row = _eval(capsys, path)
        code, stdout, _ = _cli(capsys, ["eval", str(path), "--engine", "packed", "--json"])
        packed_row = json.loads(stdout)
        assert packed_row["test_acc"] == float_row["test_acc"]
        assert packed_row["identical_predictions"] is True and code == 0
    assert _cli(capsys, ["eval", str(tmp_path / "nope.safetensors")])[0] == 2


def test_lth_file_holds_the_rewind_ticket(runs: dict[str, Path], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from empirical.algorithms.run_reader import read_run
    from empirical.export.layouts import rewind_weights
    from empirical.export.ticket_file import rewind_values

    path = tmp_path / "lth.safetensors"
    _export(capsys, runs["lth"].name, path, "--runs-dir", str(runs["lth"].parent.parent))
    loaded = load_ticket(path)
    assert loaded.metadata["rewind_step"] == "2"
    expected = rewind_values(read_run(runs["lth"]))
    for name, weights in rewind_weights(loaded.tensors, loaded.model).items():
        assert torch.equal(weights, expected[name].float())
    half = tmp_path / "lth16.safetensors"
    _export(capsys, str(runs["lth"]), half, "--values-dtype", "float16")
    assert half.stat().st_size < path.stat().st_size and "float16" in VALUE_DTYPES
    assert abs(_cli(capsys, ["eval", str(half), "--json"])[0]) <= 1


def test_onnx_export_matches_torch(runs: dict[str, Path], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("onnxruntime")
    for name in ("biprop-binary", "biprop-bn", "lth"):
        summary = _export(capsys, str(runs[name]), tmp_path / f"{name}.onnx", "--layout", "onnx")
        assert summary["identical_predictions"] is True and summary["max_abs_diff"] < 1e-4


def _one_line_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], needle: str) -> None:
    code, _, err = _cli(capsys, argv)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and needle in lines[0], err


def test_damaged_files_are_refused(runs: dict[str, Path], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "good.safetensors"
    _export(capsys, str(runs["biprop-bn"]), path, "--layout", "seed-only")
    raw = path.read_bytes()
    damaged = {
        "truncated": raw[: len(raw) // 2],
        "flipped": raw[:-5] + bytes([raw[-5] ^ 0x10]) + raw[-4:],
        "empty": b"",
    }
    for name, data in damaged.items():
        broken = tmp_path / f"{name}.safetensors"
        broken.write_bytes(data)
        _one_line_exit_2(capsys, ["eval", str(broken)], str(broken))
    (tmp_path / "dir.safetensors").mkdir()
    _one_line_exit_2(capsys, ["eval", str(tmp_path / "dir.safetensors")], "no ticket file")


def test_seed_only_refuses_other_rng(runs: dict[str, Path], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import empirical.export.ticket_file as ticket_file

    path = tmp_path / "seed.safetensors"
    _export(capsys, str(runs["biprop-layerwise"]), path, "--layout", "seed-only")
    original = ticket_file.build_architecture

    def other_rng(kind: str, hparams: object) -> torch.nn.Module:
        model = original(kind, hparams)
        with torch.no_grad():
            next(model.parameters()).add_(1e-7)
        return model

    monkeypatch.setattr(ticket_file, "build_architecture", other_rng)
    _one_line_exit_2(capsys, ["eval", str(path)], "torch RNG differs")


def _reseal(run_dir: Path, **changes: str) -> None:
    """Change ``hparams.json`` and seal it and the result again, as the run store would."""
    from empirical.storage.atomic import file_digest
    from empirical.storage.run_files import CHECKSUM, seal_json, seal_result, unseal_result

    head = json.loads((run_dir / "hparams.json").read_text())
    head = {k: v for k, v in head.items() if k != CHECKSUM}
    (run_dir / "hparams.json").write_text(json.dumps(seal_json({**head, **changes})))
    path = run_dir / "result.json"
    result, files = unseal_result(json.loads(path.read_text()), path, run_dir.name)
    files["hparams.json"] = file_digest(run_dir / "hparams.json")
    path.write_text(json.dumps(seal_result(result, files)))


def test_bad_runs_and_flags_are_refused(runs: dict[str, Path], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = ["--out", str(tmp_path / "x.safetensors")]
    _one_line_exit_2(capsys, ["export", "0123456789abcdef", "--runs-dir", str(tmp_path), *out],
                     "no run")
    _one_line_exit_2(capsys, ["export", str(runs["lth"]), "--layout", "seed-only", *out],
                     "--layout seed-only")
    _one_line_exit_2(capsys, ["export", str(runs["lth"].parent / runs["lth"].name), "--layout",
                              "nonsense", *out], "--layout")
    for missing in ("checkpoint.pt", "ticket.pt", "result.json"):
        copy = tmp_path / f"run-{missing}" / runs["biprop-layerwise"].name  # the run's hash
        shutil.copytree(runs["biprop-layerwise"], copy)
        (copy / missing).unlink()
        _one_line_exit_2(capsys, ["export", str(copy), *out], missing)
    broken = tmp_path / "run-broken" / runs["edge-popup"].name
    shutil.copytree(runs["edge-popup"], broken)
    (broken / "checkpoint.pt").write_bytes(b"not a checkpoint")
    _one_line_exit_2(capsys, ["export", str(broken), *out], "checkpoint.pt: changed since")
    dense = tmp_path / "run-dense" / runs["edge-popup"].name
    shutil.copytree(runs["edge-popup"], dense)
    _reseal(dense, kind="dense")
    _one_line_exit_2(capsys, ["export", str(dense), *out], "holds no ticket")
    good = tmp_path / "good.safetensors"
    _export(capsys, str(runs["edge-popup"]), good)
    _one_line_exit_2(capsys, ["eval", str(good), "--dataset", "mnist1d"], "--dataset mnist1d")
    assert not (tmp_path / "x.safetensors").exists()
