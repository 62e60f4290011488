"""One split of a registered dataset as a torch dataset: :func:`get_dataset`.

Validation split
----------------
``val`` is always carved from the TRAINING file (:func:`validation_indices` over the training
examples, seeded by ``seed``) and ``train`` is the rest of it; the test file is never used for
validation, so nothing selected on ``val`` (an early-stopping iteration, a best epoch) has seen a
test image. ``val`` is read without augmentation.

Device-resident images
----------------------
``get_dataset(..., on_device=True)`` returns a disk dataset whose spec has an
:class:`~empirical.data.registry.OnDevice` form (MNIST, CIFAR-10) as one uint8
:class:`empirical.device_data.DeviceImages` that :class:`~empirical.data.batching.Batches` keeps on
the training device and crops, flips and normalises there in batches; :func:`use_device_data`
resolves ``RuntimeConfig.data_on_device`` (``auto``: on CUDA). The batch order is the same as the
torchvision path's; the crops and flips are drawn from a seeded generator on the device, with the
torchvision distribution but not its exact draws. In-memory datasets are float tensors that
``Batches`` always keeps on the device; the other disk datasets (ImageNet) are always read through
torchvision and loader workers.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from empirical.data.cache import cache_dir, cached_arrays
from empirical.data.registry import (
    ARRAY_KEYS,
    DATA_ON_DEVICE,
    SPLITS,
    DatasetSpec,
    InMemory,
    OnDisk,
    check_files,
    dataset_spec,
    pixel_normalisation,
)
from empirical.data.splits import validation_indices
from empirical.device_data import DeviceImages
from empirical.errors import InputError


def in_memory_arrays(spec: DatasetSpec, seed: int) -> dict[str, np.ndarray]:
    """The arrays of in-memory dataset ``spec`` for split seed ``seed``, through the on-disk
    cache when the spec asks for it (:mod:`empirical.data.cache`)."""
    source = spec.source
    assert isinstance(source, InMemory)
    if not source.cached:
        return {k: np.asarray(v) for k, v in source.arrays(seed).items()}
    return cached_arrays(spec.name, source.args(), seed, lambda: source.arrays(seed),
                         source.packages, source.revision)


@functools.lru_cache(maxsize=4)
def _memo_arrays(spec: DatasetSpec, seed: int, cache: Path) -> dict[str, np.ndarray]:
    """:func:`in_memory_arrays`, once per process for the train, val and test splits (``cache``,
    the cache folder, only keys the memo)."""
    return in_memory_arrays(spec, seed)


def _in_memory(spec: DatasetSpec, seed: int) -> tuple[TensorDataset, TensorDataset]:
    arrays = {k: v.copy() for k, v in _memo_arrays(spec, seed, cache_dir()).items()}
    missing = [k for k in ARRAY_KEYS if k not in arrays]
    if missing:
        raise ValueError(f"dataset {spec.name}: its arrays lack {', '.join(missing)}")

    def tensors(x: np.ndarray, y: np.ndarray) -> TensorDataset:
        xt = torch.as_tensor(np.asarray(x, dtype=np.float32)).reshape(-1, *spec.input_shape)
        return TensorDataset(xt, torch.as_tensor(np.asarray(y), dtype=torch.long))

    return tensors(arrays["x"], arrays["y"]), tensors(arrays["x_test"], arrays["y_test"])


def _disk_source(name: str) -> OnDisk:
    source = dataset_spec(name).source
    if not isinstance(source, OnDisk):
        raise ValueError(f"dataset {name} is not read from disk")
    return source


def torchvision_transforms(name: str, train: bool) -> Any:
    """The torchvision transform of disk dataset ``name``: augmented (``train``) or not."""
    return _disk_source(name).transforms(train)


def _torchvision(name: str, data_dir: str | os.PathLike | None, train: bool, augment: bool
                 ) -> Dataset:
    """The training (``train``) or test file of a disk dataset; ``augment`` only when asked."""
    check_files(name, data_dir)
    source = _disk_source(name)
    return source.load(Path(data_dir), train, source.transforms(augment))


@functools.lru_cache(maxsize=2)
def _uint8_images(name: str, data_dir: str, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The (N, C, H, W) uint8 images and int64 labels of a file of a device-resident dataset."""
    on_device = _disk_source(name).on_device
    assert on_device is not None
    base: Any = _torchvision(name, data_dir, train, False)
    images = on_device.images(base)
    return images.contiguous(), torch.as_tensor(base.targets, dtype=torch.long)


