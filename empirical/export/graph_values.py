"""The values the packed engine's graph interpreter passes between nodes, and its tracer.

:class:`LeafTracer` traces a frozen ticket with factory layers, signs and standard modules as
single nodes; the interpreter (:class:`empirical.export.engine.PackedNetwork`) holds, per node, a
real tensor, :class:`Bits` (a batch-sliced binary map), :class:`OnGrid` (a real input that may lie
on the dataset's pixel grid) or :class:`Pending` (a layer and the BatchNorms, max-pools and
shortcut after it, not computed yet).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import fx, nn

from empirical.activations import BinaryActivation
from empirical.export.frozen import Sign
from empirical.layers import FactoryLayer


class LeafTracer(fx.Tracer):
    """Traces through containers and blocks; factory layers and signs stay single nodes."""

    def is_leaf_module(self, m: nn.Module, qualified_name: str) -> bool:
        return isinstance(m, FactoryLayer | BinaryActivation | Sign) or super().is_leaf_module(
            m, qualified_name)


@dataclass
class Bits:
    """A +-1 map of ``batch`` samples, batch-sliced: ``words`` ``(H, C, W, nw)`` (flat: ``(F, nw)``,
    with ``layout = (H, C, W)`` when it is a flattened map, rows in ``(h, c, w)`` order)."""

    words: np.ndarray
    batch: int
    one_d: bool = False
    layout: tuple[int, int, int] | None = None


@dataclass
class OnGrid:
    """A real input batch ``x`` that may lie on the dataset's pixel grid (checked by the first
    layer that reads it), with the grid channel of each element of one sample."""

    x: torch.Tensor
    channels: np.ndarray


@dataclass
class Pending:
    """``layer(source)`` followed by ``steps`` (BatchNorm modules and max-pools), plus
    ``residual`` (identity shortcut bits, or another pending layer), not computed."""

    name: str
    source: Bits | torch.Tensor | OnGrid
    steps: list[nn.Module] = field(default_factory=list)
    residual: Bits | Pending | None = None
