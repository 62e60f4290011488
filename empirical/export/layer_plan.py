"""A factory layer's kept weights as row offsets for the batch-sliced kernels of
:mod:`empirical.export.sliced`, for one input size (padding, stride phases, border shares)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from empirical.export import sliced
from empirical.export.kernels import ternary_weights
from empirical.layers import FactoryConv1d, FactoryConv2d, FactoryLayer

BLOCK = 16  # kept entries per output are padded to a multiple of the Harley-Seal block
GROUP_WORDS = 64  # words counted together: consecutive output columns times sample words


class LayerPlan:
    """A factory layer's kept entries as row offsets for the sliced kernels, for one input size.

    A conv input ``(H, C, W)`` is zero padded and split into its ``sw`` column phases: pixel
    ``(h, c, w)`` is row ``((h C + c) sw + w mod sw) Wq + w div sw`` (``Wq = ceil(Wp / sw)``),
    so the windows of consecutive output columns start at consecutive rows. A linear layer's
    rows are its input features (a flattened map: in ``(h, c, w)`` order).
    """

    def __init__(self, layer: FactoryLayer, in_shape: tuple[int, ...] | None, real: bool,
                 layout: tuple[int, int, int] | None = None) -> None:
        ternary, self.alpha = ternary_weights(layer)
        self.bias = None if layer.bias is None else layer.bias.detach().double().numpy()
        self.conv = isinstance(layer, FactoryConv1d | FactoryConv2d)
        self.one_d = isinstance(layer, FactoryConv1d)
        outs = ternary.shape[0]
        if self.conv:
            weights = ternary.unsqueeze(2) if self.one_d else ternary
            kh, kw = weights.shape[2:]
            self.pad = (0, *layer.padding) if self.one_d else tuple(layer.padding)
            self.stride = (1, *layer.stride) if self.one_d else tuple(layer.stride)
            height, channels, width = in_shape
            hp, wp = height + 2 * self.pad[0], width + 2 * self.pad[1]
            sh, sw = self.stride
            self.phase_width = -(-wp // sw)
            self.out_size = ((hp - kh) // sh + 1, (wp - kw) // sw + 1)
            di, c, dj = np.meshgrid(np.arange(kh), np.arange(channels), np.arange(kw),
                                    indexing="ij")
            index = ((di * channels + c) * sw + dj % sw) * self.phase_width + dj // sw
            rows = weights.permute(0, 2, 1, 3).reshape(outs, -1).numpy()  # (O, kh, C, kw)
            index = index.reshape(-1)
            oi, oj = np.meshgrid(np.arange(self.out_size[0]), np.arange(self.out_size[1]),
                                 indexing="ij")
            self.bases = (oi * sh * channels * sw * self.phase_width + oj).reshape(-1)
            ring = torch.ones(1, channels, hp, wp, dtype=torch.float64)
            ring[:, :, self.pad[0]:self.pad[0] + height, self.pad[1]:self.pad[1] + width] = 0
            sums = nn.functional.conv2d(ring, weights.double(), stride=self.stride)
            self.border = sums[0].permute(1, 2, 0).reshape(-1, outs).round().numpy().astype(
                np.int64)
        else:
            self.pad, self.stride, self.out_size = (0, 0), (1, 1), (1, 1)
            rows = ternary.numpy()
            index = np.arange(rows.shape[1])
            if layout is not None:  # torch flattens (C, H, W); the bits hold (H, C, W)
                height, channels, width = layout
                c, h, w = np.unravel_index(index, (channels, height, width))
                index = (h * channels + c) * width + w
            self.bases = np.zeros(1, dtype=np.int64)
            self.border = np.zeros((1, outs), dtype=np.int64)
        offs, values, starts = [], [], [0]
        for o in range(outs):
            kept = np.nonzero(rows[o])[0]
            order = np.argsort(index[kept], kind="stable")
            entries, signs = index[kept][order], rows[o][kept][order]
            if not real:  # pad to whole Harley-Seal blocks with entries reading the zero block
                extra = (-len(kept)) % BLOCK
                entries = np.concatenate([entries, np.full(extra, -1)])
                signs = np.concatenate([signs, np.zeros(extra)])
            offs.append(entries)
            values.append(signs)
            starts.append(starts[-1] + len(entries))
        self.offs = np.concatenate(offs).astype(np.int64)
        self.starts = np.asarray(starts, dtype=np.int64)
        signs = np.concatenate(values)
        self.kept = np.count_nonzero(rows, axis=1).astype(np.int64)
        self.flips = np.where(signs < 0, sliced.ALL_ONES, np.uint64(0)).astype(np.uint64)
        self.signs = signs.astype(np.float32)
        self.bits = max(4, int(np.diff(self.starts).max(initial=0)).bit_length())
        self.outs = outs

    def groups(self, nw: int) -> np.ndarray:
        """Blocks ``(i0, j0, n, row, lines, stride)`` of output positions counted together,
        about :data:`GROUP_WORDS` words each (``nw`` words per position)."""
        out_h, out_w = self.out_size
        run = max(1, min(out_w, GROUP_WORDS // nw))
        lines = max(1, GROUP_WORDS // (run * nw)) if run == out_w else 1
        stride = int(self.bases[out_w] - self.bases[0]) if out_h > 1 else 0
        rows = []
        for i in range(0, out_h, lines):
            for j0 in range(0, out_w, run):
                rows.append((i, j0, min(run, out_w - j0), self.bases[i * out_w + j0],
                             min(lines, out_h - i), stride))
        return np.asarray(rows, dtype=np.int64).reshape(-1, 6)

    def pad_input(self, words: np.ndarray, fill: Any) -> np.ndarray:
        """``(H, C, W, ...)`` -> padded with ``fill`` and split into column phases, flat rows."""
        if not self.conv:
            return words.reshape(words.shape[0], -1)
        ph, pw = self.pad
        sw = self.stride[1]
        height, channels, width = words.shape[:3]
        padded = np.full((height + 2 * ph, channels, self.phase_width * sw, *words.shape[3:]),
                         fill, dtype=words.dtype)
        padded[ph:ph + height, :, pw:pw + width] = words
        phased = padded.reshape(padded.shape[0], channels, self.phase_width, sw,
                                *words.shape[3:]).swapaxes(2, 3)
        return np.ascontiguousarray(phased).reshape(-1, *words.shape[3:])
