"""CIFAR-10 from its python pickled batches, as a map-style torch dataset."""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset


class CifarBatches(Dataset):
    """CIFAR-10 from its python pickled batches (``data_batch_1..5`` / ``test_batch``).

    Parameters
    ----------
    files
        The batch files to read, in order (the layout and its check live in
        :mod:`empirical.data.disk`).
    transform
        A torchvision transform applied to the PIL image.
    """

    def __init__(self, files: Sequence[str | os.PathLike], transform: Any = None) -> None:
        images, labels = [], []
        for name in files:
            with open(Path(name), "rb") as handle:
                batch = pickle.load(handle, encoding="latin1")
            images.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            labels.extend(batch["labels"])
        self.data = np.concatenate(images).transpose(0, 2, 3, 1)  # N, H, W, C
        self.targets = list(labels)
        self.transform = transform

    @classmethod
    def from_arrays(cls, data: np.ndarray, targets: Sequence[int], transform: Any = None
                    ) -> CifarBatches:
        """The dataset of ``data`` ((N, 32, 32, 3) uint8) and ``targets``, without files."""
        dataset = cls.__new__(cls)
        dataset.data, dataset.targets, dataset.transform = data, list(targets), transform
        return dataset

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        from PIL import Image

        image = Image.fromarray(self.data[index])
        if self.transform is not None:
            image = self.transform(image)
        return image, self.targets[index]