def _device_images(spec: DatasetSpec, data_dir: str | os.PathLike | None, train: bool,
                   augment: bool) -> DeviceImages:
    """A file of a device-resident dataset as :class:`DeviceImages`, augmented like the
    torchvision path when ``augment`` (the spec's :class:`~empirical.data.registry.OnDevice`
    crop padding and flip)."""
    check_files(spec.name, data_dir)
    source = spec.source
    assert isinstance(source, OnDisk) and source.on_device is not None
    images, labels = _uint8_images(spec.name, str(data_dir), train)
    mean, std, _ = pixel_normalisation(spec.name)  # type: ignore[misc]
    crop = augment and train
    return DeviceImages(images, labels, mean, std, pad=source.on_device.pad if crop else 0,
                        flip=crop and source.on_device.flip)


def _has_device_form(name: str) -> bool:
    source = dataset_spec(name).source
    return isinstance(source, OnDisk) and source.on_device is not None


def use_device_data(setting: str, name: str, device: torch.device) -> bool:
    """Whether dataset ``name`` lives on ``device`` as uint8 (``RuntimeConfig.data_on_device``).

    ``auto``: for the disk datasets with a device-resident form (MNIST, CIFAR-10) on a CUDA
    device; ``on``: for those on any device (ImageNet always goes through torchvision; the
    in-memory datasets are always on the device); ``off``: never.
    """
    if setting not in DATA_ON_DEVICE:
        raise InputError("{data_on_device}: unknown {got!r}; choose one of {choices}",
                         got=setting, choices=", ".join(DATA_ON_DEVICE))
    if setting == "off" or not _has_device_form(name):
        return False
    return setting == "on" or device.type == "cuda"


def check_split(name: str, data_dir: str | os.PathLike | None, val_size: int, seed: int
                ) -> None:
    """Raise before any work (before a run's lock file is made) unless dataset ``name`` is on
    disk where it will be read (:func:`~empirical.data.registry.check_files`) and ``val_size``
    leaves training examples (``0 <= val_size < n``,
    :func:`~empirical.data.splits.validation_indices`).

    A nonzero ``val_size`` is checked by making the validation split as training will (a generated
    dataset's arrays are then memoised for the run; a disk dataset's file is opened once more).
    """
    check_files(name, data_dir)
    if val_size:
        get_dataset(name, data_dir, "val", seed=seed, val_size=val_size, augment=False)


def get_dataset(name: str, data_dir: str | os.PathLike | None, split: str, seed: int = 0,
                val_size: int = 0, augment: bool = True, on_device: bool = False
                ) -> Dataset | DeviceImages:
    """One split of dataset ``name``.

    Parameters
    ----------
    name
        A registered dataset (:data:`~empirical.data.registry.DATASETS`).
    data_dir
        Directory with the files (required for the disk datasets: mnist, cifar10, imagenet).
    split
        ``train`` (minus the validation examples), ``val`` (carved from train) or ``test``.
    seed
        Seed of the generated datasets (mnist1d, digits' split, synthetic) and of the validation
        permutation.
    val_size
        Number of training examples held out as ``val``.
    augment
        Training-split augmentation (torchvision datasets).
    on_device
        A disk dataset with a device-resident form as uint8 :class:`DeviceImages` (augmented in
        batches by ``Batches``) instead of a torchvision dataset; ignored for the others.

    Returns
    -------
    Dataset or DeviceImages
        A ``TensorDataset`` for the in-memory datasets, :class:`DeviceImages` for MNIST and
        CIFAR-10 ``on_device``, else a map-style dataset of (image, label).
    """
    spec = dataset_spec(name)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if isinstance(spec.source, InMemory):
        train, test = _in_memory(spec, seed)
        if split == "test":
            return test
        keep, val = validation_indices(len(train), val_size, seed)
        chosen = torch.as_tensor(keep if split == "train" else val)
        return TensorDataset(*(t[chosen] for t in train.tensors))
    if on_device and spec.source.on_device is not None:
        if split == "test":
            return _device_images(spec, data_dir, False, False)
        images = _device_images(spec, data_dir, True, augment)
        keep, val = validation_indices(len(images), val_size, seed)
        return images.subset(torch.as_tensor(keep if split == "train" else val),
                             augment=split == "train")
    if split == "test":
        return _torchvision(name, data_dir, False, False)
    # train and val both come from the training file; only train is augmented
    base = _torchvision(name, data_dir, True, augment and split == "train")
    keep, val = validation_indices(len(base), val_size, seed)
    return Subset(base, (keep if split == "train" else val).tolist())
