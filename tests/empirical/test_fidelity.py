"""Fidelity of what a run reports: validation from the training file, numerics in the hash,
optimiser defaults, schedules, selection of the reported numbers."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from empirical.algorithms.train import lr_at, make_optimizer, selection_summary
from empirical.config.hparams import (
    DatasetHparams,
    MaskHparams,
    RunHparams,
    RuntimeConfig,
    TrainingHparams,
    canonical_string,
    hparams_hash,
)
from empirical.data import get_dataset, stratified_split


def _write_mnist_distinct(write_idx: Any, root: Path, n_train: int, n_test: int
                          ) -> tuple[np.ndarray, np.ndarray]:
    """idx files whose every image is constant: train images take values 0..n_train-1, test
    images 200.. (so no test image equals any training image)."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    train = np.repeat(np.arange(n_train), 784).reshape(n_train, 28, 28)
    test = np.repeat(200 + np.arange(n_test), 784).reshape(n_test, 28, 28)
    for prefix, images in (("train", train), ("t10k", test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(len(images)) % 10)
    return train, test


def _pixel_ids(dataset: torch.utils.data.Dataset) -> set[int]:
    """The constant pixel value (0..255) of every image of ``dataset`` (un-normalised)."""
    from empirical.data import MNIST_MEAN, MNIST_STD

    ids = set()
    for i in range(len(dataset)):
        x, _ = dataset[i]
        value = float(x.flatten()[0]) * MNIST_STD[0] + MNIST_MEAN[0]
        ids.add(round(value * 255))
    return ids


def test_mnist_validation_comes_from_the_training_file(disk_formats: Any, tmp_path: Path) -> None:
    _write_mnist_distinct(disk_formats.write_idx, tmp_path, n_train=30, n_test=5)
    # a validation split larger than the whole test file must work
    val = get_dataset("mnist", tmp_path, "val", val_size=8)
    train = get_dataset("mnist", tmp_path, "train", val_size=8)
    val_ids, train_ids = _pixel_ids(val), _pixel_ids(train)
    assert len(val_ids) == 8 and len(train_ids) == 22
    assert val_ids <= set(range(30)) and not val_ids & set(range(200, 205))
    assert not val_ids & train_ids and val_ids | train_ids == set(range(30))
    assert _pixel_ids(get_dataset("mnist", tmp_path, "test")) == set(range(200, 205))


def test_cifar_validation_comes_from_the_training_batches(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    per_batch = 4
    for b, name in enumerate([*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]):
        value = 250 if name == "test_batch" else 10 * b  # images constant per batch
        data = np.full((per_batch, 3072), value, dtype=np.uint8)
        with open(folder / name, "wb") as handle:
            pickle.dump({"data": data, "labels": list(range(per_batch))}, handle)
    val = get_dataset("cifar10", tmp_path, "val", val_size=6)
    from empirical.data import CIFAR_MEAN, CIFAR_STD

    values = {round((float(val[i][0][0, 0, 0]) * CIFAR_STD[0] + CIFAR_MEAN[0]) * 255)
              for i in range(len(val))}
    assert len(val) == 6 and values <= {0, 10, 20, 30, 40} and 250 not in values
    # validation images are not augmented: a padded random crop would show zero borders
    x, _ = val[0]
    assert torch.allclose(x, x[:, :1, :1].expand_as(x))


def test_mnist5k_is_a_stratified_split_of_real_digits() -> None:
    train = get_dataset("mnist5k", None, "train", seed=0, val_size=500)
    val = get_dataset("mnist5k", None, "val", seed=0, val_size=500)
    test = get_dataset("mnist5k", None, "test", seed=0)
    assert (len(train), len(val), len(test)) == (3500, 500, 1000)
    assert train.tensors[0].shape[1:] == (1, 28, 28)
    assert torch.bincount(test.tensors[1]).tolist() == [100] * 10
    # no image of the test split appears among the training images
    flat = lambda d: {hash(row.numpy().tobytes()) for row in d.tensors[0]}  # noqa: E731
    assert not flat(test) & (flat(train) | flat(val))
    other = get_dataset("mnist5k", None, "test", seed=1)
    assert not torch.equal(other.tensors[0], test.tensors[0])


def test_stratified_split_counts() -> None:
    labels = np.repeat(np.arange(3), [5, 6, 7])
    train, test = stratified_split(labels, 2, seed=0)
    assert np.bincount(labels[test]).tolist() == [2, 2, 2]
    assert sorted([*train, *test]) == list(range(18))
    with pytest.raises(ValueError, match="class 0"):
        stratified_split(labels, 5, seed=0)


def test_precision_is_part_of_the_run_identity() -> None:
    fp32 = RunHparams()
    bf16 = RunHparams(training=TrainingHparams(precision="bf16"))
    assert canonical_string(fp32) == "" and hparams_hash(fp32) != hparams_hash(bf16)
    assert canonical_string(bf16) == 'training.precision="bf16"'
    assert "amp" not in {f for f in RuntimeConfig.__dataclass_fields__}


@pytest.mark.parametrize(("optimizer", "expected"), [("sgd", 1e-4), ("adam", 0.0),
                                                      ("adamw", 1e-2)])
def test_optimizer_default_weight_decay(optimizer: str, expected: float) -> None:
    training = TrainingHparams(optimizer=optimizer)
    opt = make_optimizer(torch.nn.Linear(3, 2), training)
    assert opt.param_groups[0]["weight_decay"] == expected
    explicit = TrainingHparams(optimizer=optimizer, weight_decay=expected)
    assert hparams_hash(explicit) == hparams_hash(training)
    other = TrainingHparams(optimizer=optimizer, weight_decay=0.5)
    assert make_optimizer(torch.nn.Linear(3, 2), other).param_groups[0]["weight_decay"] == 0.5


def test_step_schedule_and_warmups() -> None:
    step = TrainingHparams(schedule="step", milestones=(2, 4), gamma=0.1, lr=1.0, epochs=6)
    assert [lr_at(e * 10, step, 10) for e in range(6)] == pytest.approx(
        [1.0, 1.0, 0.1, 0.1, 0.01, 0.01])
    by_step = TrainingHparams(schedule="step", milestones=(15,), milestone_unit="it", lr=1.0)
    assert [lr_at(s, by_step, 10) for s in (14, 15)] == pytest.approx([1.0, 0.1])
    zero = TrainingHparams(schedule="constant", lr=1.0, warmup_steps=4, warmup_start="zero")
    one = TrainingHparams(schedule="constant", lr=1.0, warmup_steps=4)
    assert [lr_at(s, zero, 10) for s in range(5)] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert [lr_at(s, one, 10) for s in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    per_epoch = TrainingHparams(schedule="cosine", lr=1.0, warmup_epochs=2, epochs=6)
    got = [lr_at(e * 10, per_epoch, 10) for e in range(6)]
    cosine = [0.5 * (1 + np.cos(np.pi * e / 4)) for e in range(4)]
    assert got == pytest.approx([0.5, 1.0, *cosine])
    with pytest.raises(ValueError, match="milestones"):
        TrainingHparams(schedule="step")
    with pytest.raises(ValueError, match="milestones"):
        TrainingHparams(milestones=(3,))
    with pytest.raises(ValueError, match="increasing"):
        TrainingHparams(schedule="step", milestones=(4, 2))


def test_selection_summary_never_reports_the_test_maximum_as_the_result() -> None:
    records = [{"step": 10, "val_acc": 0.5, "test_acc": 0.9},
               {"step": 20, "val_acc": 0.7, "test_acc": 0.6},
               {"step": 30, "val_acc": 0.7, "test_acc": 0.5},
               {"step": 40, "val_acc": 0.6, "test_acc": 0.55}]
    summary = selection_summary(records)
    assert summary == {"final_test_acc": 0.55, "best_val_step": 20, "best_val_acc": 0.7,
                       "test_acc_at_best_val": 0.6, "best_test_acc_selected_on_test": 0.9}
    no_val = selection_summary([{"step": 1, "val_acc": None, "test_acc": 0.3}])
    assert no_val["best_val_step"] is None and no_val["test_acc_at_best_val"] is None


def test_released_fan_rule_refuses_keep_one() -> None:
    with pytest.raises(ValueError, match="1 - k"):
        MaskHparams(mode="biprop", keep=1.0, fan_rule="released")
    MaskHparams(mode="biprop", keep=0.5, fan_rule="released")


def test_open_lth_keeps_the_last_partial_batch() -> None:
    from empirical.data import Batches

    data = get_dataset("digits", None, "train", val_size=0)  # 1438 images
    assert DatasetHparams(drop_last=False).drop_last is False
    assert len(Batches(data, 100, 0, drop_last=False)) == 15
    assert len(Batches(data, 100, 0, drop_last=True)) == 14
