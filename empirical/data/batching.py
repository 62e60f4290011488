"""Seeded batching, restartable at any (epoch, batch).

The order of epoch ``e`` is ``randperm(n)`` drawn from a generator seeded with
``seed * 1_000_003 + e``: a pure function of (seed, epoch), so training can start at any step ``k``
(epoch ``k // steps_per_epoch``, skipping ``k % steps_per_epoch`` batches) and see exactly the
batches an uninterrupted run would. With ``world_size`` processes, rank ``r`` takes every
``world_size``-th example of the (padded) permutation, as ``DistributedSampler`` does.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Sampler, TensorDataset

from empirical.device_data import DeviceImages, augmentation_generator, draw_augmentation

ORDER_SEED_STRIDE = 1_000_003


def order_seed(seed: int, epoch: int) -> int:
    """The seed of epoch ``epoch``'s data order: ``seed * 1_000_003 + epoch``."""
    return seed * ORDER_SEED_STRIDE + epoch


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The order of epoch ``epoch``: ``randperm(n)`` seeded by ``seed * 1_000_003 + epoch``."""
    generator = torch.Generator().manual_seed(order_seed(seed, epoch))
    return torch.randperm(n, generator=generator)


def shard(order: torch.Tensor, rank: int, world_size: int, pad: bool = True) -> torch.Tensor:
    """Rank ``rank``'s share: every ``world_size``-th entry of ``order``.

    With ``pad`` (training) ``order`` is first padded cyclically to a multiple of ``world_size``
    so that every rank takes the same number of steps; without it (evaluation) every example is
    counted exactly once.
    """
    if world_size == 1 or not pad:
        return order[rank::world_size]
    total = math.ceil(len(order) / world_size) * world_size
    padded = torch.cat([order, order[: total - len(order)]])
    return padded[rank::world_size]


class EpochSampler(Sampler[int]):
    """Indices of one epoch in the (seed, epoch) order, this rank's shard, from a given batch."""

    def __init__(self, n: int, seed: int, batch_size: int, rank: int = 0, world_size: int = 1,
                 pad: bool = True) -> None:
        self.n, self.seed, self.batch_size, self.pad = n, seed, batch_size, pad
        self.rank, self.world_size = rank, world_size
        self.epoch, self.skip_batches = 0, 0

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        """Select the epoch and how many of its batches to skip (resuming mid-epoch)."""
        self.epoch, self.skip_batches = epoch, skip_batches

    def _indices(self) -> torch.Tensor:
        order = shard(epoch_permutation(self.n, self.seed, self.epoch), self.rank,
                      self.world_size, self.pad)
        return order[self.skip_batches * self.batch_size:]

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices().tolist())

    def __len__(self) -> int:
        return len(self._indices())


class Batches:
    """Seeded mini-batches of a dataset, restartable at any (epoch, batch).

    In-memory ``TensorDataset``s are sliced directly on the target device (no per-sample
    DataLoader); :class:`DeviceImages` are moved to the device once and each batch is gathered,
    cropped, flipped (draws of :func:`empirical.device_data.augmentation_generator` for every
    position of the epoch's permutation, sharded like it) and normalised there; other datasets
    go through a ``DataLoader`` with pinned memory and persistent workers. The last incomplete
    batch is dropped when training (``drop_last``).

    Parameters
    ----------
    dataset
        The dataset to batch.
    batch_size
        Batch size per process.
    seed
        Seed of the data order (see :func:`epoch_permutation`); ``None``: sequential order.
    device
        Where in-memory tensors live.
    drop_last
        Drop the last incomplete batch.
    rank, world_size
        This process's shard (distributed training).
    num_workers
        DataLoader workers for map-style datasets.
    """

    def __init__(self, dataset: Dataset | DeviceImages, batch_size: int, seed: int | None,
                 device: torch.device | str = "cpu", drop_last: bool = True, rank: int = 0,
                 world_size: int = 1, num_workers: int = 0) -> None:
        self.dataset, self.batch_size, self.seed = dataset, batch_size, seed
        self.device = torch.device(device)
        self.drop_last = drop_last
        self.rank, self.world_size = rank, world_size
        n = len(dataset)  # type: ignore[arg-type]
        if n == 0:
            raise ValueError("cannot batch an empty dataset")
        per_rank = math.ceil(n / world_size)
        rounding = math.floor if drop_last else math.ceil
        self.steps_per_epoch = rounding(per_rank / batch_size)
        if self.steps_per_epoch == 0:
            raise ValueError(f"batch size {batch_size} exceeds the {per_rank} examples per process")
        self._tensors = None
        self._images: DeviceImages | None = None
        self._loader = None
        if isinstance(dataset, DeviceImages):
            self._images = dataset.to(self.device)
        elif isinstance(dataset, TensorDataset):
            self._tensors = tuple(t.to(self.device) for t in dataset.tensors)
        else:
            self._sampler = EpochSampler(n, seed or 0, batch_size, rank, world_size, drop_last)
            self._loader = DataLoader(
                dataset, batch_size=batch_size, sampler=self._sampler, num_workers=num_workers,
                pin_memory=self.device.type == "cuda", persistent_workers=num_workers > 0,
                drop_last=drop_last)

    def __len__(self) -> int:
        return self.steps_per_epoch

    @property
    def on_device(self) -> bool:
        """True when the whole dataset lives on the device (tensors or :class:`DeviceImages`)."""
        return self._loader is None

    def _order(self, epoch: int) -> torch.Tensor:
        n = len(self.dataset)  # type: ignore[arg-type]
        order = torch.arange(n) if self.seed is None else epoch_permutation(n, self.seed, epoch)
        return shard(order, self.rank, self.world_size, self.drop_last)

    def epoch(self, epoch: int, start_batch: int = 0
              ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield the batches ``start_batch, ...`` of epoch ``epoch`` as (x, y) on the device."""
        if self._images is not None:
            yield from self._image_batches(self._images, epoch, start_batch)
            return
        if self._tensors is not None:
            order = self._order(epoch).to(self.device)
            for b in range(start_batch, self.steps_per_epoch):
                idx = order[b * self.batch_size:(b + 1) * self.batch_size]
                if idx.shape[0] == 0:  # an evaluation shard one example shorter than the others
                    return
                yield self._tensors[0][idx], self._tensors[1][idx]
            return
        self._sampler.set_epoch(epoch, start_batch)
        for x, y in self._loader:  # type: ignore[union-attr]
            yield (x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True))

    def _image_batches(self, images: DeviceImages, epoch: int, start_batch: int
                       ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self._order(epoch).to(self.device)
        offsets = flips = None
        if images.augmented:
            n = len(images)
            generator = augmentation_generator(self.device, order_seed(self.seed or 0, epoch))
            all_offsets, all_flips = draw_augmentation(n, images.pad, images.flip, generator)
            positions = shard(torch.arange(n), self.rank, self.world_size, self.drop_last)
            positions = positions.to(self.device)
            offsets, flips = all_offsets[positions], all_flips[positions]
        for b in range(start_batch, self.steps_per_epoch):
            part = slice(b * self.batch_size, (b + 1) * self.batch_size)
            idx = order[part]
            if len(idx) == 0:
                return
            if offsets is None:
                yield images.batch(idx)
            else:
                yield images.batch(idx, offsets[part], flips[part])
