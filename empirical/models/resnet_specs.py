"""The residual networks as data: one :class:`ResNetSpec` per model name.

ResNet-20/32/44/56/110 (CIFAR), ResNet-18/34/50/101 and Wide ResNet-50-2 (their papers:
:mod:`empirical.models.resnets`, which builds them). The table imports no torch: the model
registry (:mod:`empirical.models.registry`) lists the names for the command line without loading
torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from empirical.models.common import BuildOptions

BOTTLENECK_EXPANSION = 4


@dataclass(frozen=True)
class ResNetSpec:
    """Shape of a :class:`~empirical.models.resnets.ResNet`.

    Attributes
    ----------
    widths
        Base width of each stage (the stem has the first one).
    blocks
        Number of blocks per stage.
    bottleneck
        Bottleneck blocks (1x1, 3x3, 1x1 with ``BOTTLENECK_EXPANSION``) instead of basic ones.
    inner_factor
        Multiplier of the bottleneck's inner width (2 for Wide ResNet-50-2).
    cifar
        Always the CIFAR stem (ResNet-20/32/44/56/110).
    """

    widths: tuple[int, ...]
    blocks: tuple[int, ...]
    bottleneck: bool = False
    inner_factor: int = 1
    cifar: bool = False

    def plan(self, base: int, opts: BuildOptions) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """``(widths, kernels)`` of one block's main path for stage base width ``base``."""
        if self.bottleneck:
            inner = opts.width(base * self.inner_factor)
            return (inner, inner, opts.width(base * BOTTLENECK_EXPANSION)), (1, 3, 1)
        return (opts.width(base),) * 2, (3, 3)


RESNET_SPECS: dict[str, ResNetSpec] = {
    **{f"resnet{d}": ResNetSpec((16, 32, 64), ((d - 2) // 6,) * 3, cifar=True)
       for d in (20, 32, 44, 56, 110)},
    "resnet18": ResNetSpec((64, 128, 256, 512), (2, 2, 2, 2)),
    "resnet34": ResNetSpec((64, 128, 256, 512), (3, 4, 6, 3)),
    "resnet50": ResNetSpec((64, 128, 256, 512), (3, 4, 6, 3), bottleneck=True),
    "resnet101": ResNetSpec((64, 128, 256, 512), (3, 4, 23, 3), bottleneck=True),
    "wrn50-2": ResNetSpec((64, 128, 256, 512), (3, 4, 6, 3), bottleneck=True, inner_factor=2),
}
