"""Device-resident MNIST / CIFAR-10: the torchvision augmentation distribution, exact crops and
normalisation, the epoch's coverage and order, restarts, unaugmented splits, a run end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import functional as TF

from empirical.config.hparams import RuntimeConfig
from empirical.data import (
    CIFAR_MEAN,
    CIFAR_STD,
    Batches,
    epoch_permutation,
    get_dataset,
    order_seed,
    use_device_data,
    validation_indices,
)
from empirical.device_data import (
    DeviceImages,
    augmentation_generator,
    crop_flip,
    draw_augmentation,
)
from verify.cli.main import main

PAD = 4


def _images(n: int, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (n, 3, 32, 32),
                                                                 dtype=np.uint8))


def _torchvision(image: torch.Tensor, i: int, j: int, flip: bool) -> torch.Tensor:
    """torchvision's CIFAR-10 training pipeline at crop corner (i, j) and the given flip."""
    pil = Image.fromarray(image.permute(1, 2, 0).numpy())
    out = TF.crop(TF.pad(pil, PAD), i, j, 32, 32)
    out = TF.hflip(out) if flip else out
    return T.Normalize(CIFAR_MEAN, CIFAR_STD)(T.ToTensor()(out))


def test_crop_flip_and_normalisation_equal_torchvision_at_the_same_draw() -> None:
    images = _images(6)
    data = DeviceImages(images, torch.arange(6), CIFAR_MEAN, CIFAR_STD, pad=PAD, flip=True)
    offsets = torch.tensor([[0, 0], [8, 8], [0, 8], [3, 5], [8, 1], [4, 4]])
    flips = torch.tensor([False, True, True, False, True, False])
    x, y = data.batch(torch.arange(6), offsets, flips)
    assert x.dtype == torch.float32 and y.tolist() == list(range(6))
    for b in range(6):
        expected = _torchvision(images[b], *offsets[b].tolist(), bool(flips[b]))
        assert torch.equal(x[b], expected), b


def test_offsets_mean_what_random_crop_means() -> None:
    """RandomCrop(32, padding=4) crops the zero-padded image at its get_params corner."""
    image = Image.fromarray(_images(1)[0].permute(1, 2, 0).numpy())
    crop = T.RandomCrop(32, padding=PAD)
    corners = set()
    for seed in range(300):
        torch.manual_seed(seed)
        out = crop(image)
        torch.manual_seed(seed)
        i, j, _, _ = T.RandomCrop.get_params(TF.pad(image, PAD), (32, 32))
        corners.add((i, j))
        assert np.array_equal(np.asarray(out), np.asarray(TF.crop(TF.pad(image, PAD), i, j, 32,
                                                                  32)))
    rows, cols = {i for i, _ in corners}, {j for _, j in corners}
    assert rows == cols == set(range(2 * PAD + 1))  # torchvision's support = ours


def test_augmentation_distribution_is_uniform_crops_and_fair_flips() -> None:
    n = 90_000
    offsets, flips = draw_augmentation(n, PAD, True, augmentation_generator(torch.device("cpu"),
                                                                            7))
    assert offsets.min() == 0 and offsets.max() == 2 * PAD
    p = 1 / (2 * PAD + 1)
    bound = 5 * np.sqrt(n * p * (1 - p))  # binomial count of each value, 5 sigma
    for axis in (0, 1):
        counts = torch.bincount(offsets[:, axis], minlength=2 * PAD + 1).numpy()
        assert np.all(np.abs(counts - n * p) < bound), counts
    # the two coordinates are independent: every one of the 81 corners occurs ~ n / 81 times
    pairs = torch.bincount(offsets[:, 0] * (2 * PAD + 1) + offsets[:, 1]).numpy()
    q = p * p
    assert np.all(np.abs(pairs - n * q) < 5 * np.sqrt(n * q * (1 - q)))
    assert abs(int(flips.sum()) - n / 2) < 5 * np.sqrt(n / 4)
    _, none = draw_augmentation(10, PAD, False, augmentation_generator(torch.device("cpu"), 7))
    assert not none.any()


def test_crop_flip_batches_every_example_at_its_own_draw() -> None:
    images = _images(3)
    offsets = torch.tensor([[1, 2], [0, 0], [8, 3]])
    flips = torch.tensor([True, False, True])
    batch = crop_flip(images, PAD, offsets, flips)
    for b in range(3):
        alone = crop_flip(images[b:b + 1], PAD, offsets[b:b + 1], flips[b:b + 1])
        assert torch.equal(batch[b:b + 1], alone)
    centre = crop_flip(images, PAD, torch.full((3, 2), PAD), torch.zeros(3, dtype=torch.bool))
    assert torch.equal(centre, images)


@pytest.mark.parametrize("world_size", [1, 2])
def test_epoch_covers_every_index_once_in_the_torchvision_order(world_size: int) -> None:
    n = 37
    data = DeviceImages(_images(n), torch.arange(n), CIFAR_MEAN, CIFAR_STD, pad=PAD, flip=True)
    seen = []
    for rank in range(world_size):
        batches = Batches(data, 5, seed=3, drop_last=False, rank=rank, world_size=world_size)
        labels = torch.cat([y for _, y in batches.epoch(2)])
        assert torch.equal(labels, epoch_permutation(n, 3, 2)[rank::world_size])
        seen.append(labels)
    assert sorted(torch.cat(seen).tolist()) == list(range(n))


