"""Helpers of the empirical tests, as fixtures: files in the real on-disk dataset formats, and a
binary network whose logits tie exactly (the tie rule of the packed engines)."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from empirical.config.hparams import ModelHparams
from empirical.export.frozen import freeze_
from empirical.layers import LayerConfig, layer_masks
from empirical.models import build_model


def write_idx(path: Path, array: np.ndarray) -> None:
    """An idx ubyte file (LeCun's MNIST format: magic 0x0800|ndim, big-endian sizes, bytes)."""
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist(root: Path, n_train: int = 12, n_test: int = 5) -> None:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)


def write_cifar(root: Path, per_batch: int = 4) -> np.ndarray:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    first = None
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        first = data if first is None else first
        with open(folder / name, "wb") as handle:
            pickle.dump({"data": data, "labels": list(range(per_batch))}, handle)
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, handle)
    return first


@pytest.fixture
def disk_formats() -> SimpleNamespace:
    """Writers of small datasets in the real on-disk formats: ``write_idx(path, array)`` (MNIST's
    idx ubyte), ``write_mnist(root, n_train, n_test)``, ``write_cifar(root, per_batch)`` (the
    python pickles; returns the first batch's pixels)."""
    return SimpleNamespace(write_idx=write_idx, write_mnist=write_mnist, write_cifar=write_cifar)


def tie_model(gammas: tuple[float, float],
              first_means: tuple[float, ...] = (0.0, 0.5, -0.5, 1.0, 0.0)) -> nn.Module:
    """fc 6-5-7-4 with alpha = 1/4 (sums exact in float32) and BatchNorm means at reachable
    pre-activations (multiples of 1/4 of the right parity), so that many are exactly 0 in the
    real first layer and in the binary hidden layer, and the tie rule decides them. The
    BatchNorms have ``var = 1, eps = 0`` and the given gammas (no shift) so that torch's float
    BatchNorm (``y * scale + shift``) is exact too: with ``eps > 0`` it lands an ulp off 0 and
    decides ties by its rounding."""
    torch.manual_seed(0)
    model = build_model(ModelHparams("fc", binary_act=True, bn="affine", widths=[5, 7]),
                        4, (6,), LayerConfig(mode="biprop", keep=1.0)).eval()
    masks = {k: v.bool() for k, v in layer_masks(model).items()}
    values = {k: 0.25 * torch.sign(m.weight.detach()) for k, m in model.named_modules()
              if k in masks}
    freeze_(model, masks, values)
    means = (torch.tensor(first_means), torch.tensor([0.25, -0.25, 0.75, -0.75, 0.25, 1.25, -0.25]))
    for bn, mean, gamma in zip((model.layers[2], model.layers[5]), means, gammas, strict=True):
        bn.running_mean.copy_(mean)
        bn.running_var.fill_(1.0)
        bn.eps = 0.0
        bn.weight.data.fill_(gamma)
        bn.bias.data.zero_()
    return model


@pytest.fixture(name="tie_model")
def tie_model_fixture() -> object:
    """The builder :func:`tie_model`."""
    return tie_model
