"""Datasets: real on-disk formats written small, generated datasets, seeded batching."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from empirical.data import (
    CIFAR_MEAN,
    CIFAR_STD,
    Batches,
    cache_dir,
    check_files,
    dataset_info,
    epoch_permutation,
    get_dataset,
    shard,
    validation_indices,
)


def write_imagenet(root: Path) -> None:
    for split, count in (("train", 3), ("val", 1)):
        for cls in ("n01", "n02"):
            folder = root / "imagenet" / split / cls
            folder.mkdir(parents=True)
            for i in range(count):
                suffix = "JPEG" if i % 2 else "png"
                Image.new("RGB", (40, 30), (10 * i, 50, 90)).save(folder / f"{i}.{suffix}")


def test_mnist_idx_files(disk_formats: Any, tmp_path: Path) -> None:
    disk_formats.write_mnist(tmp_path)
    train = get_dataset("mnist", tmp_path, "train", val_size=2)
    val = get_dataset("mnist", tmp_path, "val", val_size=2)
    test = get_dataset("mnist", tmp_path, "test")
    assert (len(train), len(val), len(test)) == (10, 2, 5)
    x, y = test[3]
    assert x.shape == (1, 28, 28) and y == 3


def test_cifar_pickled_batches(disk_formats: Any, tmp_path: Path) -> None:
    first = disk_formats.write_cifar(tmp_path)
    test = get_dataset("cifar10", tmp_path, "test")
    train = get_dataset("cifar10", tmp_path, "train", augment=False)
    assert (len(train), len(test)) == (20, 4)
    x, y = train[0]  # no validation split: index 0 is the first image of data_batch_1
    expected = torch.tensor(first[0].reshape(3, 32, 32) / 255.0, dtype=torch.float32)
    mean, std = torch.tensor(CIFAR_MEAN)[:, None, None], torch.tensor(CIFAR_STD)[:, None, None]
    assert y == 0
    torch.testing.assert_close(x, (expected - mean) / std, atol=1e-5, rtol=0)
    augmented, _ = get_dataset("cifar10", tmp_path, "train")[0]
    assert augmented.shape == (3, 32, 32)


def test_imagenet_image_folder(tmp_path: Path) -> None:
    write_imagenet(tmp_path)
    train = get_dataset("imagenet", tmp_path, "train")
    val = get_dataset("imagenet", tmp_path, "test")
    assert (len(train), len(val)) == (6, 2)
    x, y = val[1]
    assert x.shape == (3, 224, 224) and y == 1


@pytest.mark.parametrize("name", ["mnist", "cifar10", "imagenet"])
def test_missing_directory_names_layout(tmp_path: Path, name: str) -> None:
    with pytest.raises(FileNotFoundError, match="expected"):
        get_dataset(name, tmp_path / "nowhere", "train")
    with pytest.raises(ValueError, match="data_dir"):
        get_dataset(name, None, "train")


def test_bad_names() -> None:
    with pytest.raises(ValueError, match="unknown dataset"):
        get_dataset("mnist2", None, "train")
    with pytest.raises(ValueError, match="unknown split"):
        get_dataset("digits", None, "dev")


@pytest.mark.parametrize("name", ["digits", "synthetic", "mnist1d"])
def test_generated_datasets(tmp_path: Path, name: str) -> None:
    train = get_dataset(name, tmp_path, "train", seed=3, val_size=50)
    val = get_dataset(name, tmp_path, "val", seed=3, val_size=50)
    test = get_dataset(name, tmp_path, "test", seed=3)
    info = dataset_info(name)
    assert train.tensors[0].shape[1:] == info.input_shape
    assert len(val) == 50 and len(test) > 0
    assert set(train.tensors[1].unique().tolist()) == set(range(info.num_classes))
    again = get_dataset(name, tmp_path, "train", seed=3, val_size=50)
    assert torch.equal(train.tensors[0], again.tensors[0])
    assert list((cache_dir() / name).glob("*.npz"))  # kept in the dataset cache


def test_validation_split_disjoint() -> None:
    keep, val = validation_indices(20, 5, split_seed=7)
    assert len(keep) == 15 and len(val) == 5
    assert sorted({*keep.tolist(), *val.tolist()}) == list(range(20))
    with pytest.raises(ValueError):
        validation_indices(5, 5, 0)


def test_data_order_is_function_of_seed_and_epoch() -> None:
    assert torch.equal(epoch_permutation(50, 1, 2), epoch_permutation(50, 1, 2))
    assert not torch.equal(epoch_permutation(50, 1, 2), epoch_permutation(50, 1, 3))
    data = torch.utils.data.TensorDataset(torch.arange(40.0)[:, None], torch.arange(40))
    batches = Batches(data, 8, seed=5)
    full = [y for _, y in batches.epoch(2)]
    tail = [y for _, y in batches.epoch(2, start_batch=3)]
    assert len(full) == 5 and all(torch.equal(a, b) for a, b in zip(full[3:], tail, strict=True))


def test_map_style_batches_match_tensor_batches() -> None:
    data = torch.utils.data.TensorDataset(torch.arange(30.0)[:, None], torch.arange(30))
    fast = Batches(data, 4, seed=2)
    slow = Batches(torch.utils.data.Subset(data, list(range(30))), 4, seed=2)
    for (_, a), (_, b) in zip(fast.epoch(1, 2), slow.epoch(1, 2), strict=True):
        assert torch.equal(a, b)


def test_shards_cover_every_example() -> None:
    order = epoch_permutation(10, 0, 0)
    parts = [shard(order, r, 3) for r in range(3)]
    assert all(len(p) == 4 for p in parts)
    assert set(torch.cat(parts).tolist()) == set(range(10))


def test_check_files_names_what_is_missing_without_reading(disk_formats: Any,
                                                           tmp_path: Path) -> None:
    check_files("digits", None)  # in memory: nothing to check
    with pytest.raises(ValueError, match="data_dir"):
        check_files("mnist", None)
    with pytest.raises(FileNotFoundError, match="MNIST/raw"):
        check_files("mnist", tmp_path)
    disk_formats.write_cifar(tmp_path)
    check_files("cifar10", tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        check_files("cifar10", tmp_path)
    with pytest.raises(FileNotFoundError, match="imagenet"):
        check_files("imagenet", tmp_path)


def test_mnist1d_arguments_are_the_package_defaults() -> None:
    from mnist1d.data import get_dataset_args

    from empirical.data.generated import MNIST1D_ARGS

    defaults = get_dataset_args(as_dict=True)
    assert MNIST1D_ARGS == {k: v for k, v in defaults.items() if k not in ("seed", "url")}
