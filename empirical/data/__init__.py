"""Datasets by name, read from disk (never downloaded) or generated offline, and seeded batching.

Every dataset is one :class:`DatasetSpec` in the registry (:mod:`empirical.data.registry`):
``mnist``, ``cifar10``, ``imagenet`` read from ``--data-dir`` (:mod:`empirical.data.disk`) and
``mnist1d``, ``digits``, ``mnist5k``, ``synthetic`` made in memory
(:mod:`empirical.data.generated`; their specs' summaries say what each is and how it is split).
A new dataset is one ``register_dataset(DatasetSpec(...))`` call; ``get_dataset``, ``check_files``,
``pixel_normalisation``, ``--dataset`` and the scales read the registry.

Modules
-------
- :mod:`~empirical.data.registry`: the spec types, :data:`DATASETS` and the lookups (no torch);
- :mod:`~empirical.data.disk`, :mod:`~empirical.data.generated`: the built-in specs;
- :mod:`~empirical.data.cache`: the on-disk cache of generated arrays (``$TICKETS_CACHE``);
- :mod:`~empirical.data.splits`: the seeded validation and stratified splits;
- :mod:`~empirical.data.loading`: :func:`get_dataset`, one split as a torch dataset;
- :mod:`~empirical.data.batching`: :class:`Batches`, the seeded data order;
- :mod:`~empirical.data.cifar`: CIFAR-10's pickled batches as a torch dataset.

Importing this package loads neither torch nor torchvision: the names of the torch modules are
resolved on first use.
"""

from __future__ import annotations

from empirical.data import disk, generated  # noqa: F401  (registers the built-in datasets)
from empirical.data.disk import (
    CIFAR_CROP_PADDING,
    CIFAR_MEAN,
    CIFAR_STD,
    IMAGENET_MEAN,
    IMAGENET_STD,
    MNIST_MEAN,
    MNIST_STD,
)
from empirical.data.generated import mnist5k_path
from empirical.data.registry import (
    DATA_ON_DEVICE,
    DATASET_NAMES,
    DATASETS,
    SPLITS,
    DatasetInfo,
    DatasetSpec,
    InMemory,
    OnDevice,
    OnDisk,
    Pixels,
    check_files,
    check_name,
    dataset_info,
    dataset_spec,
    disk_dataset_names,
    pixel_normalisation,
    register_dataset,
)
from empirical.data.splits import stratified_split, validation_indices
from empirical.lazy_exports import lazy_getattr

#: Names importable from the package whose modules import torch, loaded on first use.
_TORCH_NAMES = {
    "Batches": "batching", "EpochSampler": "batching", "epoch_permutation": "batching",
    "order_seed": "batching", "shard": "batching",
    "check_split": "loading", "get_dataset": "loading", "in_memory_arrays": "loading",
    "torchvision_transforms": "loading",
    "use_device_data": "loading",
    "CifarBatches": "cifar",
    "cached_arrays": "cache", "cache_dir": "cache",
}

__all__ = [
    "CIFAR_CROP_PADDING", "CIFAR_MEAN", "CIFAR_STD", "DATASETS", "DATASET_NAMES", "DATA_ON_DEVICE",
    "IMAGENET_MEAN", "IMAGENET_STD", "MNIST_MEAN", "MNIST_STD", "SPLITS", "DatasetInfo",
    "DatasetSpec", "InMemory", "OnDevice", "OnDisk", "Pixels", "check_files", "check_name",
    "dataset_info", "dataset_spec", "disk_dataset_names", "mnist5k_path", "pixel_normalisation",
    "register_dataset", "stratified_split", "validation_indices", *_TORCH_NAMES,
]

__getattr__ = lazy_getattr(__name__, _TORCH_NAMES)
