"""Whole-network bit-sliced inference of MPT-1/1 tickets: bits in, bits out, layer to layer.

:class:`PackedNetwork` traces a frozen biprop ticket (:func:`torch.fx.symbolic_trace` with the
factory layers, BatchNorm, signs and pools as leaves) and runs the graph on three kinds of values
(:mod:`empirical.export.graph_values`):

- ``Tensor``: a real torch tensor (the image, the logits, anything the engine does not fold);
- :class:`Bits`: a binary map in the batch-sliced layout of :mod:`empirical.export.sliced`;
- :class:`Pending`: a factory layer applied to a :class:`Bits` (or real) input and the
  BatchNorms, max-pools and shortcut additions after it, not computed yet.

A sign applied to a :class:`Pending` runs one fused kernel: the layer's exact counts ``c`` and
the decision ``sign(z)`` of its real pre-activation ``z`` as a per-output count threshold
(:mod:`empirical.export.thresholds`: the formulas, and the tie rule ``sign(0) = +1``; the layer's
kept weights as row offsets: :class:`empirical.export.layer_plan.LayerPlan`). A max-pool
between the layer and the sign becomes an OR of the decision bits of its window
(``max_p z_p >= 0`` iff some ``z_p >= 0``), an AND where the BatchNorm after it has
``gamma < 0`` (an OR of the complements, complemented). An identity
shortcut ``sign(z + r)``, ``r = +-1``, selects one of two thresholds per sample. A projection
shortcut ``sign(z_1 + z_2)`` of two pending layers is one kernel too: for each value ``v`` of the
count of the layer with fewer kept weights, a threshold on the other's count
(:func:`empirical.export.sliced.pair_threshold_bits`; float64 thresholds).

The real first layer: a linear one, given the pixel grid of the inputs
(``pack_model(..., grid=...)``, :mod:`empirical.export.grid_input`) and a batch on it (every
value is the float32 the dataset pipeline gives some integer pixel, checked per batch), sums the
integer pixels of its kept inputs per channel and sign and decides ``sign(z)`` on them: exactly,
ties included, for one input channel (an integer threshold derived with
:class:`fractions.Fraction` from ``t``, for the ideal map ``x = scale u + offset`` of the grid),
in float64 from the exact channel sums for several. A convolution (measured faster in float32),
or any first layer without a grid or on a batch off it, sums ``+-x`` of its kept inputs in
float32 and thresholds the same way (``S >= t`` compared in float64). Either way its sums
round differently from the float simulation's ``conv(x, alpha T)`` (whose float32 inputs are the
ideal map rounded), so a pre-activation within rounding of a threshold may take the other sign.
Hidden layers are exact where the simulation rounds: the simulation's float32 sums of ``+-alpha``
may put a pre-activation within rounding of its threshold on the other side; both are the same
network up to those rounding-level flips. What the engine does not fold (an average pool, an
activation other than the sign) is materialised as the float tensor the simulation holds there
(exact integer sums times ``alpha``, signed-sum kernels for real inputs) and run by the model's
own modules. The classifier (the last factory layer to run,
:func:`empirical.export.kernels.probe_layers`) is the simulation's own float layer on the
unpacked +-1 (or pooled) input: logits after binary activations are multiples of ``alpha`` and
often tie exactly, and this way the ties break as the simulation's float sums break them (exact
counts times ``alpha`` broke them by class index: 4 of 359 digits test predictions differed).

Batches below :data:`SLICED_MIN_BATCH` samples use the layer-by-layer popcount engine
(:func:`empirical.export.kernels.pack_layers`): a word of 64 lanes costs the same for 1 sample
as for 64 (measured 2026-12-01 at 1 thread, pixel-grid inputs: at batch 1 the layer-by-layer
engine takes 0.39 ms on the fc net, 4.6 ms on Conv-4 and 17 ms on ResNet-18, the sliced one 0.69,
19 and 138 ms; they tie at 4-8 samples on the fc net, at 8 on Conv-4, and between 16 (117 against
139 ms) and 32 (237 against 149 ms) on ResNet-18).
"""

from __future__ import annotations

import copy
import operator
import time
from typing import Any

import numba
import numpy as np
import torch
from torch import fx, nn

