"""The plain convolutional networks as data: one :class:`ConvSpec` per model name.

Conv-2/4/6/8, VGG-Small and its released MPT layouts, and the open_lth VGG-11/13/16/19 (their
papers: :mod:`empirical.models.convnets`, which builds them). The table imports no torch: the
model registry (:mod:`empirical.models.registry`) lists the names for the command line without
loading torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ConvSpec:
    """Shape of a :class:`~empirical.models.convnets.ConvNet`.

    Attributes
    ----------
    stages
        Output channels of the 3x3 convolutions of each stage; every stage ends in a 2x2 pool.
    head
        Hidden widths of the fully connected head (empty: one linear layer to the classes).
    pool_before_norm
        Unit order ``conv -> [pool] -> BN -> act`` (MPT / binary networks) if True, else
        ``conv -> BN -> act -> [pool]`` (open_lth VGG).
    last_pool
        ``"max"`` or ``"avg"``: the pool closing the last stage (open_lth VGG averages).
    own_bias
        Whether the architecture's convolutions and linear layers have biases (open_lth VGG).
    norm_family
        Family of the BatchNorm default rule, see :func:`empirical.models.registry.default_norm`.
    norm_at
        ``"every"``: a BatchNorm (identity when the model has none) after every convolution;
        ``"pool"``: only after the convolution closing a stage (released MPT VGG-Small).
    relu_at
        Indices (over all convolutions, from 0) of the convolutions followed by a ReLU in the
        real-valued network; None: every convolution. With binary activations every convolution
        is followed by a sign, whatever this says.
    relu_last
        The activation after the last convolution is a ReLU even with binary activations
        (released MPT VGG-Small variants feed ReLU(BN(.)) to the classifier).
    """

    stages: tuple[tuple[int, ...], ...]
    head: tuple[int, ...]
    pool_before_norm: bool = True
    last_pool: str = "max"
    own_bias: bool = False
    norm_family: str = "plain"
    norm_at: str = "every"
    relu_at: tuple[int, ...] | None = None
    relu_last: bool = False

    def __post_init__(self) -> None:
        if self.norm_at not in ("every", "pool"):
            raise ValueError(f"norm_at must be 'every' or 'pool', got {self.norm_at!r}")


def _conv_n(n_stages: int) -> ConvSpec:
    """Conv-``2 n_stages``: stages of two convs with channels 64, 128, 256, 512; head 256-256."""
    return ConvSpec(tuple((64 * 2**i,) * 2 for i in range(n_stages)), (256, 256))


def _vgg(plan: Sequence[Sequence[int]]) -> ConvSpec:
    """open_lth CIFAR VGG from its per-stage channel plan."""
    return ConvSpec(tuple(tuple(s) for s in plan), (), pool_before_norm=False, last_pool="avg",
                    own_bias=True, norm_family="batchnorm")


_VGG_SMALL = ((128, 128), (256, 256), (512, 512))

CONV_SPECS: dict[str, ConvSpec] = {
    **{f"conv{2 * n}": _conv_n(n) for n in (1, 2, 3, 4)},
    "vgg-small": ConvSpec(_VGG_SMALL, (), norm_family="vgg-small"),
    "vgg-small-mpt": ConvSpec(_VGG_SMALL, (), norm_family="vgg-small", norm_at="pool",
                              relu_at=(0, 5), relu_last=True),
    "wide-vgg-small": ConvSpec(((16, 16), (32, 32), (64, 64)), (), norm_family="vgg-small",
                               relu_last=True),
    "vgg11": _vgg([[64], [128], [256] * 2, [512] * 2, [512] * 2]),
    "vgg13": _vgg([[64] * 2, [128] * 2, [256] * 2, [512] * 2, [512] * 2]),
    "vgg16": _vgg([[64] * 2, [128] * 2, [256] * 3, [512] * 3, [512] * 3]),
    "vgg19": _vgg([[64] * 2, [128] * 2, [256] * 4, [512] * 4, [512] * 4]),
}
