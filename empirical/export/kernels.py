"""Bit-packed inference of biprop tickets (weights in ``{-alpha, 0, +alpha}``, one gain per layer).

Two kernels replace a frozen ticket's factory layers (:func:`pack_model`):

- :class:`PopcountLayer` (MPT-1/1, inputs in ``{-1, 0, +1}``): with ``P``/``N`` the bits of the
  positive/negative inputs and ``pos``/``neg`` those of the kept weights of sign +1/-1, an output is

  ``y = alpha (2 a - t)``, ``a = popcount(pos & P) + popcount(neg & N)`` (agreements),
  ``t = popcount((pos | neg) & (P | N))`` (kept weights meeting a non-zero input),

  i.e. AND + popcount on 64-bit words (``numpy.bitwise_count``), which is the XNOR-popcount of
  binary networks (Rastegari et al., XNOR-Net, ECCV 2016) with the mask ANDed in. ``a`` and ``t``
  are exact integers; the only float operation is the product by ``alpha``. Zeros in the input
  are the zero padding of convolutions: ``t`` then depends on the output position only and is
  computed once per input shape. Convolutions pack the channels of every pixel into words and
  gather the ``kh kw`` shifted word planes (unfold on packed words, 32x less memory than a float
  unfold).
- :class:`SignedSumLayer` (MPT-1/32, real inputs, and the real first layer of MPT-1/1):
  ``y_j = alpha (sum_{i in P_j} x_i - sum_{i in N_j} x_i)`` over the kept inputs of sign +1 / -1:
  a product with the ``{-1, 0, +1}`` matrix ``T = sign(W_eff)`` (multiplying by +-1 is exact, so
  it is the signed sum), sparse CSR when the layer keeps at most 10% of its weights (where
  ``torch.sparse.mm`` beats a dense product on the CPU), dense otherwise; then one product by
  ``alpha`` per output.

Both equal the float simulation ``x W_eff^T`` up to the rounding of the float sums (the popcount
kernel is exact, the simulation rounds): logits within float tolerance and the same predictions,
except where two logits tie. Logits after binary activations are multiples of ``alpha``, so exact
ties happen; the simulation's rounding breaks them arbitrarily, the exact kernel by index.
Which kernel a layer gets is found by a probe forward pass on a Gaussian input: a layer whose
input holds only -1, 0, +1 (a sign activation's output, possibly pooled by max or flattened) gets
the popcount kernel.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from empirical.export.bits import pack_rows, words_per_row
from empirical.layers import FactoryConv1d, FactoryConv2d, FactoryLayer

SPARSE_MAX_DENSITY = 0.1
CHUNK_ELEMENTS = 1 << 18


def popcount_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``c[r, o] = sum_w popcount(a[r, w] & b[o, w])`` on 64-bit words, in row chunks.

    Parameters
    ----------
    a
        ``uint64`` array ``(R, W)``.
    b
        ``uint64`` array ``(O, W)``.

    Returns
    -------
    numpy.ndarray
        ``int32`` array ``(R, O)``.
    """
    rows, words = a.shape
    outs = b.shape[0]
    out = np.empty((rows, outs), dtype=np.int32)
    chunk = max(1, CHUNK_ELEMENTS // max(1, outs * words))
    for start in range(0, rows, chunk):
        block = a[start:start + chunk, None, :] & b[None, :, :]
        out[start:start + chunk] = np.bitwise_count(block).sum(axis=-1, dtype=np.int32)
    return out


def ternary_weights(layer: FactoryLayer) -> tuple[torch.Tensor, float]:
    """``(T, alpha)`` with ``W_eff = alpha T``, ``T`` in ``{-1, 0, +1}`` (biprop tickets only)."""
    weight = layer.effective_weight().detach()
    magnitudes = weight.abs()
    alpha = float(magnitudes.max()) if weight.numel() else 0.0
    if not torch.all((magnitudes == 0) | (magnitudes == alpha)):
        raise ValueError("packed kernels need a biprop ticket (weights in {-alpha, 0, +alpha} "
                         "per layer); this layer has other values")
    return torch.sign(weight), alpha


class _Geometry:
    """Kernel, stride and padding of a layer as 2-D (1-D convolutions get height 1)."""

    def __init__(self, layer: FactoryLayer) -> None:
        self.conv = isinstance(layer, FactoryConv1d | FactoryConv2d)
        self.one_d = isinstance(layer, FactoryConv1d)
        if self.conv:
            pad = (0, *layer.padding) if self.one_d else tuple(layer.padding)
            self.kernel = (1, *layer.kernel_size) if self.one_d else tuple(layer.kernel_size)
            self.stride = (1, *layer.stride) if self.one_d else tuple(layer.stride)
            self.padding = pad
            self.dilation = tuple(layer.dilation)
            if any(d != 1 for d in self.dilation) or layer.groups != 1:
                raise ValueError("packed kernels support convolutions without dilation or "
                                 "groups")

    def out_size(self, height: int, width: int) -> tuple[int, int]:
        """Output height and width of the convolution."""
        return tuple((s + 2 * p - k) // st + 1 for s, p, k, st in
                     zip((height, width), self.padding, self.kernel, self.stride, strict=True))


class PopcountLayer(nn.Module):
    """A biprop layer on binary inputs: AND + popcount of packed bits (module docstring).

    Parameters
    ----------
    layer
        A frozen biprop factory layer (linear, conv1d or conv2d).
    """

    def __init__(self, layer: FactoryLayer) -> None:
        super().__init__()
        self.geometry = _Geometry(layer)
        ternary, self.alpha = ternary_weights(layer)
        self.out_features = ternary.shape[0]
        if self.geometry.conv:  # (out, C, kh, kw) -> per tap, the channels packed into words
            taps = ternary.reshape(ternary.shape[0], ternary.shape[1], *self.geometry.kernel)
            taps = taps.permute(0, 2, 3, 1)
            self.channel_words = words_per_row(taps.shape[-1])
            flat = taps.reshape(-1, taps.shape[-1])
            pos = pack_rows((flat > 0).numpy()).reshape(self.out_features, -1)
            neg = pack_rows((flat < 0).numpy()).reshape(self.out_features, -1)
        else:
            pos, neg = pack_rows((ternary > 0).numpy()), pack_rows((ternary < 0).numpy())
        self.both = np.ascontiguousarray(np.concatenate([pos, neg], axis=1))
        self.kept = pos | neg
        self.kept_count = np.bitwise_count(self.kept).sum(axis=1, dtype=np.int32)
        self.in_channels = layer.in_channels if self.geometry.conv else layer.in_features
        self.bias = None if layer.bias is None else layer.bias.detach().clone()
        self._totals: dict[tuple[int, int], np.ndarray] = {}

    def _planes(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of packed ``P`` and ``N`` words for every output position (conv: gathered taps)."""
        if not self.geometry.conv:
            return pack_rows(x > 0), pack_rows(x < 0)
        g = self.geometry
        batch, channels, height, width = x.shape
        pixels = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(-1, channels)
        planes = []
        for bits in (pixels > 0, pixels < 0):
            words = pack_rows(bits).reshape(batch, height, width, -1)
            words = np.pad(words, ((0, 0), (g.padding[0],) * 2, (g.padding[1],) * 2, (0, 0)))
            out_h, out_w = g.out_size(height, width)
            taps = [words[:, i:i + g.stride[0] * (out_h - 1) + 1:g.stride[0],
                          j:j + g.stride[1] * (out_w - 1) + 1:g.stride[1]]
                    for i in range(g.kernel[0]) for j in range(g.kernel[1])]
            planes.append(np.concatenate(taps, axis=-1).reshape(batch * out_h * out_w, -1))
        return planes[0], planes[1]

    def _totals_for(self, height: int, width: int) -> np.ndarray:
        """``t`` per (output position, output) for an input without zeros (zero padding only)."""
        key = (height, width)
        if key not in self._totals:
            ones = np.ones((1, self.in_channels, height, width), dtype=np.float32)
            plus, _ = self._planes(ones)
            self._totals[key] = popcount_matmul(plus, self.kept)
        return self._totals[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``alpha (2 a - t)`` (+ bias), as float32 of the layer's output shape."""
        g = self.geometry
        if g.one_d:
            x = x.unsqueeze(2)
        values = x.detach().float().contiguous().numpy()
        plus, minus = self._planes(values)
        agree = popcount_matmul(np.concatenate([plus, minus], axis=1), self.both)
        if g.conv:
            batch, _, height, width = values.shape
            out_h, out_w = g.out_size(height, width)
            if np.any(values == 0):
                total = popcount_matmul(plus | minus, self.kept)
            else:
                total = np.tile(self._totals_for(height, width), (batch, 1))
        else:
            total = (popcount_matmul(plus | minus, self.kept) if np.any(values == 0)
                     else self.kept_count[None, :])
        y = torch.from_numpy((2 * agree - total).astype(np.float32)) * self.alpha
        if g.conv:
            y = y.reshape(batch, out_h, out_w, -1).permute(0, 3, 1, 2)
            if g.one_d:
                y = y.squeeze(2)
        if self.bias is not None:
            y = y + self.bias.reshape(1, -1, *([1] * (y.dim() - 2)))
        return y.contiguous()


class SignedSumLayer(nn.Module):
    """A biprop layer on real inputs: ``alpha`` times signed sums of kept inputs (module docstring).

    Parameters
    ----------
    layer
        A frozen biprop factory layer (linear, conv1d or conv2d).
    """

    def __init__(self, layer: FactoryLayer) -> None:
        super().__init__()
        self.geometry = _Geometry(layer)
        ternary, self.alpha = ternary_weights(layer)
        matrix = ternary.reshape(ternary.shape[0], -1).contiguous()
        self.density = float((matrix != 0).float().mean()) if matrix.numel() else 0.0
        self.sparse = self.density <= SPARSE_MAX_DENSITY
        with warnings.catch_warnings():  # "sparse CSR support is in beta"
            warnings.simplefilter("ignore", UserWarning)
            self.matrix = matrix.to_sparse_csr() if self.sparse else matrix
        self.bias = None if layer.bias is None else layer.bias.detach().clone()

    def _signed_sums(self, columns: torch.Tensor) -> torch.Tensor:
        """``T x`` for the columns ``(fan_in, m)`` of inputs: ``(out, m)``."""
        if self.sparse:
            return torch.sparse.mm(self.matrix, columns)
        return self.matrix @ columns

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``alpha T x`` (+ bias) of the layer's output shape."""
        g = self.geometry
        x = x.detach().float()
        if not g.conv:
            y = self._signed_sums(x.t().contiguous()).t() * self.alpha
        else:
            if g.one_d:
                x = x.unsqueeze(2)
            batch, _, height, width = x.shape
            out_h, out_w = g.out_size(height, width)
            columns = F.unfold(x, g.kernel, padding=g.padding, stride=g.stride)
            columns = columns.permute(1, 0, 2).reshape(columns.shape[1], -1)
            y = self._signed_sums(columns) * self.alpha
            y = y.reshape(-1, batch, out_h, out_w).permute(1, 0, 2, 3)
            if g.one_d:
                y = y.squeeze(2)
        if self.bias is not None:
            y = y + self.bias.reshape(1, -1, *([1] * (y.dim() - 2)))
        return y.contiguous()


def _ternary_input_layers(model: nn.Module, input_shape: tuple[int, ...]) -> set[str]:
    """Names of the factory layers whose input holds only -1, 0, +1 on a Gaussian probe."""
    found: set[str] = set()
    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, FactoryLayer):
            def probe(_: nn.Module, inputs: tuple[torch.Tensor, ...], name: str = name) -> None:
                x = inputs[0]
                if bool(((x == 1) | (x == -1) | (x == 0)).all()):
                    found.add(name)
            hooks.append(module.register_forward_pre_hook(probe))
    generator = torch.Generator().manual_seed(0)
    try:
        with torch.no_grad():
            model(torch.randn(2, *input_shape, generator=generator))
    finally:
        for hook in hooks:
            hook.remove()
    return found


def pack_model(model: nn.Module, input_shape: tuple[int, ...] | None = None) -> nn.Module:
    """A copy of a frozen biprop ticket whose layers run the packed kernels.

    Parameters
    ----------
    model
        A frozen biprop ticket (:func:`empirical.export.frozen.freeze_`), e.g.
        :func:`empirical.export.ticket_file.load_ticket`'s model.
    input_shape
        Input shape without the batch axis, for the probe pass; default: inferred from the first
        layer (linear: ``(in_features,)``; conv: needs it).

    Returns
    -------
    nn.Module
        A deep copy in eval mode: layers with binary inputs are :class:`PopcountLayer`, the
        others :class:`SignedSumLayer`; BatchNorm, activations and pooling are unchanged.
    """
    packed = copy.deepcopy(model).eval()
    layers = [(n, m) for n, m in packed.named_modules() if isinstance(m, FactoryLayer)]
    if not layers:
        raise ValueError("the model has no factory layers to pack")
    if input_shape is None:
        first = layers[0][1]
        if isinstance(first, FactoryConv1d | FactoryConv2d):
            raise ValueError("give the input shape of a convolutional model")
        input_shape = (first.in_features,)
    binary = _ternary_input_layers(packed, tuple(input_shape))
    for name, layer in layers:
        replacement = PopcountLayer(layer) if name in binary else SignedSumLayer(layer)
        parent_name, _, child = name.rpartition(".")
        parent = packed.get_submodule(parent_name) if parent_name else packed
        setattr(parent, child, replacement)
    return packed

