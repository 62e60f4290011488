"""The datasets read from ``--data-dir`` (never downloaded): MNIST, CIFAR-10 and ImageNet.

Layouts (torchvision's):

- ``mnist``: ``MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` through torchvision's
  ``MNIST``;
- ``cifar10``: the python pickled batches ``cifar-10-batches-py/{data_batch_1..5,test_batch,
  batches.meta}`` through :class:`empirical.data.cifar.CifarBatches` (torchvision's ``CIFAR10``
  reads the same files but insists on its md5 check);
- ``imagenet``: ``imagenet/{train,val}/<class>/<image>`` through torchvision's ``ImageFolder``.

Transforms are torchvision's ``ToTensor`` then ``Normalize`` with the constants below; the training
split adds CIFAR-10's ``RandomCrop(32, padding=4)`` + flip and ImageNet's ``RandomResizedCrop(224)``
+ flip (evaluation: ``Resize(256)``, ``CenterCrop(224)``). torch and torchvision are imported only
when a file is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from empirical.data.registry import (
    DatasetSpec,
    OnDevice,
    OnDisk,
    Pixels,
    register_dataset,
    require_dir,
)

MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
CIFAR_MEAN = (0.491, 0.482, 0.447)
CIFAR_STD = (0.247, 0.243, 0.262)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CIFAR_CROP_PADDING = 4
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST = ("test_batch",)

MNIST_LAYOUT = "MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte"
CIFAR_LAYOUT = f"{CIFAR_FOLDER}/{{data_batch_1..5,test_batch,batches.meta}}"
IMAGENET_LAYOUT = "imagenet/{train,val}/<class>/<image>"


def _normalised(mean: tuple[float, ...], std: tuple[float, ...], augment: list[Any]) -> Any:
    from torchvision import transforms as T

    return T.Compose([*augment, T.ToTensor(), T.Normalize(mean, std)])


# --- MNIST ------------------------------------------------------------------------------------
def _check_mnist(root: Path) -> None:
    require_dir(root / "MNIST" / "raw", f"{root}/{MNIST_LAYOUT}")


def _load_mnist(root: Path, train: bool, transform: Any) -> Any:
    from torchvision.datasets import MNIST

    try:
        return MNIST(str(root), train=train, transform=transform, download=False)
    except RuntimeError as err:
        raise FileNotFoundError(f"MNIST files missing under {root}/MNIST/raw: {err}") from None


def _mnist_transforms(augment: bool) -> Any:
    return _normalised(MNIST_MEAN, MNIST_STD, [])


# --- CIFAR-10 ---------------------------------------------------------------------------------
def check_cifar(root: Path) -> None:
    """``FileNotFoundError`` unless the CIFAR-10 folder and its six batch files exist."""
    folder = root / CIFAR_FOLDER
    require_dir(folder, f"{root}/{CIFAR_LAYOUT}")
    for file in (*CIFAR_TRAIN, *CIFAR_TEST):
        if not (folder / file).is_file():
            raise FileNotFoundError(f"CIFAR-10 file {folder / file} not found; expected "
                                    f"{root}/{CIFAR_LAYOUT}")


def _load_cifar(root: Path, train: bool, transform: Any) -> Any:
    from empirical.data.cifar import CifarBatches

    check_cifar(root)
    return CifarBatches([root / CIFAR_FOLDER / name for name in
                         (CIFAR_TRAIN if train else CIFAR_TEST)], transform)


def _cifar_transforms(augment: bool) -> Any:
    from torchvision import transforms as T

    crop = [T.RandomCrop(32, padding=CIFAR_CROP_PADDING), T.RandomHorizontalFlip()]
    return _normalised(CIFAR_MEAN, CIFAR_STD, crop if augment else [])


def _cifar_images(dataset: Any) -> Any:
    import torch

    return torch.from_numpy(dataset.data).permute(0, 3, 1, 2)


# --- ImageNet ---------------------------------------------------------------------------------
def _check_imagenet(root: Path) -> None:
    for split in ("train", "val"):
        require_dir(root / "imagenet" / split, f"{root}/{IMAGENET_LAYOUT}")


def _load_imagenet(root: Path, train: bool, transform: Any) -> Any:
    from torchvision.datasets import ImageFolder

    return ImageFolder(str(root / "imagenet" / ("train" if train else "val")), transform=transform)


def _imagenet_transforms(augment: bool) -> Any:
    from torchvision import transforms as T

    crop = ([T.RandomResizedCrop(224), T.RandomHorizontalFlip()] if augment
            else [T.Resize(256), T.CenterCrop(224)])
    return _normalised(IMAGENET_MEAN, IMAGENET_STD, crop)


#: The normalisation of the disk datasets' pixels, in words (their specs' ``test_split``).
NORMALISED = ("then normalised in float32 per channel: u / 255 (float32), minus mean_c, divided "
              "by std_c")
register_dataset(DatasetSpec(
    "mnist", (1, 28, 28), 10,
    OnDisk(MNIST_LAYOUT, _check_mnist, _load_mnist, _mnist_transforms,
           OnDevice(lambda dataset: dataset.data.unsqueeze(1))),
    pixels=Pixels(MNIST_MEAN, MNIST_STD, 255),
    summary="torchvision MNIST from its idx files; the 60,000 training / 10,000 test images",
    test_split="the 10,000 images of t10k-images-idx3-ubyte in file order, pixels u in 0..255, "
               + NORMALISED))
register_dataset(DatasetSpec(
    "cifar10", (3, 32, 32), 10,
    OnDisk(CIFAR_LAYOUT, check_cifar, _load_cifar, _cifar_transforms,
           OnDevice(_cifar_images, pad=CIFAR_CROP_PADDING, flip=True)),
    pixels=Pixels(CIFAR_MEAN, CIFAR_STD, 255),
    summary="CIFAR-10 from its python batches; 50,000 training / 10,000 test images",
    test_split="the 10,000 images of cifar-10-batches-py/test_batch in file order, channels R, "
               "G, B, pixels u in 0..255, " + NORMALISED))
register_dataset(DatasetSpec(
    "imagenet", (3, 224, 224), 1000,
    OnDisk(IMAGENET_LAYOUT, _check_imagenet, _load_imagenet, _imagenet_transforms),
    pixels=Pixels(IMAGENET_MEAN, IMAGENET_STD, 255),
    summary="ImageNet as class folders; train / val (the val images are the test split)",
    test_split="torchvision ImageFolder over imagenet/val/<class>/<image> (classes and files "
               "sorted by name), each image resized (bilinear) to 256 on its shorter side and "
               "centre-cropped to 224 x 224, " + NORMALISED))
