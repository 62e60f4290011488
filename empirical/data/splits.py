"""Seeded index splits: the validation split carved from a training file, stratified test splits."""

from __future__ import annotations

import numpy as np

from empirical.errors import InputError


def validation_indices(n: int, val_size: int, split_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n)`` into (train, val) index arrays by a seeded permutation.

    The last ``val_size`` entries of ``default_rng(split_seed).permutation(n)`` are the validation
    split; both arrays are sorted.
    """
    if not 0 <= val_size < n:
        raise InputError("{val_size} must lie in [0, {n}): the training split has {n} examples, "
                         "got {got}", n=n, got=val_size)
    order = np.random.default_rng(split_seed).permutation(n)
    return np.sort(order[: n - val_size]), np.sort(order[n - val_size:])


def stratified_split(labels: np.ndarray, test_per_class: int, seed: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified (train, test) index arrays: ``test_per_class`` test examples per class.

    Within every class the examples are ordered by ``default_rng(seed).permutation`` and the first
    ``test_per_class`` go to the test split; both arrays are sorted.
    """
    rng = np.random.default_rng(seed)
    train, test = [], []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        if len(members) <= test_per_class:
            raise ValueError(f"class {cls} has {len(members)} examples, needs more than "
                             f"{test_per_class}")
        test.append(members[:test_per_class])
        train.append(members[test_per_class:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))
