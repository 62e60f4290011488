"""The dataset registry: a new dataset is one spec, and every consumer sees it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from empirical.config import hparams
from empirical.data import (
    DATASET_NAMES,
    DATASETS,
    Batches,
    DatasetSpec,
    InMemory,
    OnDisk,
    Pixels,
    check_files,
    dataset_info,
    dataset_spec,
    disk_dataset_names,
    get_dataset,
    pixel_normalisation,
    register_dataset,
    use_device_data,
)
from verify.cli.main import build_parser


def toy_arrays(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x": rng.integers(0, 4, (30, 6)) / 3.0, "y": np.arange(30) % 3,
            "x_test": rng.integers(0, 4, (9, 6)) / 3.0, "y_test": np.arange(9) % 3}


def check_toy_files(root: Path) -> None:
    if not (root / "toy.bin").is_file():
        raise FileNotFoundError(f"toy file {root / 'toy.bin'} not found; expected {root}/toy.bin")


@pytest.fixture
def toys() -> Iterator[None]:
    """A toy in-memory dataset and a toy disk dataset, registered for one test."""
    register_dataset(DatasetSpec("toy", (2, 3), 3, InMemory(toy_arrays, lambda: {"n": 30}),
                                 pixels=Pixels((0.0,), (1.0,), 3)))
    register_dataset(DatasetSpec("toy-disk", (1,), 2, OnDisk(
        "toy.bin", check_toy_files, lambda root, train, transform: None, lambda augment: None)))
    yield
    del DATASETS["toy"], DATASETS["toy-disk"]


def test_a_registered_dataset_is_usable_everywhere(toys: None, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    assert hparams.DatasetHparams  # imported before the toys: its flags must read them live
    assert "toy" in DATASET_NAMES and dataset_info("toy").input_shape == (2, 3)
    assert pixel_normalisation("toy") == ((0.0,), (1.0,), 3)
    check_files("toy", None)  # in memory: nothing to check
    train = get_dataset("toy", None, "train", seed=1, val_size=6)
    test = get_dataset("toy", None, "test", seed=1)
    assert train.tensors[0].shape == (24, 2, 3) and train.tensors[0].dtype == torch.float32
    assert len(test) == 9
    x, y = next(Batches(train, 8, seed=0).epoch(0))
    assert x.shape == (8, 2, 3) and y.dtype == torch.long
    assert not use_device_data("on", "toy", torch.device("cpu"))
    # the command line accepts it and lists it
    args = build_parser().parse_args(["train", "dense", "--dataset", "toy"])
    assert vars(args)["dataset.name"] == "toy"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "dense", "--help"])
    assert "synthetic, toy, toy-disk" in " ".join(capsys.readouterr().out.split())
    # a disk dataset is checked by its own spec
    assert disk_dataset_names() == ("mnist", "cifar10", "imagenet", "toy-disk")
    with pytest.raises(ValueError, match="give data_dir"):
        check_files("toy-disk", None)
    with pytest.raises(FileNotFoundError, match=r"expected .*toy\.bin"):
        check_files("toy-disk", tmp_path)
    (tmp_path / "toy.bin").write_bytes(b"")
    check_files("toy-disk", tmp_path)


def test_unknown_and_duplicate_names() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'mnist2'; choose one of mnist, "):
        dataset_spec("mnist2")
    for lookup in (dataset_info, pixel_normalisation):
        with pytest.raises(ValueError, match="unknown dataset"):
            lookup("mnist2")
    with pytest.raises(ValueError, match="unknown dataset"):
        check_files("mnist2", None)
    with pytest.raises(ValueError, match="already registered"):
        register_dataset(DATASETS["digits"])


def test_help_lists_every_dataset(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "biprop", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"dataset: {', '.join(DATASET_NAMES)}" in text
    assert "mnist5k" in text


def test_registry_loads_without_torch() -> None:
    import subprocess
    import sys

    code = ("import sys, empirical.data as d; d.dataset_info('mnist'); "
            "d.pixel_normalisation('cifar10'); assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
