"""Device-resident image datasets: uint8 images on the training device, augmented there in batches.

A :class:`DeviceImages` holds a whole split (CIFAR-10: 50,000 x 3 x 32 x 32 uint8 = 147 MiB;
MNIST: 45 MiB) as one tensor on the device. A batch is gathered by index and, for the training
split, randomly cropped and flipped with one batched gather (no per-sample Python), then scaled
and normalised: ``x = (u / 255 - mean_c) / std_c``, the operations of torchvision's ``ToTensor``
followed by ``Normalize`` in the same order, so the float result is bit-identical for the same
crop and flip.

Augmentation (the distribution of torchvision's ``RandomCrop(32, padding=4)`` then
``RandomHorizontalFlip()`` on CIFAR-10): the image is zero-padded by ``pad`` pixels on every side
(torchvision's default ``fill=0``, ``padding_mode="constant"``), the crop's top-left corner
``(i, j)`` is uniform on ``{0, ..., 2 pad}^2`` and the crop is mirrored left-right with
probability 1/2, independently per example. The draws of epoch ``e`` come from
:func:`augmentation_generator` (a ``torch.Generator`` on the device seeded by the run's seed and
``e``), one ``(i, j, flip)`` per position of the epoch's permutation, so the same seed on the same
device type gives the same batches, also when training restarts mid-epoch. The exact crops differ
from the torchvision path's (whose draws come from torch's global CPU generator in the loader
workers) while the batch order and the distribution are the same.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import torch
from torch.nn import functional as F

#: Added to the order seed ``seed * 1_000_003 + epoch`` so that the augmentation stream of an
#: epoch never shares its seed with the data order of a nearby epoch.
AUGMENT_SEED_SALT = 0x5EED << 40


def augmentation_generator(device: torch.device, order_seed: int) -> torch.Generator:
    """The generator of one epoch's crops and flips, on ``device``.

    ``order_seed`` is the seed of the epoch's data order, ``seed * 1_000_003 + epoch``
    (:func:`empirical.data.epoch_permutation`); the generator is seeded with
    ``order_seed + AUGMENT_SEED_SALT``, a pure function of (seed, epoch) too.
    """
    return torch.Generator(device=device).manual_seed(order_seed + AUGMENT_SEED_SALT)


def draw_augmentation(n: int, pad: int, flip: bool, generator: torch.Generator
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` crop corners uniform on ``{0..2 pad}^2`` and ``n`` flips of probability 1/2 (or none).

    Returns
    -------
    offsets : Tensor
        ``(n, 2)`` int64, row and column of each crop's top-left corner in the padded image.
    flips : Tensor
        ``(n,)`` bool, True where the crop is mirrored left-right.
    """
    device = generator.device
    offsets = torch.randint(0, 2 * pad + 1, (n, 2), generator=generator, device=device)
    flips = (torch.randint(0, 2, (n,), generator=generator, device=device).bool() if flip
             else torch.zeros(n, dtype=torch.bool, device=device))
    return offsets, flips


def crop_flip(images: torch.Tensor, pad: int, offsets: torch.Tensor, flips: torch.Tensor
              ) -> torch.Tensor:
    """Zero-pad a batch by ``pad``, crop each image at its offset and mirror the flipped ones.

    ``out[b, c, r, s] = padded[b, c, i_b + r, j_b + s']`` with ``s' = W - 1 - s`` where
    ``flips[b]``, else ``s' = s``: torchvision's ``crop`` at ``(i_b, j_b)`` followed by
    ``hflip``, for the whole batch in one gather.

    Parameters
    ----------
    images
        ``(B, C, H, W)`` batch (any dtype).
    pad
        Padding on every side.
    offsets
        ``(B, 2)`` crop corners in ``[0, 2 pad]``.
    flips
        ``(B,)`` bool.

    Returns
    -------
    Tensor
        ``(B, C, H, W)``, the dtype of ``images``.
    """
    b, c, h, w = images.shape
    padded = F.pad(images, (pad, pad, pad, pad)) if pad else images
    device = images.device
    rows = offsets[:, :1] + torch.arange(h, device=device)
    forward = torch.arange(w, device=device)
    cols = offsets[:, 1:] + torch.where(flips[:, None], forward.flip(0), forward)
    return padded[torch.arange(b, device=device)[:, None, None, None],
                  torch.arange(c, device=device)[None, :, None, None],
                  rows[:, None, :, None], cols[:, None, None, :]]


def normalise(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """``(u / 255 - mean) / std`` in float32: torchvision's ``ToTensor`` then ``Normalize``."""
    return images.to(torch.float32).div(255).sub(mean).div(std)


@dataclass(frozen=True)
class DeviceImages:
    """One split of an image dataset as uint8 tensors, with its normalisation and augmentation.

    Attributes
    ----------
    images
        ``(N, C, H, W)`` uint8.
    labels
        ``(N,)`` int64.
    mean, std
        Per-channel normalisation of the [0, 1]-scaled pixels.
    pad
        Crop padding (0: no random crop).
    flip
        Random horizontal flips.
    """

    images: torch.Tensor
    labels: torch.Tensor
    mean: tuple[float, ...]
    std: tuple[float, ...]
    pad: int = 0
    flip: bool = False

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"DeviceImages needs (N, C, H, W) uint8 images, got "
                             f"{tuple(self.images.shape)} {self.images.dtype}")
        if len(self.labels) != len(self.images):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")
        if self.pad < 0:
            raise ValueError(f"crop padding must be >= 0, got {self.pad}")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def augmented(self) -> bool:
        """True when batches are randomly cropped or flipped."""
        return self.pad > 0 or self.flip

    @property
    def device(self) -> torch.device:
        """Where the tensors live."""
        return self.images.device

    def to(self, device: torch.device | str) -> DeviceImages:
        """The same split with its tensors on ``device``."""
        return dataclasses.replace(self, images=self.images.to(device),
                                   labels=self.labels.to(device))

    def subset(self, indices: torch.Tensor, augment: bool = True) -> DeviceImages:
        """The examples ``indices`` (in that order); without ``augment`` no crop or flip."""
        indices = indices.to(self.device)
        chosen = dataclasses.replace(self, images=self.images[indices],
                                     labels=self.labels[indices])
        return chosen if augment else dataclasses.replace(chosen, pad=0, flip=False)

    def batch(self, indices: torch.Tensor, offsets: torch.Tensor | None = None,
              flips: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised float32 images and labels of ``indices``, cropped/flipped when given."""
        images = self.images[indices]
        if offsets is not None and flips is not None:
            images = crop_flip(images, self.pad, offsets, flips)
        mean, std = self._normalisation
        return normalise(images, mean, std), self.labels[indices]

    @functools.cached_property
    def _normalisation(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``mean`` and ``std`` as (1, C, 1, 1) tensors on the device, made once (no copy to the
        device per batch)."""
        shape = (1, -1, 1, 1)
        return (torch.tensor(self.mean, device=self.device).view(shape),
                torch.tensor(self.std, device=self.device).view(shape))