from empirical.activations import BinaryActivation
from empirical.export import sliced
from empirical.export.frozen import Sign
from empirical.export.graph_values import Bits, LeafTracer, OnGrid, Pending
from empirical.export.grid_input import GridLayer, InputGrid
from empirical.export.kernels import pack_layers, probe_layers
from empirical.export.layer_plan import GROUP_WORDS, LayerPlan
from empirical.export.thresholds import (
    composite,
    count_thresholds,
    decision,
    pair_thresholds,
    real_limits,
)
from empirical.layers import FactoryConv1d, FactoryConv2d, FactoryLayer, FactoryLinear

SLICED_MIN_BATCH = 16  # measured, 1 thread: the engines tie at 4-8 (fc), 8 (Conv-4), 16-32 (ResNet)


class PackedNetwork(nn.Module):
    """A frozen biprop ticket run by the batch-sliced kernels (module docstring).

    Parameters
    ----------
    model
        A frozen biprop ticket (:func:`empirical.export.frozen.freeze_`).
    input_shape
        Input shape without the batch axis.
    backend
        Popcount backend of the layer-by-layer engine used for small batches.
    grid
        The pixel grid of the inputs (:mod:`empirical.export.grid_input`), or None.
    """

    def __init__(self, model: nn.Module, input_shape: tuple[int, ...],
                 backend: str = "auto", grid: InputGrid | None = None) -> None:
        super().__init__()
        if grid is not None and grid.channels != (input_shape[0] if len(input_shape) > 1
                                                  else 1):
            raise ValueError(f"an input grid of {grid.channels} channels does not fit inputs "
                             f"of shape {tuple(input_shape)} (channels first; a flat input has "
                             f"one channel)")
        self.model = model
        self.grid = grid
        self.graph = LeafTracer().trace(model)
        self.modules_by_name = dict(model.named_modules())
        self.layerwise = pack_layers(model, input_shape, backend)
        self.classifier = probe_layers(model, input_shape)[1]
        self._plans: dict[tuple, Any] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the float simulation, computed on bits (module docstring)."""
        if x.shape[0] < SLICED_MIN_BATCH:
            return self.layerwise(x)
        return self.run(x)

    def run(self, x: torch.Tensor, timings: dict[str, float] | None = None) -> torch.Tensor:
        """The sliced engine at any batch size; ``timings`` receives the seconds spent per graph
        node (a sign's time includes the fused layer, BatchNorms and pool before it).

        The numba kernels run on torch's number of threads; torch's count is restored afterwards
        (numba's OpenMP layer would otherwise leave its own count to torch).
        """
        threads = torch.get_num_threads()
        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
        try:
            with torch.no_grad():
                return self._interpret(x, timings)
        finally:
            torch.set_num_threads(threads)

    def _interpret(self, x: torch.Tensor, timings: dict[str, float] | None) -> torch.Tensor:
        env: dict[fx.Node, Any] = {}
        for node in self.graph.nodes:
            start = time.perf_counter()
            if node.op == "placeholder":
                env[node] = self._input(x.detach().float())
            elif node.op == "output":
                env[node] = self._real(env[node.args[0]])
            elif node.op == "call_module":
                env[node] = self._module(node.target, env[node.args[0]])
            elif node.op == "call_function" and node.target in (operator.add, torch.add):
                env[node] = self._add(env[node.args[0]], env[node.args[1]])
            else:
                args = [self._real(env[a]) if isinstance(a, fx.Node) else a for a in node.args]
                fn = node.target if node.op == "call_function" else getattr(args[0],
                                                                             node.target)
                env[node] = fn(*args) if node.op == "call_function" else fn(*args[1:])
            if timings is not None:
                timings[node.name if node.op == "call_function" else str(node.target)] = (
                    time.perf_counter() - start)
            if node.op == "output":
                return env[node]
        raise RuntimeError("the traced graph has no output")

    # value handlers ---------------------------------------------------------------------------

    def _input(self, x: torch.Tensor) -> torch.Tensor | OnGrid:
        """The network input, marked :class:`OnGrid` when a grid of its channels is given."""
        if self.grid is None or x.dim() < 2 or (
                x.shape[1] != self.grid.channels if x.dim() > 2 else self.grid.channels != 1):
            return x
        if x.dim() == 2:
            return OnGrid(x, np.zeros(x.shape[1], dtype=np.int64))
        channels = np.arange(x.shape[1]).reshape(-1, *([1] * (x.dim() - 2)))
        return OnGrid(x, np.broadcast_to(channels, x.shape[1:]))

    def _module(self, name: str, value: Any) -> Any:
        module = self.modules_by_name[name]
        if isinstance(module, nn.Identity):
            return value
        if isinstance(value, OnGrid) and isinstance(module, nn.Flatten) and (
                module.start_dim == 1 and module.end_dim == -1):
            return OnGrid(value.x.reshape(value.x.shape[0], -1), value.channels.reshape(-1))
        if isinstance(module, FactoryLayer):  # a tensor input is real (signs arrive as Bits)
            return Pending(name, self._real(value) if isinstance(value, Pending) else value)
        if isinstance(value, Pending) and value.residual is None and isinstance(
                module, nn.BatchNorm1d | nn.BatchNorm2d | nn.MaxPool1d | nn.MaxPool2d) and (
                not isinstance(module, nn.MaxPool1d | nn.MaxPool2d) or self._simple_pool(
                module, value)):
            return Pending(value.name, value.source, [*value.steps, module])
        if isinstance(module, BinaryActivation | Sign):
            if isinstance(value, Bits):
                return value
            if isinstance(value, Pending) and (isinstance(value.source, Bits)
                                               or self._first_layer_ok(value)):
                return self._sign(value)
            return self._slice(Sign()(self._real(value)))
        if isinstance(value, Bits) and isinstance(module, nn.MaxPool1d | nn.MaxPool2d) and (
                self._simple_pool(module, value)):
            return self._pool_bits(value, module, np.zeros(value.words.shape[1], np.uint64))
        if isinstance(value, Bits) and isinstance(module, nn.Flatten) and (
                module.start_dim == 1 and module.end_dim == -1):
            if value.words.ndim == 2:
                return value
            height, channels, width, words = value.words.shape
            return Bits(value.words.reshape(-1, words), value.batch,
                        layout=(height, channels, width))
        return module(self._real(value))

    def _add(self, a: Any, b: Any) -> Any:
        for main, other in ((a, b), (b, a)):
            if isinstance(main, Pending) and isinstance(main.source, Bits) and isinstance(
                    other, Bits) and main.residual is None and not any(
                    isinstance(s, nn.MaxPool1d | nn.MaxPool2d) for s in main.steps) and (
                    other.words.ndim == 4):
                return Pending(main.name, main.source, main.steps, other)
        if all(isinstance(v, Pending) and isinstance(v.source, Bits) and v.residual is None
               and not any(isinstance(s, nn.MaxPool1d | nn.MaxPool2d) for s in v.steps)
               for v in (a, b)):
            return Pending(a.name, a.source, a.steps, b)
        return self._real(a) + self._real(b)

    @staticmethod
    def _simple_pool(module: nn.Module, value: Any) -> bool:
        dims = 1 if isinstance(module, nn.MaxPool1d) else 2

        def pair(v: Any) -> tuple:
            return tuple(v) if isinstance(v, tuple | list) else (v,) * dims
        kernel, stride = pair(module.kernel_size), pair(module.stride or module.kernel_size)
        return (kernel == stride and not any(pair(module.padding)) and all(
            d == 1 for d in pair(module.dilation)) and not module.ceil_mode
            and not getattr(module, "return_indices", False)
            and (not isinstance(value, Bits) or value.words.ndim == 4))

    @staticmethod
    def _first_layer_ok(value: Pending) -> bool:
        """Whether the real-input kernel takes this source (flat, 1-D or 2-D maps)."""
        source = value.source.x if isinstance(value.source, OnGrid) else value.source
        return isinstance(source, torch.Tensor) and source.dim() in (2, 3, 4)

    # conversions --------------------------------------------------------------------------------

    @staticmethod
    def _slice(value: torch.Tensor) -> Bits:
        """Real +-1 tensor -> batch-sliced bits."""
        batch = value.shape[0]
        one_d = value.dim() == 3
        if value.dim() >= 3:
            spatial = value.unsqueeze(2) if one_d else value
            flat = spatial.permute(0, 2, 1, 3).reshape(batch, -1)
            shape = (spatial.shape[2], spatial.shape[1], spatial.shape[3])
        else:
            flat, shape = value.reshape(batch, -1), (value[0].numel(),)
        words = np.empty((flat.shape[1], -(-batch // 64)), dtype=np.uint64)
        sliced.pack_batch(np.ascontiguousarray(flat.numpy(), dtype=np.float32), words)
        return Bits(words.reshape(*shape, -1), batch, one_d)

    def _real(self, value: Any) -> torch.Tensor:
        """The float tensor the simulation holds for ``value``."""
        if isinstance(value, torch.Tensor):
            return value
        if isinstance(value, OnGrid):
            return value.x
        if isinstance(value, Bits):
            rows = value.words.reshape(-1, value.words.shape[-1])
            out = np.empty((rows.shape[0], value.batch), dtype=np.float32)
            sliced.unpack_batch(rows, out)
            tensor = torch.from_numpy(out).t()
            layout = value.words.shape[:3] if value.words.ndim == 4 else value.layout
            if layout is None:
                return tensor.contiguous()
            tensor = tensor.reshape(-1, *layout).permute(0, 2, 1, 3)
            if value.words.ndim == 2:
                return tensor.reshape(value.batch, -1).contiguous()
            return tensor.squeeze(2).contiguous() if value.one_d else tensor.contiguous()
        layer = self.modules_by_name[value.name]
        if isinstance(value.source, torch.Tensor | OnGrid) or value.name == self.classifier:
            # signed sums of real inputs; the classifier: the simulation's own layer
            y = self.layerwise.get_submodule(value.name)(self._real(value.source))
        else:
            plan, x = self._binary_input(value.name, value.source)
            batch = value.source.batch
            counts = np.empty((*plan.out_size[:1], plan.outs, plan.out_size[1], batch),
                              dtype=np.int32)
            groups = plan.groups(-(-batch // 64))
            sliced.counts(x, groups, plan.offs, plan.flips, plan.starts, plan.bits,
                          _blocks(len(groups), plan.outs), counts)
            border = plan.border.reshape(*plan.out_size, plan.outs).transpose(0, 2, 1)
            signed = 2 * counts.astype(np.int64) - (plan.kept[None, :, None] + border)[..., None]
            y = torch.from_numpy(signed.astype(np.float32)) * np.float32(plan.alpha)
            y = y.permute(3, 1, 0, 2)  # (B, O, Ho, Wo)
            y = (y.squeeze(2) if plan.one_d else y) if plan.conv else y[:, :, 0, 0]
            y = y.contiguous()
            if layer.bias is not None:
                y = y + layer.bias.detach().reshape(1, -1, *([1] * (y.dim() - 2)))
        for step in value.steps:
            y = step(y)
        if value.residual is not None:
            y = y + self._real(value.residual)
        return y

    def _binary_input(self, name: str, bits: Bits) -> tuple[LayerPlan, np.ndarray]:
        """The layer's plan for this input and its flat rows (+1 padding, then zero words)."""
        shape = bits.words.shape[:-1]
        key = (name, shape, bits.layout)
        if key not in self._plans:
            in_shape = shape if len(shape) == 3 else None
            self._plans[key] = LayerPlan(self.modules_by_name[name], in_shape, real=False,
                                          layout=bits.layout)
        plan = self._plans[key]
        rows = plan.pad_input(bits.words, sliced.ALL_ONES).reshape(-1)
        x = np.zeros(rows.size + GROUP_WORDS + bits.words.shape[-1], dtype=np.uint64)
        x[:rows.size] = rows
        return plan, x

    def _sign(self, value: Pending) -> Bits:
        """The fused kernel: decision bits of ``sign(steps(layer(source)) [+ residual])``."""
        bns = [s for s in value.steps if isinstance(s, nn.BatchNorm1d | nn.BatchNorm2d)]
        pools = [i for i, s in enumerate(value.steps)
                 if isinstance(s, nn.MaxPool1d | nn.MaxPool2d)]
        after = bns if not pools else [s for s in value.steps[pools[0]:] if s in bns]
        if len(pools) > 1:
            return self._slice(Sign()(self._real(value)))
        if isinstance(value.residual, Pending):
            return self._pair_sign(value)
        grid_layer = None
        if isinstance(value.source, Bits):
            kind = "bits"
            plan, x = self._binary_input(value.name, value.source)
            batch, nw = value.source.batch, value.source.words.shape[-1]
        else:
            source = self._real(value.source)
            batch, nw = source.shape[0], -(-source.shape[0] // 64)
            if isinstance(value.source, OnGrid) and isinstance(
                    self.modules_by_name[value.name], FactoryLinear):
                plan, grid_layer, x = self._grid_input(value.name, value.source)
            if grid_layer is None or x is None:  # no grid, or the batch is off the grid
                kind = "real"
                plan, x = self._real_input(value.name, source)
            else:
                kind = "grid"
        flip = np.zeros(plan.outs, dtype=np.uint64)
        if pools:
            for o in range(plan.outs):
                gamma = 1.0
                for bn in after:
                    gamma *= 1.0 if bn.weight is None else float(bn.weight[o])
                flip[o] = sliced.ALL_ONES if gamma < 0 else np.uint64(0)
        out = np.empty((plan.out_size[0], plan.outs, plan.out_size[1], nw), dtype=np.uint64)
        shifts = (1.0, -1.0) if value.residual is not None else (0.0,)
        key = ("thr", kind, value.name, x.shape[0], tuple(id(s) for s in value.steps), shifts)
        if key not in self._plans:
            tables = []
            for shift in shifts:
                directions, limits = decision(plan.alpha, plan.bias, bns, plan.outs, shift)
                if kind == "grid":
                    *grid_decision, inv = grid_layer.decisions(directions, limits)
                    tables.append((*grid_decision, inv ^ flip))
                    continue
                if kind == "bits":
                    thr, inv = count_thresholds(directions, limits, plan.kept, plan.border)
                else:
                    thr, inv = real_limits(directions, limits, len(plan.bases))
                tables.append((thr, inv ^ flip))
            self._plans[key] = tables
        tables = self._plans[key]
        if kind == "grid":
            grid_layer.threshold_bits(x, tables[0], out.reshape(plan.outs, nw))
        elif kind == "bits":
            residual = np.zeros((0, 0, 0, 0), dtype=np.uint64)
            second = np.zeros((0, 0), dtype=np.int64)
            thr, inv = tables[0]
            if value.residual is not None:
                residual = value.residual.words
                second = tables[1][0]
                if np.any(tables[1][1] != inv):
                    return self._slice(Sign()(self._real(value)))
            groups = plan.groups(nw)
            sliced.threshold_bits(x, groups, plan.offs, plan.flips, plan.starts, plan.bits, thr,
                                  inv, np.ascontiguousarray(residual), second,
                                  _blocks(len(groups), plan.outs), out)
        else:
            (above, limits), inv = tables[0]
            sliced.real_threshold_bits(x, plan.bases, plan.offs, plan.signs, plan.starts, above,
                                       limits, inv, _blocks(len(plan.bases), plan.outs), out)
        bits = Bits(out if plan.conv else out.reshape(plan.outs, nw), batch, plan.one_d)
        if pools:
            return self._pool_bits(bits, value.steps[pools[0]], flip)
        return bits

    def _pair_sign(self, value: Pending) -> Bits:
        """``sign`` of the sum of two pending layers (a projection shortcut), one fused kernel;
        the layer with fewer kept weights per output is enumerated by value."""
        parts = []
        for part in (value, value.residual):
            plan, x = self._binary_input(part.name, part.source)
            bns = [s for s in part.steps if isinstance(s, nn.BatchNorm1d | nn.BatchNorm2d)]
            parts.append((part, plan, x, bns))
        if parts[0][1].out_size != parts[1][1].out_size or parts[0][1].outs != parts[1][1].outs:
            return self._slice(Sign()(self._real(value)))
        parts.sort(key=lambda item: -int(item[1].kept.max(initial=0)))
        (first, plan, x, bns), (second, plan2, x2, bns2) = parts
        nw = first.source.words.shape[-1]
        values = int(plan2.kept.max(initial=0)) + 1
        key = ("pair", first.name, second.name, x.shape[0], x2.shape[0])
        if key not in self._plans:
            positions = len(plan.bases)
            thresholds = np.empty((positions, plan.outs, values), dtype=np.int64)
            invert = np.zeros(plan.outs, dtype=np.uint64)
            for o in range(plan.outs):
                ends = (plan.kept[o] + plan.border[:, o], plan2.kept[o] + plan2.border[:, o])
                thresholds[:, o], invert[o] = pair_thresholds(
                    composite(plan.alpha, plan.bias, bns, o),
                    composite(plan2.alpha, plan2.bias, bns2, o), ends, values)
            self._plans[key] = (thresholds, invert, plan2.kept + 1)
        thresholds, invert, counts2 = self._plans[key]
        out = np.empty((plan.out_size[0], plan.outs, plan.out_size[1], nw), dtype=np.uint64)
        groups = plan.groups(nw)
        sliced.pair_threshold_bits(x, groups, plan.offs, plan.flips, plan.starts, plan.bits, x2,
                                   plan2.groups(nw), plan2.offs, plan2.flips, plan2.starts,
                                   plan2.bits, counts2, thresholds, invert,
                                   _blocks(len(groups), plan.outs), out)
        return Bits(out if plan.conv else out.reshape(plan.outs, nw), first.source.batch,
                    plan.one_d)

    def _real_plan(self, name: str, x: torch.Tensor) -> tuple[LayerPlan, torch.Tensor]:
        """The plan for a real input and the input as ``(B, C, H, W)`` (a map) or ``(B, F)``."""
        layer = self.modules_by_name[name]
        spatial = x.unsqueeze(2) if isinstance(layer, FactoryConv1d) else x
        if spatial.dim() == 4:
            shape = (spatial.shape[2], spatial.shape[1], spatial.shape[3])
        else:
            spatial = spatial.reshape(spatial.shape[0], -1)
            shape = (spatial.shape[1],)
        key = (name, shape, "real")
        if key not in self._plans:
            self._plans[key] = LayerPlan(layer, shape if len(shape) == 3 else None, real=True)
        return self._plans[key], spatial

    def _real_input(self, name: str, x: torch.Tensor) -> tuple[LayerPlan, np.ndarray]:
        """The plan for a real input and its rows ``(rows, B)``, zero padded."""
        plan, spatial = self._real_plan(name, x)
        if spatial.dim() == 4:  # (H, C, W, B) rows
            rows = plan.pad_input(spatial.permute(2, 1, 3, 0).numpy(), np.float32(0))
        else:
            rows = spatial.t().numpy()
        return plan, np.ascontiguousarray(rows, dtype=np.float32)

    def _grid_input(self, name: str, value: OnGrid
                    ) -> tuple[LayerPlan, GridLayer, np.ndarray | None]:
        """The plan, the grid layer and the levels ``(F, B)`` uint8 of the input of a linear
        first layer that may be on the grid (levels None when it is not)."""
        plan, flat = self._real_plan(name, value.x)
        key = (name, tuple(flat.shape[1:]), "grid")
        if key not in self._plans:
            self._plans[key] = GridLayer(self.grid, plan.offs, plan.signs.astype(np.int64),
                                         plan.starts, value.channels.reshape(-1))
        layer = self._plans[key]
        return plan, layer, layer.levels(flat)

    @staticmethod
    def _pool_bits(bits: Bits, module: nn.Module, flip: np.ndarray) -> Bits:
        kernel = module.kernel_size
        kernel = tuple(kernel) if isinstance(kernel, tuple | list) else (kernel,) * (
            1 if isinstance(module, nn.MaxPool1d) else 2)
        kh, kw = (1, kernel[0]) if isinstance(module, nn.MaxPool1d) else kernel
        height, channels, width, nw = bits.words.shape
        out = np.empty((height // kh, channels, width // kw, nw), dtype=np.uint64)
        sliced.max_pool_bits(bits.words, kh, kw, flip, out)
        return Bits(out, bits.batch, bits.one_d)


def _blocks(positions: int, outputs: int) -> int:
    """Output blocks per group of positions for the current numba thread count."""
    return sliced.output_blocks(positions, outputs, numba.get_num_threads())


def pack_model(model: nn.Module, input_shape: tuple[int, ...] | None = None,
               backend: str = "auto", grid: InputGrid | None = None) -> PackedNetwork:
    """A frozen biprop ticket as a :class:`PackedNetwork` (bits from layer to layer).

    Parameters
    ----------
    model
        A frozen biprop ticket (:func:`empirical.export.frozen.freeze_`), e.g.
        :func:`empirical.export.ticket_file.load_ticket`'s model; it is deep-copied.
    input_shape
        Input shape without the batch axis; default: ``(in_features,)`` of a linear first layer.
    backend
        Popcount backend of the small-batch engine: ``auto``, ``numba`` or ``numpy``.
    grid
        The pixel grid of the inputs (:class:`empirical.export.grid_input.InputGrid`, e.g. of the
        run's dataset): a first layer whose batch is on it sums integer pixel levels (exact);
        None: every first layer takes the float32 path.

    Returns
    -------
    PackedNetwork
        In eval mode; equal to the float simulation (module docstring).
    """
    frozen = copy.deepcopy(model).eval()
    if input_shape is None:
        layers = [m for m in frozen.modules() if isinstance(m, FactoryLayer)]
        if not layers or isinstance(layers[0], FactoryConv1d | FactoryConv2d):
            raise ValueError("give the input shape of a convolutional model")
        input_shape = (layers[0].in_features,)
    return PackedNetwork(frozen, tuple(input_shape), backend, grid).eval()
