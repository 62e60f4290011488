"""What a reader must do to a dataset before the ticket sees it: the ``preprocessing`` entry.

:func:`describe_preprocessing` records, for the run's dataset: its name, input shape and classes,
the pixel normalisation (``x_c = (u / max_pixel - mean_c) / std_c`` with the constants of
:func:`empirical.data.pixel_normalisation`) or None, the split seed and validation size, and in
words how the test split is made and ordered (the dataset spec's ``test_split``,
:class:`empirical.data.DatasetSpec`). When the test data is at hand,
:func:`split_digests` adds the test split's size and SHA-256 digests of its inputs (float32) and
labels (int64) in evaluation order, so that a reader who rebuilt them can check they are bit for
bit the run's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np

from empirical.data import dataset_spec, pixel_normalisation


def describe_preprocessing(name: str, split_seed: int, val_size: int) -> dict[str, Any]:
    """The ``preprocessing`` entry of a ticket of dataset ``name`` (module docstring).

    Parameters
    ----------
    name
        The run's dataset.
    split_seed
        Seed of the generated datasets and splits.
    val_size
        Training examples held out for validation (never from the test split).

    Returns
    -------
    dict
        ``dataset``, ``input_shape``, ``num_classes``, ``normalisation`` (``{"mean", "std",
        "max_pixel"}`` or None), ``split_seed``, ``val_size``, ``test_split`` (words).
    """
    spec = dataset_spec(name)
    pixels = pixel_normalisation(name, split_seed)
    norm = None if pixels is None else {"mean": list(pixels[0]), "std": list(pixels[1]),
                                        "max_pixel": pixels[2]}
    return {"dataset": name, "input_shape": list(spec.input_shape),
            "num_classes": spec.num_classes, "normalisation": norm, "split_seed": split_seed,
            "val_size": val_size, "test_split": spec.test_split.replace("{seed}", str(split_seed))}


def split_digests(batches: Iterable[tuple[Any, Any]]) -> dict[str, Any]:
    """SHA-256 of the test inputs as little-endian float32 and of the labels as int64, in order.

    Parameters
    ----------
    batches
        ``(inputs, labels)`` batches of the test split in evaluation order (tensors or arrays).

    Returns
    -------
    dict
        ``test_inputs_sha256``, ``test_labels_sha256`` and ``test_size``.
    """
    inputs, labels, size = hashlib.sha256(), hashlib.sha256(), 0
    for x, y in batches:
        inputs.update(np.ascontiguousarray(np.asarray(x), dtype="<f4").tobytes())
        labels.update(np.ascontiguousarray(np.asarray(y), dtype="<i8").tobytes())
        size += len(y)
    return {"test_inputs_sha256": inputs.hexdigest(), "test_labels_sha256": labels.hexdigest(),
            "test_size": size}