def test_every_process_count_sees_the_same_crops() -> None:
    data = DeviceImages(_images(40), torch.arange(40), CIFAR_MEAN, CIFAR_STD, pad=PAD, flip=True)

    def by_example(world_size: int) -> torch.Tensor:
        out = torch.empty(40, 3, 32, 32)
        for rank in range(world_size):
            for x, y in Batches(data, 4, seed=2, rank=rank, world_size=world_size).epoch(3):
                out[y] = x
        return out

    assert torch.equal(by_example(1), by_example(2))


def test_same_seed_same_batches_and_restarts_mid_epoch() -> None:
    data = DeviceImages(_images(40), torch.arange(40), CIFAR_MEAN, CIFAR_STD, pad=PAD, flip=True)
    first = list(Batches(data, 8, seed=1).epoch(0))
    again = list(Batches(data, 8, seed=1).epoch(0))
    resumed = list(Batches(data, 8, seed=1).epoch(0, start_batch=3))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first, again, strict=True))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first[3:], resumed, strict=True))
    other_epoch = torch.cat([x for x, _ in Batches(data, 8, seed=1).epoch(1)])
    order0, order1 = epoch_permutation(40, 1, 0), epoch_permutation(40, 1, 1)
    x0 = torch.cat([x for x, _ in first])[torch.argsort(order0)]
    x1 = other_epoch[torch.argsort(order1)]
    assert not torch.equal(x0, x1)  # new crops/flips of the same images in a new epoch
    # the documented stream: one draw per permutation position from the (seed, epoch) generator
    offsets, flips = draw_augmentation(40, PAD, True, augmentation_generator(
        torch.device("cpu"), order_seed(1, 1)))
    expected, _ = data.batch(order1[:8], offsets[:8], flips[:8])
    assert torch.equal(other_epoch[:8], expected)


def test_cifar_splits_on_device_match_the_torchvision_splits(disk_formats: Any,
                                                             tmp_path: Path) -> None:
    disk_formats.write_cifar(tmp_path, per_batch=6)  # 30 training, 6 test images
    val_size = 7
    train = get_dataset("cifar10", tmp_path, "train", val_size=val_size, on_device=True)
    val = get_dataset("cifar10", tmp_path, "val", val_size=val_size, on_device=True)
    test = get_dataset("cifar10", tmp_path, "test", val_size=val_size, on_device=True)
    assert isinstance(train, DeviceImages) and train.augmented and (train.pad, train.flip) == (4,
                                                                                              True)
    assert not val.augmented and not test.augmented
    keep, held = validation_indices(30, val_size, 0)
    assert len(train) == len(keep) and len(val) == len(held)
    for split, ours in (("val", val), ("test", test)):
        reference = get_dataset("cifar10", tmp_path, split, val_size=val_size)
        expected = torch.stack([reference[i][0] for i in range(len(reference))])
        labels = torch.tensor([reference[i][1] for i in range(len(reference))])
        x, y = ours.batch(torch.arange(len(ours)))
        assert torch.equal(x, expected) and torch.equal(y, labels)
    plain = get_dataset("cifar10", tmp_path, "train", val_size=val_size, augment=False)
    assert train.labels.tolist() == [plain[i][1] for i in range(len(plain))]
    unaugmented = get_dataset("cifar10", tmp_path, "train", val_size=val_size, augment=False,
                              on_device=True)
    assert not unaugmented.augmented


def test_mnist_on_device_equals_torchvision(disk_formats: Any, tmp_path: Path) -> None:
    disk_formats.write_mnist(tmp_path)
    ours = get_dataset("mnist", tmp_path, "test", on_device=True)
    reference = get_dataset("mnist", tmp_path, "test")
    assert isinstance(ours, DeviceImages) and not ours.augmented
    x, _ = ours.batch(torch.arange(len(ours)))
    assert torch.equal(x, torch.stack([reference[i][0] for i in range(len(reference))]))


def test_data_on_device_setting() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda", 0)
    assert use_device_data("auto", "cifar10", cuda) and not use_device_data("auto", "cifar10", cpu)
    assert use_device_data("on", "mnist", cpu) and not use_device_data("off", "cifar10", cuda)
    assert not use_device_data("on", "imagenet", cuda)
    with pytest.raises(ValueError, match="data_on_device"):
        RuntimeConfig(data_on_device="yes")


def test_train_cifar_with_device_data_end_to_end(disk_formats: Any, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    disk_formats.write_cifar(tmp_path / "data", per_batch=8)
    argv = ["train", "dense", "--model", "conv2", "--width-mult", "0.125", "--dataset",
            "cifar10", "--data-dir", str(tmp_path / "data"), "--batch-size", "8", "--epochs",
            "1", "--data-on-device", "on", "--device", "cpu", "--threads", "1",
            "--runs-dir", str(tmp_path / "runs"), "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["steps"] == 5 and result["reused"] is False
    recorded = json.loads((Path(result["run_dir"]) / "hparams.json").read_text())
    assert recorded["runtime"]["data_on_device"] is True
    with pytest.raises(SystemExit) as exit_:
        main([*argv[:-5], "--data-on-device", "sometimes"])
    assert exit_.value.code == 2
    assert "--data-on-device" in capsys.readouterr().err
