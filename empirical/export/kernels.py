"""Bit-packed inference of biprop tickets (weights in ``{-alpha, 0, +alpha}``, one gain per layer).

Two kernels replace a frozen ticket's factory layers one by one (:func:`pack_layers`; the
whole-network engine that passes bits from layer to layer is :mod:`empirical.export.engine`):

- :class:`PopcountLayer` (MPT-1/1, inputs in ``{-1, +1}`` from sign activations): with ``s`` the
  sign bits of the weights (1 = positive), ``m`` the mask bits and ``P`` the bits of the positive
  inputs, packed 64 per word, an output is

  ``y_o = alpha (2 popcount(m_o & ~(s_o ^ P)) - K_o)``

  (XNOR-popcount, Rastegari et al., XNOR-Net, ECCV 2016, with the mask ANDed in; ``K_o`` kept
  weights of output ``o``): exact integers, then one product by ``alpha``. Convolutions pack the
  channels of every pixel into words and gather the ``kh kw`` shifted word rows (an unfold on
  packed words); the zero padding is filled with ``+1`` words and its share
  ``sum_{padded taps} T`` (computed once per input shape) is subtracted. Inputs that hold zeros
  take the general form ``2 a - t``, ``a = popcount(pos & P) + popcount(neg & N)``,
  ``t = popcount(m & (P | N))``. The popcounts run in :mod:`empirical.export.popcount` (numba
  when installed, else numpy).
- :class:`SignedSumLayer` (MPT-1/32, real inputs, and the real first layer of MPT-1/1):
  ``y_o = alpha (sum_{i in P_o} x_i - sum_{i in N_o} x_i)`` over the kept inputs of sign +1 / -1,
  i.e. ``alpha (T x)`` with ``T = sign(W_eff)`` in ``{-1, 0, +1}`` (multiplying by +-1 is exact,
  so it is the signed sum): a sparse CSR product when the layer keeps at most 10% of its weights
  (where ``torch.sparse.mm`` beats a dense product on the CPU), else torch's dense linear / conv
  with ``T``; then one product by ``alpha`` per output.

Both equal the float simulation ``x W_eff^T`` up to the rounding of the float sums (the popcount
kernel is exact, the simulation rounds). Logits after binary activations are multiples of
``alpha``, so two classes often tie exactly in exact arithmetic while the simulation's float sums
break the tie by their rounding (on a trained MPT-1/1 digits ticket, 4 of 359 test predictions);
so the classifier, the last factory layer to run, is not replaced: it is the simulation's own
float layer on the same inputs, and its logits, ties included, are the simulation's bit for bit
wherever the layers before it decide the same. Which kernel a layer gets is found by a probe
forward pass on a Gaussian input (:func:`probe_layers`): a layer whose input holds only -1, 0,
+1 (a sign activation's output, possibly max-pooled or flattened) gets the popcount kernel.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from empirical.export.bits import pack_rows, words_per_row
from empirical.export.popcount import and_counts, xnor_outputs
from empirical.layers import FactoryConv1d, FactoryConv2d, FactoryLayer

SPARSE_MAX_DENSITY = 0.1
ALL_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)


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
            if any(d != 1 for d in layer.dilation) or layer.groups != 1:
                raise ValueError("packed kernels support convolutions without dilation or "
                                 "groups")
            self.kernel = (1, *layer.kernel_size) if self.one_d else tuple(layer.kernel_size)
            self.stride = (1, *layer.stride) if self.one_d else tuple(layer.stride)
            self.padding = (0, *layer.padding) if self.one_d else tuple(layer.padding)

    def out_size(self, height: int, width: int) -> tuple[int, int]:
        """Output height and width of the convolution."""
        return tuple((s + 2 * p - k) // st + 1 for s, p, k, st in
                     zip((height, width), self.padding, self.kernel, self.stride, strict=True))

    def gather(self, words: np.ndarray, fill: np.uint64) -> np.ndarray:
        """Rows of the ``kh kw`` taps of every output position from ``(B, H, W, Wc)`` words.

        The border is padded with ``fill`` words; row ``(b, i, j)`` is the concatenation of the
        words of the taps ``(di, dj)`` in row-major order (an unfold on packed words).
        """
        batch, height, width, _ = words.shape
        ph, pw = self.padding
        if ph or pw:
            words = np.pad(words, ((0, 0), (ph, ph), (pw, pw), (0, 0)), constant_values=fill)
        out_h, out_w = self.out_size(height, width)
        sh, sw = self.stride
        taps = [words[:, i:i + sh * (out_h - 1) + 1:sh, j:j + sw * (out_w - 1) + 1:sw]
                for i in range(self.kernel[0]) for j in range(self.kernel[1])]
        return np.concatenate(taps, axis=-1).reshape(batch * out_h * out_w, -1)


class PopcountLayer(nn.Module):
    """A biprop layer on binary inputs: XNOR/AND + popcount of packed bits (module docstring).

    Parameters
    ----------
    layer
        A frozen biprop factory layer (linear, conv1d or conv2d).
    backend
        Popcount backend (:mod:`empirical.export.popcount`): ``auto``, ``numba`` or ``numpy``.
    """

    def __init__(self, layer: FactoryLayer, backend: str = "auto") -> None:
        super().__init__()
        self.geometry = _Geometry(layer)
        self.backend = backend
        self.ternary, self.alpha = ternary_weights(layer)
        rows = self.ternary.reshape(self.ternary.shape[0], -1)
        if self.geometry.conv:  # (out, C, kh, kw): per tap, the channels packed into words
            taps = self.ternary.reshape(self.ternary.shape[0], self.ternary.shape[1],
                                        *self.geometry.kernel).permute(0, 2, 3, 1)
            rows = taps.reshape(-1, taps.shape[-1])
        out = self.ternary.shape[0]
        self.signs = pack_rows((rows > 0).numpy()).reshape(out, -1)
        self.mask = pack_rows((rows != 0).numpy()).reshape(out, -1)
        self.kept_count = np.bitwise_count(self.mask).sum(axis=1, dtype=np.int32)
        self.bias = None if layer.bias is None else layer.bias.detach().clone()
        self._border: dict[tuple[int, int], np.ndarray] = {}

    def pack_input(self, bits: np.ndarray, fill: np.uint64) -> np.ndarray:
        """Packed rows of input bits: ``(B, F)`` for linear layers; for convs ``(B, C, H, W)``
        bits (any memory layout) packed along the channels, then the gathered taps."""
        if not self.geometry.conv:
            return pack_rows(bits)
        channels_last = np.ascontiguousarray(np.moveaxis(bits, 1, -1))  # free if channels-last
        pixels = np.packbits(channels_last, axis=-1, bitorder="little")
        nbytes = 8 * words_per_row(bits.shape[1])
        words = np.zeros((*pixels.shape[:3], nbytes), dtype=np.uint8)
        words[..., :pixels.shape[-1]] = pixels
        return self.geometry.gather(words.view("<u8"), fill)

    def _border_sums(self, height: int, width: int) -> np.ndarray:
        """``sum T`` over the padded taps of every output position (the +1 fill's share)."""
        key = (height, width)
        if key not in self._border:
            ph, pw = self.geometry.padding
            ring = torch.ones(1, self.ternary.shape[1], height + 2 * ph, width + 2 * pw)
            ring[:, :, ph:ph + height, pw:pw + width] = 0
            taps = self.ternary.reshape(*self.ternary.shape[:2], *self.geometry.kernel)
            sums = F.conv2d(ring, taps, stride=self.geometry.stride)
            self._border[key] = sums[0].permute(1, 2, 0).reshape(-1, sums.shape[1]).round()\
                .numpy().astype(np.int64)
        return self._border[key]

    def offsets(self, values: np.ndarray) -> np.ndarray:
        """``K_o`` plus the padding's share per output position, ``(positions, O)``."""
        offsets = self.kept_count.astype(np.int64)[None, :]
        if self.geometry.conv and any(self.geometry.padding):
            offsets = offsets + self._border_sums(*values.shape[2:4])
        return offsets

    def outputs(self, values: np.ndarray) -> np.ndarray:
        """``alpha sum_i T_oi x_i`` per row and output (float32), the sums exact, for inputs in
        ``{-1, 0, +1}`` (linear: ``(B, F)``; conv: ``(B, C, H, W)``).

        Inputs without zeros (sign activations): one XNOR-popcount with the padding filled by
        ``+1`` words, ``2 popcount(m & ~(s ^ P)) - K_o`` minus the padding's share, with the
        product by ``alpha`` fused into the kernel. Inputs with zeros: ``2 a - t`` from
        AND-popcounts of the positive and negative planes.
        """
        if values.all():
            plus = self.pack_input(values > 0, ALL_ONES)
            return xnor_outputs(plus, self.signs, self.mask, self.offsets(values), self.alpha,
                                self.backend)
        plus = self.pack_input(values > 0, np.uint64(0))
        minus = self.pack_input(values < 0, np.uint64(0))
        pos, neg = self.signs & self.mask, ~self.signs & self.mask
        agree = and_counts(np.concatenate([plus, minus], axis=1),
                           np.concatenate([pos, neg], axis=1), self.backend)
        counts = 2 * agree - and_counts(plus | minus, self.mask, self.backend)
        return counts.astype(np.float32) * np.float32(self.alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``alpha`` times the exact signed counts (+ bias), float32 of the layer's output shape.

        Convolution outputs are returned in channels-last memory (the kernel computes them so);
        the next packed layer reads them without a copy.
        """
        g = self.geometry
        if g.one_d:
            x = x.unsqueeze(2)
        values = x.detach().float().numpy()  # any strides: NCHW or channels-last
        y = torch.from_numpy(self.outputs(values))
        if g.conv:
            out_h, out_w = g.out_size(*values.shape[2:4])
            y = y.reshape(values.shape[0], out_h, out_w, -1).permute(0, 3, 1, 2)
            if g.one_d:
                y = y.squeeze(2).contiguous()
        if self.bias is not None:
            y = y + self.bias.reshape(1, -1, *([1] * (y.dim() - 2)))
        return y if y.dim() == 4 else y.contiguous()


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
        self.ternary = ternary
        self.conv_args = ({"stride": layer.stride, "padding": layer.padding}
                          if self.geometry.conv else {})
        with warnings.catch_warnings():  # "sparse CSR support is in beta"
            warnings.simplefilter("ignore", UserWarning)
            self.matrix = matrix.to_sparse_csr() if self.sparse else None
        self.bias = None if layer.bias is None else layer.bias.detach().clone()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``alpha T x`` (+ bias) of the layer's output shape."""
        g = self.geometry
        x = x.detach().float()
        if not self.sparse:
            conv = F.conv1d if g.one_d else F.conv2d
            sums = conv(x, self.ternary, **self.conv_args) if g.conv else F.linear(x, self.ternary)
            y = sums * self.alpha
        elif not g.conv:
            y = torch.sparse.mm(self.matrix, x.t().contiguous()).t() * self.alpha
        else:
            if g.one_d:
                x = x.unsqueeze(2)
            batch, _, height, width = x.shape
            out_h, out_w = g.out_size(height, width)
            columns = F.unfold(x, g.kernel, padding=g.padding, stride=g.stride)
            columns = columns.permute(1, 0, 2).reshape(columns.shape[1], -1)
            y = torch.sparse.mm(self.matrix, columns) * self.alpha
            y = y.reshape(-1, batch, out_h, out_w).permute(1, 0, 2, 3)
            if g.one_d:
                y = y.squeeze(2)
        if self.bias is not None:
            y = y + self.bias.reshape(1, -1, *([1] * (y.dim() - 2)))
        return y.contiguous()


def probe_layers(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[set[str], str]:
    """``(ternary, classifier)``: the names of the factory layers whose input holds only -1, 0,
    +1 on a Gaussian probe pass, and the name of the last factory layer the pass runs (the
    classifier, which makes the logits)."""
    found: set[str] = set()
    order: list[str] = []
    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, FactoryLayer):
            def probe(_: nn.Module, inputs: tuple[torch.Tensor, ...], name: str = name) -> None:
                x = inputs[0]
                order.append(name)
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
    if not order:
        raise ValueError("the model runs no factory layer")
    return found, order[-1]


def pack_layers(model: nn.Module, input_shape: tuple[int, ...] | None = None,
               backend: str = "auto") -> nn.Module:
    """A copy of a frozen biprop ticket whose layers run the packed kernels.

    Parameters
    ----------
    model
        A frozen biprop ticket (:func:`empirical.export.frozen.freeze_`), e.g.
        :func:`empirical.export.ticket_file.load_ticket`'s model.
    input_shape
        Input shape without the batch axis, for the probe pass; default: inferred from the first
        layer (linear: ``(in_features,)``; conv: needs it).
    backend
        Popcount backend: ``auto``, ``numba`` or ``numpy``.

    Returns
    -------
    nn.Module
        A deep copy in eval mode: layers with binary inputs are :class:`PopcountLayer`, the
        others :class:`SignedSumLayer`, except the classifier (:func:`probe_layers`), which
        stays the float simulation's layer; BatchNorm, activations and pooling are unchanged.
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
    binary, classifier = probe_layers(packed, tuple(input_shape))
    for name, layer in layers:
        if name == classifier:  # the simulation's own float op: its logits, ties and all
            continue
        replacement = PopcountLayer(layer, backend) if name in binary else SignedSumLayer(layer)
        parent_name, _, child = name.rpartition(".")
        parent = packed.get_submodule(parent_name) if parent_name else packed
        setattr(parent, child, replacement)
    return packed

