"""The dataset registry: one :class:`DatasetSpec` per dataset, every fact about it in one place.

A spec holds the name, the input shape, the class count, the pixel grid its inputs are normalised
from, and where the examples come from: an :class:`InMemory` source (arrays generated or read from
an installed package, cached on disk by :mod:`empirical.data.cache`) or an :class:`OnDisk` source
(files under ``--data-dir`` read through torchvision, with their layout check, transforms and
device-resident form). :func:`register_dataset` adds a spec; everything else (``get_dataset``,
:func:`check_files`, :func:`pixel_normalisation`, the ``--dataset`` choices and help, the scales)
reads :data:`DATASETS`. An unknown name is a ``ValueError`` naming the registered ones.

This module imports neither torch nor torchvision: the command line lists the datasets without
loading them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from empirical.errors import InputError

#: The arrays of an in-memory dataset: ``x``, ``y`` (training) and ``x_test``, ``y_test``.
Arrays = Mapping[str, np.ndarray]
ARRAY_KEYS = ("x", "y", "x_test", "y_test")
SPLITS = ("train", "val", "test")
#: Settings of ``RuntimeConfig.data_on_device`` (:func:`empirical.data.loading.use_device_data`).
DATA_ON_DEVICE = ("auto", "on", "off")


@dataclass(frozen=True)
class Pixels:
    """An integer pixel grid: inputs are ``x = (u / top - mean_c) / std_c`` for pixels ``u`` in
    ``{0, ..., top}`` (torchvision's ``ToTensor`` then ``Normalize``, in float32)."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    top: int


@dataclass(frozen=True)
class DatasetInfo:
    """Shape facts of a dataset: ``input_shape`` without the batch axis, ``num_classes``."""

    input_shape: tuple[int, ...]
    num_classes: int


@dataclass(frozen=True)
class InMemory:
    """A dataset made as numpy arrays in the process (generated, or read from a package).

    Attributes
    ----------
    arrays
        ``arrays(seed)``: the :data:`Arrays` of split seed ``seed`` (inputs of any float dtype,
        reshaped to the spec's input shape and cast to float32 by ``get_dataset``; int labels).
        The split procedure is this function's.
    args
        ``args()``: the generation arguments, a JSON-able mapping; with ``seed``, the package
        versions and ``revision`` they key the on-disk cache.
    packages
        The distributions whose code produces the arrays (``numpy`` always counts); their
        installed versions enter the cache key.
    revision
        Bumped whenever ``arrays`` changes its output for the same arguments.
    cached
        Whether ``get_dataset`` keeps the arrays in the on-disk cache (worth it when making them
        takes longer than reading them back).
    """

    arrays: Callable[[int], Arrays]
    args: Callable[[], Mapping[str, Any]]
    packages: tuple[str, ...] = ()
    revision: int = 1
    cached: bool = True


@dataclass(frozen=True)
class OnDevice:
    """How a disk dataset lives on the training device as uint8 (:class:`DeviceImages`).

    Attributes
    ----------
    images
        ``images(dataset)``: the ``(N, C, H, W)`` uint8 tensor of a file loaded by
        :attr:`OnDisk.load` without a transform.
    pad
        Random-crop padding of the training split (0: no crop).
    flip
        Random horizontal flips of the training split.
    """

    images: Callable[[Any], Any]
    pad: int = 0
    flip: bool = False


@dataclass(frozen=True)
class OnDisk:
    """A dataset read from files under ``--data-dir`` (never downloaded).

    Attributes
    ----------
    layout
        The expected files, relative to the data directory (shown when they are missing).
    check
        ``check(root)``: raise ``FileNotFoundError`` naming the layout if a folder or file is
        missing (the layout only, not the contents).
    load
        ``load(root, train, transform)``: the training or test file as a map-style dataset of
        ``(image, label)`` with ``.targets``.
    transforms
        ``transforms(augment)``: the torchvision transform of the split, augmented or not.
    on_device
        The uint8 device-resident form, or None (always read through loader workers).
    """

    layout: str
    check: Callable[[Path], None]
    load: Callable[[Path, bool, Any], Any]
    transforms: Callable[[bool], Any]
    on_device: OnDevice | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """Everything about one dataset.

    Attributes
    ----------
    name
        The ``--dataset`` name.
    input_shape
        One example's shape, without the batch axis.
    num_classes
        Number of classes.
    source
        :class:`InMemory` or :class:`OnDisk`.
    pixels
        The pixel grid the inputs are normalised from, or ``pixels(seed)`` where it depends on
        the split (digits' training-pixel mean and std), or None (inputs not on a grid).
    summary
        One line for the documentation: what the data is and how it is split.
    test_split
        How the test split is made, normalised and ordered, precisely enough to rebuild it
        without this project (``{seed}`` stands for the split seed); exported tickets record it
        (:mod:`empirical.export.preprocessing`).
    """

    name: str
    input_shape: tuple[int, ...]
    num_classes: int
    source: InMemory | OnDisk
    pixels: Pixels | Callable[[int], Pixels] | None = None
    summary: str = ""
    test_split: str = ""

    @property
    def info(self) -> DatasetInfo:
        """Input shape and class count."""
        return DatasetInfo(self.input_shape, self.num_classes)

    @property
    def on_disk(self) -> bool:
        """True when the files are read from ``--data-dir``."""
        return isinstance(self.source, OnDisk)


#: Every registered dataset by name, in registration order.
DATASETS: dict[str, DatasetSpec] = {}
#: The registered names: a live view of :data:`DATASETS` (a dataset registered later is in it).
DATASET_NAMES = DATASETS.keys()


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add ``spec`` to :data:`DATASETS` (``ValueError`` if its name is taken); returns it."""
    if spec.name in DATASETS:
        raise ValueError(f"dataset {spec.name!r} is already registered")
    if not isinstance(spec.source, InMemory | OnDisk):
        raise TypeError(f"dataset {spec.name!r}: source must be InMemory or OnDisk, got "
                        f"{type(spec.source).__name__}")
    DATASETS[spec.name] = spec
    return spec


def dataset_spec(name: str) -> DatasetSpec:
    """The spec of dataset ``name``; ``ValueError`` naming the registered datasets if unknown."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose one of "
                         f"{', '.join(DATASET_NAMES)}") from None


