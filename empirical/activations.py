"""Binary sign activation with the Bi-Real straight-through gradient (MPT-1/1 networks).

Forward: ``sign(x)`` in ``{-1, +1}``, with ``sign(0) = +1`` (so the output is always binary).
Backward (Liu et al., "Bi-Real Net", ECCV 2018, the piecewise-quadratic approximation of sign):
``dL/dx = dL/dy * 2 (1 - |x|)`` for ``|x| < 1`` and ``0`` otherwise.
Used by Diffenderfer & Kailkhura (ICLR 2021) for the fully binary multi-prize tickets.
"""

from __future__ import annotations

import torch
from torch import nn


class BiRealSign(torch.autograd.Function):
    """``sign(x)`` (``+1`` at 0) forward, Bi-Real gradient ``2 (1 - |x|) 1[|x| < 1]`` backward."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor) -> torch.Tensor:
        """Binary output ``+1`` where ``x >= 0``, ``-1`` elsewhere."""
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        """``grad * 2 (1 - |x|)`` inside ``|x| < 1``, zero outside."""
        (x,) = ctx.saved_tensors
        return grad * (2.0 * (1.0 - x.abs())).clamp_min(0.0)


def binary_sign(x: torch.Tensor) -> torch.Tensor:
    """Apply :class:`BiRealSign` to ``x``.

    Parameters
    ----------
    x
        Pre-activations.

    Returns
    -------
    torch.Tensor
        ``sign(x)`` in ``{-1, +1}`` with the Bi-Real straight-through gradient.
    """
    return BiRealSign.apply(x)


class BinaryActivation(nn.Module):
    """Module form of :func:`binary_sign` (drop-in replacement for ``nn.ReLU``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``sign(x)`` with the Bi-Real gradient."""
        return binary_sign(x)
