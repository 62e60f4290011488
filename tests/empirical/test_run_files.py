"""Damaged run files: detected when read, then recomputed from the last valid state or named.

Each case damages a copy of a finished run (trained once per module) and checks that the rerun
reports the true numbers, never the damaged ones.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from empirical.algorithms.lth import run_level, run_lth
from empirical.algorithms.mpt import run_mpt
from empirical.config.hparams import (
    DatasetHparams,
    MaskHparams,
    ModelHparams,
    RunHparams,
    RuntimeConfig,
    TrainingHparams,
)
from empirical.config.lth_hparams import LTHHparams, PruningHparams, derived, imp_chain
from empirical.storage.run_files import (
    RunFileError,
    load_torch,
    parse_metrics,
    read_json,
    save_torch,
    seal_json,
    seal_result,
    unseal_result,
)
from empirical.storage.store import CHECKPOINT, METRICS, RESULT, TICKET, RunStore
from verify.cli.main import main

CPU = RuntimeConfig(device="cpu", progress=False)
MPT = RunHparams(dataset=DatasetHparams(name="digits", batch_size=256),
                 model=ModelHparams(widths=(16,)), mask=MaskHparams(mode="biprop", keep=0.5),
                 training=TrainingHparams(optimizer="adam", lr=3e-3, epochs=3))
LTH = LTHHparams(dataset=DatasetHparams(name="digits", batch_size=128, val_size=200),
                 model=ModelHparams(name="fc", widths=(16,)),
                 training=TrainingHparams(optimizer="adam", lr=3e-3, weight_decay=0.0,
                                          schedule="constant", epochs=3, eval_every=4),
                 pruning=PruningHparams(rate=0.5))
COMPARED = ("test_acc", "train_acc", "steps")


# --- file-level checks ------------------------------------------------------------------------
def test_metrics_lines_exact() -> None:
    path = Path("m.jsonl")
    assert parse_metrics('{"step": 1}\n{"step": 3}\n{"step": 4', path) == [{"step": 1},
                                                                            {"step": 3}]
    assert parse_metrics("", path) == []
    cases = {'{"step": 1}\n{"acc": 0.5}\n': "line 2 has no 'step'",
             '{"step": 11}\n{"step": 11}\n': "line 2 has step 11 after step 11",
             '{"step": 1}\n{"step": 1.5}\n': "line 2 has step 1.5",
             '{"step": 1}\n\n{"step": 2}\n': "line 2 is not valid JSON",
             '[1]\n': "line 1 is a", '{"step": true}\n': "line 1 has step True"}
    for text, message in cases.items():
        with pytest.raises(RunFileError, match=message):
            parse_metrics(text, path)


def test_json_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text('{\n  "a": 1,\n  "b": "unterminated')
    with pytest.raises(RunFileError) as err:
        read_json(path)
    assert str(err.value).startswith(f"run file {path}: not valid JSON (")
    assert str(err.value).endswith("(Unterminated string starting at: line 3 column 8)")
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(RunFileError, match="not UTF-8"):
        read_json(path)


@pytest.mark.parametrize(("keep", "problem"), [
    (0, "no digest line"), (1, "no digest line"), (100, "digest mismatch"),
    (-1, "digest mismatch")])
def test_truncated_torch_file(tmp_path: Path, keep: int, problem: str) -> None:
    path = tmp_path / "x.pt"
    save_torch(path, {"w": torch.arange(100)})
    assert torch.equal(load_torch(path)["w"], torch.arange(100))
    data = path.read_bytes()
    path.write_bytes(data[:keep] if keep >= 0 else data[:-1])
    with pytest.raises(RunFileError, match=rf"x\.pt: {problem}"):
        load_torch(path)


def test_unsealed_torch_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.pt"
    torch.save({"w": torch.arange(3)}, path)
    with pytest.raises(RunFileError, match=r"x\.pt: no digest line"):
        load_torch(path)


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5)
                     | st.floats(allow_nan=False),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=8)


@given(extra=st.dictionaries(st.text(max_size=4), _JSON, max_size=4), edit=_JSON)
def test_sealed_result_detects_any_edit(extra: dict, edit: object) -> None:
    result = {**extra, "hash": "h", "steps": 3, "test_acc": 0.5}
    sealed = json.loads(json.dumps(seal_result(result, {METRICS: "d"})))
    body, files = unseal_result(sealed, "r.json", "h")
    assert body == json.loads(json.dumps(result)) and files == {METRICS: "d"}
    key = next(iter(extra), "test_acc")
    if sealed[key] != edit:
        with pytest.raises(RunFileError, match="checksum mismatch"):
            unseal_result({**sealed, key: edit}, "r.json", "h")


# --- damaged runs -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, list[dict]]:
    """A finished biprop run and a finished 2-level LTH chain with a reinit control."""
    root = tmp_path_factory.mktemp("finished")
    mpt = run_mpt(MPT, root, CPU)
    lth = run_lth(LTH, 1, ["reinit"], runs_dir=root, runtime=CPU)
    return root, mpt, lth


def _copy(finished: tuple[Path, dict, list[dict]], tmp_path: Path) -> Path:
    shutil.copytree(finished[0], tmp_path / "runs")
    return tmp_path / "runs"


def _truncate(path: Path, keep: int | None = None) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2 if keep is None else keep])


def _first_line(path: Path) -> None:
    path.write_text(path.read_text().splitlines()[0] + "\n")


def _drop_step(path: Path) -> None:
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    del first["step"]
    path.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")


def _edit_result(path: Path) -> None:
    data = json.loads(path.read_text())
    data["test_acc"] = 0.999
    path.write_text(json.dumps(data))


DAMAGE: dict[str, tuple[str, Callable[[Path], None], bool]] = {
    # name: (file, damage, also delete result.json: an unfinished run whose checkpoint is final)
    "metrics truncated, unfinished": (METRICS, _first_line, True),
    "metrics empty, unfinished": (METRICS, lambda p: p.write_text(""), True),
    "metrics empty, finished": (METRICS, lambda p: p.write_text(""), False),
    "metrics line without step": (METRICS, _drop_step, False),
    "result {}": (RESULT, lambda p: p.write_text("{}"), False),
    "result []": (RESULT, lambda p: p.write_text("[]"), False),
    "result torn JSON": (RESULT, _truncate, False),
    "result hand-edited": (RESULT, _edit_result, False),
    "checkpoint truncated, finished": (CHECKPOINT, _truncate, False),
    "checkpoint empty, unfinished": (CHECKPOINT, lambda p: _truncate(p, 0), True),
    "ticket truncated": (TICKET, _truncate, False),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_mpt_run_is_recomputed(finished: tuple, tmp_path: Path, case: str,
                                       caplog: pytest.LogCaptureFixture) -> None:
    name, damage, unfinish = DAMAGE[case]
    runs = _copy(finished, tmp_path)
    store = RunStore.for_run(runs, MPT.mask.mode, MPT)
    damage(store.path / name)
    if unfinish:
        (store.path / RESULT).unlink()
    with caplog.at_level(logging.WARNING, logger="empirical.storage.store"):
        again = run_mpt(MPT, runs, CPU)
    assert not again["reused"]
    assert {k: again[k] for k in COMPARED} == {k: finished[1][k] for k in COMPARED}
    assert [m.splitlines()[0] for m in caplog.messages] == caplog.messages  # one line each
    assert len(set(caplog.messages)) == len(caplog.messages)  # each said once
    assert any(str(store.path / name) in m for m in caplog.messages)
    assert len(store.metrics()) == 3 and store.read_result()["test_acc"] == again["test_acc"]
    assert (store.path / f"{CHECKPOINT}.damaged").exists() == (name == CHECKPOINT)
    assert run_mpt(MPT, runs, CPU)["reused"]


@pytest.mark.parametrize("case", ["metrics truncated, unfinished", "metrics empty, unfinished",
                                  "checkpoint truncated, finished", "ticket truncated",
                                  "result hand-edited"])
def test_damaged_lth_level_is_recomputed(finished: tuple, tmp_path: Path, case: str) -> None:
    name, damage, unfinish = DAMAGE[case]
    runs = _copy(finished, tmp_path)
    level1 = imp_chain(LTH, 1)[1]
    store = RunStore.for_run(runs, "lth", level1)
    damage(store.path / name)
    if unfinish:
        (store.path / RESULT).unlink()
    rows = run_lth(LTH, 1, ["reinit"], runs_dir=runs, runtime=CPU)
    assert [r["reused"] for r in rows] == [True, False, True]
    keys = (*COMPARED, "early_stop_step", "early_stop_test_acc", "density")
    assert {k: rows[1][k] for k in keys} == {k: finished[2][1][k] for k in keys}


@pytest.mark.parametrize("name", [CHECKPOINT, TICKET])
def test_damaged_parent_is_recomputed_in_order_or_named(finished: tuple, tmp_path: Path,
                                                        name: str) -> None:
    runs = _copy(finished, tmp_path)
    level1 = imp_chain(LTH, 1)[1]
    parent = RunStore.for_run(runs, "lth", level1)
    control = RunStore.for_run(runs, "lth", derived(level1, "reinit"))
    shutil.rmtree(control.path)
    _truncate(parent.path / name)
    with pytest.raises(ValueError, match=f"parent run {parent.path} is not finished or is "
                                         "damaged"):
        run_level(derived(level1, "reinit"), runs, CPU)
    rows = run_lth(LTH, 1, ["reinit"], runs_dir=runs, runtime=CPU)
    assert [r["reused"] for r in rows] == [True, False, False]
    assert [r["test_acc"] for r in rows] == [r["test_acc"] for r in finished[2]]


def test_retrain_after_lost_checkpoint_starts_metrics_afresh(finished: tuple,
                                                             tmp_path: Path) -> None:
    runs = _copy(finished, tmp_path)
    store = RunStore.for_run(runs, MPT.mask.mode, MPT)
    (store.path / RESULT).unlink()
    (store.path / CHECKPOINT).unlink()
    again = run_mpt(MPT, runs, CPU)
    assert [r["step"] for r in store.metrics()] == [5, 10, 15]
    assert again["test_acc"] == finished[1]["test_acc"]


def test_damaged_parent_hparams_is_named_then_repaired(finished: tuple, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    """A level alone cannot repair its parent's hparams.json (one line, exit 2); the chain
    recomputes the parent (sealed by its result.json) and reports the uninterrupted numbers."""
    runs = _copy(finished, tmp_path)
    level0 = RunStore.for_run(runs, "lth", imp_chain(LTH, 0)[0])
    shutil.rmtree(RunStore.for_run(runs, "lth", imp_chain(LTH, 1)[1]).path)
    _truncate(level0.path / "hparams.json")
    with pytest.raises(RunFileError, match=r"hparams\.json: not valid JSON"):
        run_level(imp_chain(LTH, 1)[1], runs, CPU)
    (level0.path / "hparams.json").write_text(json.dumps(seal_json(
        {"kind": "lth", "hash": "0", "hparams": {}})))
    flags = ["--dataset", "digits", "--batch-size", "128", "--val-size", "200", "--widths", "16",
             "--optimizer", "adam", "--lr", "3e-3", "--weight-decay", "0", "--schedule",
             "constant", "--epochs", "3", "--eval-every", "4", "--rate", "0.5", "--runs-dir",
             str(runs), "--device", "cpu", "--json"]
    code = main(["export", level0.name, "--runs-dir", str(runs), "--out",
                 str(tmp_path / "t.safetensors")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1] == (f"tickets export: error: run file {level0.path / 'hparams.json'}: names "
                       f"run '0', found in {level0.name}")
    assert main(["train", "lth", *flags, "--levels", "1", "--control", "reinit"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["test_acc"] for r in rows] == [r["test_acc"] for r in finished[2]]
    assert level0.read_hparams()["hash"] == level0.name


def test_damaged_rewind_state_is_replayed(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                          ) -> None:
    import dataclasses

    from empirical.algorithms.lth import rewind_file, rewind_state

    base = dataclasses.replace(LTH, pruning=PruningHparams(rate=0.5, rewind="3it"))
    run_lth(base, 0, runs_dir=tmp_path, runtime=CPU)
    root = imp_chain(base, 0)[0]
    path = Path(rewind_file(RunStore.for_run(tmp_path, "lth", root), 3))
    saved = load_torch(path, weights_only=True)
    _truncate(path)
    with caplog.at_level(logging.WARNING, logger="empirical.storage.store"):
        replayed = rewind_state(root, 3, tmp_path, CPU)
    assert all(torch.equal(saved[k], replayed[k]) for k in saved)
    [message] = caplog.messages
    assert message.startswith(f"warning: run file {path}: digest mismatch")
    assert message.endswith("; replaying level 0 to recompute it")
