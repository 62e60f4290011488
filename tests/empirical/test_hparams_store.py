"""Hyperparameter hashing (pinned), dict round trips, and the atomic run store."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from empirical.config.hparams import (
    DatasetHparams,
    MaskHparams,
    ModelHparams,
    RunHparams,
    TrainingHparams,
    canonical_string,
    default_runs_dir,
    from_dict,
    hparams_hash,
    replace,
    run_directory,
    to_dict,
)
from empirical.storage.store import RunStore


def test_pinned_hashes() -> None:
    """Changing these values breaks every stored run: do it only on purpose."""
    default = RunHparams()
    assert canonical_string(default) == ""
    assert hparams_hash(default) == "e3b0c44298fc1c14"
    biprop = replace(default, mask={"mode": "biprop", "keep": 0.5}, model={"widths": (64, 64)})
    assert canonical_string(biprop) == 'model.widths=[64, 64];mask.mode="biprop";mask.keep=0.5'
    assert hparams_hash(biprop) == "c555fb32d0b5641c"


def test_one_keep_default_per_mode_with_pinned_hashes() -> None:
    """k not given: 0.5 for the score modes (as ``tickets train`` always used), 1 for dense; the
    hashes are those the explicit values always had."""
    assert MaskHparams().keep == 1.0 and MaskHparams(mode="dense").keep == 1.0
    for mode in ("biprop", "edge-popup"):
        assert MaskHparams(mode=mode).keep == 0.5
        implicit = RunHparams(model=ModelHparams(widths=(64, 64)), mask=MaskHparams(mode=mode))
        explicit = replace(implicit, mask={"keep": 0.5})
        assert hparams_hash(implicit) == hparams_hash(explicit)
    biprop = RunHparams(model=ModelHparams(widths=(64, 64)), mask=MaskHparams(mode="biprop"))
    assert hparams_hash(biprop) == "c555fb32d0b5641c"
    every = replace(biprop, mask={"keep": 1.0})
    assert canonical_string(every) == 'model.widths=[64, 64];mask.mode="biprop"'


def test_default_valued_field_does_not_change_hash() -> None:
    explicit = RunHparams(training=TrainingHparams(lr=0.1, seed=0))
    assert hparams_hash(explicit) == hparams_hash(RunHparams())


@given(keep=st.floats(0.01, 1.0), seed=st.integers(0, 10**6),
       widths=st.lists(st.integers(1, 999), min_size=1, max_size=3))
def test_dict_round_trip(keep: float, seed: int, widths: list[int]) -> None:
    h = RunHparams(model=ModelHparams(widths=tuple(widths)), mask=MaskHparams(keep=keep),
                   training=TrainingHparams(seed=seed))
    again = from_dict(RunHparams, to_dict(h))
    assert again == h and hparams_hash(again) == hparams_hash(h)


@pytest.mark.parametrize("bad", [
    lambda: MaskHparams(keep=0.0), lambda: MaskHparams(keep=1.5), lambda: MaskHparams(mode="x"),
    lambda: DatasetHparams(name="svhn"), lambda: TrainingHparams(lr=-1.0),
    lambda: ModelHparams(widths=(0,)), lambda: TrainingHparams(label_smoothing=1.0),
])
def test_bad_values_raise(bad) -> None:
    with pytest.raises(ValueError):
        bad()


def test_unknown_field_in_dict() -> None:
    with pytest.raises(ValueError, match="unknown"):
        from_dict(RunHparams, {"nope": 1})


def test_runs_dir_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TICKETS_RUNS", raising=False)
    assert default_runs_dir() == Path("runs")
    monkeypatch.setenv("TICKETS_RUNS", str(tmp_path))
    assert default_runs_dir() == tmp_path
    assert run_directory(None, "biprop", RunHparams()) == tmp_path / "biprop" / "e3b0c44298fc1c14"
    with pytest.raises(ValueError):
        run_directory(tmp_path, "a/b", RunHparams())


def test_store_files(tmp_path: Path) -> None:
    h = RunHparams()
    store = RunStore.for_run(tmp_path, "dense", h)
    assert not store.finished and store.load_checkpoint() is None and store.metrics() == []
    store.write_hparams("dense", h)
    assert store.read_hparams()["hash"] == hparams_hash(h)
    for step in (10, 20, 30):
        store.append_metrics({"step": step, "test_acc": step / 100})
    with open(store.path / "metrics.jsonl", "a") as handle:
        handle.write('{"step": 4')  # a torn line from a kill mid-write
    assert [r["step"] for r in store.metrics()] == [10, 20, 30]
    store.reset_metrics(store.metrics()[:2])
    assert [r["step"] for r in store.metrics()] == [10, 20]
    store.save_ticket({"masks": {"fc": torch.ones(3, dtype=torch.bool)}})
    assert torch.equal(store.load_ticket()["masks"]["fc"], torch.ones(3, dtype=torch.bool))
    store.write_result({"hash": store.name, "steps": 20, "test_acc": 0.5})
    assert store.finished and store.read_result() == {"hash": store.name, "steps": 20,
                                                      "test_acc": 0.5}
    assert not [p for p in store.path.iterdir() if p.name.endswith(".tmp")]


def test_sections_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        RunHparams().mask.keep = 0.3  # type: ignore[misc]