def check_name(name: str) -> None:
    """Raise ``ValueError`` unless ``name`` is a registered dataset."""
    dataset_spec(name)


def dataset_info(name: str) -> DatasetInfo:
    """Input shape and class count of dataset ``name`` (ValueError for unknown names)."""
    return dataset_spec(name).info


def disk_dataset_names() -> tuple[str, ...]:
    """The registered datasets read from ``--data-dir``."""
    return tuple(name for name, spec in DATASETS.items() if spec.on_disk)


def pixel_normalisation(name: str, seed: int = 0
                        ) -> tuple[tuple[float, ...], tuple[float, ...], int] | None:
    """``(mean, std, max pixel)`` that maps dataset ``name``'s integer pixels to its inputs
    (split ``seed``'s where the spec's grid depends on the split), or None where the inputs are
    not on a pixel grid."""
    pixels = dataset_spec(name).pixels
    if callable(pixels):
        pixels = pixels(seed)
    return None if pixels is None else (pixels.mean, pixels.std, pixels.top)


def check_files(name: str, data_dir: str | os.PathLike | None) -> None:
    """Raise before any work if the on-disk dataset ``name`` is not where it will be read.

    Checks only the layout (the spec's :attr:`OnDisk.check`), not the contents: a damaged file
    still fails when it is read. In-memory datasets pass.

    Raises
    ------
    ValueError
        An unknown name, or a disk dataset without ``data_dir`` (``--data-dir``).
    FileNotFoundError
        A missing folder or file, named with the expected layout.
    """
    spec = dataset_spec(name)
    if not isinstance(spec.source, OnDisk):
        return
    if data_dir is None:
        raise InputError("dataset {name} is read from disk: give {data_dir}", name=name)
    spec.source.check(Path(data_dir))


def require_dir(path: Path, layout: str) -> None:
    """``FileNotFoundError`` naming ``layout`` unless ``path`` is a directory."""
    if not path.is_dir():
        raise FileNotFoundError(f"dataset directory {path} not found; expected {layout}")
