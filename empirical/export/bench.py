"""Benchmark of packed tickets: bits per weight of each layout, and packed vs dense fp32 speed.

For each architecture (an fc net at MNIST shape, Conv-4 and ResNet-18 at CIFAR-10 shape) a
biprop ticket is drawn from seed 0 (random weights and scores, layerwise top-k at kept fraction
``k``; sizes and speed do not depend on training), frozen, and:

- encoded in the ``self-contained`` and ``seed-only`` layouts (:mod:`empirical.export.layouts`):
  ``bits_per_weight`` = 8 x file bytes / prunable weights (header, metadata and BatchNorm state
  included), ``mask_bits_per_weight`` = the mask (and sign) tensors only, against the floor
  ``H(k)`` (binary entropy) and fp32's 32 bits; ``checkpoint_ratio`` = size of
  ``torch.save`` of the score model's state dict (fp32 weights and scores: what a run's
  checkpoint holds besides the optimizer state) / file size;
- run by the packed engine (:func:`empirical.export.engine.pack_model`: the batch-sliced kernels
  at batch >= :data:`~empirical.export.engine.SLICED_MIN_BATCH`, the layer-by-layer popcount
  kernels below) and by dense fp32 torch (the same network in standard modules,
  :func:`empirical.export.frozen.plain_model`) in the same process, on the same CPU with the same
  number of threads: latency at batch 1 (median of ``repeats`` passes) and throughput at batch
  256 (best of ``rounds`` passes), for real activations (MPT-1/32) and binary ones (MPT-1/1).
  The dense baseline of a binary ticket is the faster of the exact dense ticket and the same
  weights with ReLU activations (``dense_baseline``; the exact sign, ``torch.where``, costs about
  2.7 elementwise passes, measured on a 256 x 64 x 32 x 32 map at one thread: 122 ms against
  45 ms for ``torch.relu``), so a slow dense sign never inflates the speedup.
  ``speedup`` = packed throughput / dense throughput, next to the MPT paper's claim for MPT-1/1
  (``paper_speedup``, "up to 58x"); ``load_average`` is the machine's 1-minute load when the row
  was measured (other processes share the CPU: compare ratios, not absolute times);
- inputs on the pixel grid of the shape's dataset (:data:`PIXEL_GRIDS`): uniformly random
  8-bit pixels normalised as the dataset pipeline does (fc: MNIST's mean and std, Conv-4 and
  ResNet-18: CIFAR-10's), fed to both engines; the packed engine is given the grid, so its first
  layer checks that the batch is on it and sums integer pixels
  (:mod:`empirical.export.grid_input`);
- node by node (binary activations, batch 256): the seconds of each dense fp32 module and of the
  packed engine's graph node (:func:`layer_rows`), to see where the packed time goes.
"""

from __future__ import annotations

import copy
import io
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from empirical.data import pixel_normalisation
from empirical.device_data import normalise
from empirical.errors import InputError
from empirical.export.container import encode_container
from empirical.export.engine import pack_model
from empirical.export.frozen import Sign, freeze_, plain_model
from empirical.export.grid_input import InputGrid
from empirical.export.layouts import encode_layers
from empirical.export.rans import binary_entropy
from empirical.layers import LayerConfig, layer_masks, prunable_layers

SHAPES: dict[str, tuple[tuple[int, ...], dict[str, Any]]] = {
    "fc": ((1, 28, 28), {"widths": [300, 100]}),
    "conv4": ((3, 32, 32), {}),
    "resnet18": ((3, 32, 32), {}),
}
PIXEL_GRIDS = {"fc": "mnist", "conv4": "cifar10", "resnet18": "cifar10"}  # shape -> dataset
CLASSES = 10
PAPER_SPEEDUP = 58.0  # Diffenderfer & Kailkhura (ICLR 2021): MPT-1/1 "up to 58x faster"


@dataclass(frozen=True)
class SizeRow:
    """Bits per weight of one layout of one architecture's ticket."""

    model: str
    layout: str
    keep: float
    weights: int
    bytes: int
    bits_per_weight: float
    mask_bits_per_weight: float
    entropy_floor: float
    excess_over_floor: float
    fp32_ratio: float
    checkpoint_ratio: float


@dataclass(frozen=True)
class SpeedRow:
    """Packed vs dense fp32 inference of one architecture and activation kind."""

    model: str
    activations: str
    threads: int
    dense_baseline: str
    dense_ms_b1: float
    packed_ms_b1: float
    latency_ratio: float
    dense_samples_per_s: float
    packed_samples_per_s: float
    speedup: float
    paper_speedup: float
    load_average: float


def ticket(name: str, keep: float, binary: bool) -> nn.Module:
    """A frozen biprop ticket of architecture ``name`` drawn from seed 0 (eval mode)."""
    from empirical.config.hparams import ModelHparams
    from empirical.models import build_model

    shape, options = SHAPES[name]
    torch.manual_seed(0)
    model = build_model(ModelHparams(name, binary_act=binary, **options), CLASSES, shape,
                        LayerConfig(mode="biprop", keep=keep)).eval()
    return model


def grid_inputs(name: str, batch: int, generator: torch.Generator) -> torch.Tensor:
    """``batch`` inputs of shape ``name``: uniform random 8-bit pixels normalised as the dataset
    of :data:`PIXEL_GRIDS` normalises its pixels."""
    mean, std, top = pixel_normalisation(PIXEL_GRIDS[name])
    pixels = torch.randint(0, top + 1, (batch, *SHAPES[name][0]), generator=generator,
                           dtype=torch.uint8)
    view = (1, -1, *([1] * (pixels.dim() - 2)))
    return normalise(pixels, torch.tensor(mean).view(view), torch.tensor(std).view(view))


def pixel_grid(name: str) -> InputGrid:
    """The pixel grid of shape ``name``'s dataset (:data:`PIXEL_GRIDS`)."""
    return InputGrid(*pixel_normalisation(PIXEL_GRIDS[name]))


def _checkpoint_bytes(model: nn.Module) -> int:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return len(buffer.getvalue())


def size_rows(name: str, keep: float) -> list[SizeRow]:
    """Bits per weight of the self-contained and seed-only layouts of a ``name`` ticket."""
    model = ticket(name, keep, binary=False)
    checkpoint = _checkpoint_bytes(model)
    masks = {n: m.bool() for n, m in layer_masks(model).items()}
    frozen = freeze_(model, masks)
    weights = sum(layer.weight.numel() for _, layer in prunable_layers(frozen))
    kept = sum(int(m.sum()) for m in masks.values())
    floor = binary_entropy(kept / weights)
    rows = []
    for layout in ("self-contained", "seed-only"):
        tensors, layers = encode_layers(frozen, "biprop", layout)
        raw = encode_container(tensors, {"layout": layout, "layers": str(layers)})
        mask_bytes = sum(t.numel() * t.element_size() for k, t in tensors.items()
                         if not k.startswith("state.") and not k.endswith(".alpha"))
        bits = 8 * len(raw) / weights
        rows.append(SizeRow(name, layout, keep, weights, len(raw), bits,
                            8 * mask_bytes / weights, floor, bits - floor, 32 / bits,
                            checkpoint / len(raw)))
    return rows


def _time(fn: Callable[[], Any], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def relu_twin(dense: nn.Module) -> nn.Module:
    """A copy of a dense binary ticket with every :class:`Sign` replaced by ``nn.ReLU``: the
    standard fp32 network of the same weights and shape, a speed baseline only (another
    function)."""
    twin = copy.deepcopy(dense)
    for name, module in list(twin.named_modules()):
        if isinstance(module, Sign):
            parent_name, _, child = name.rpartition(".")
            setattr(twin.get_submodule(parent_name) if parent_name else twin, child, nn.ReLU())
    return twin


@torch.no_grad()
def speed_row(name: str, keep: float, binary: bool, batch: int = 256, repeats: int = 5,
              rounds: int = 1) -> SpeedRow:
    """Latency at batch 1 and throughput at ``batch`` of the packed kernels vs dense fp32.

    The dense baseline of a binary ticket is the faster of the exact dense ticket (its sign as
    :class:`~empirical.export.frozen.Sign`, ``torch.where``) and its :func:`relu_twin` (one
    elementwise pass per activation), so that a slow dense sign never inflates the speedup;
    ``dense_baseline`` names the one used.
    """
    shape, _ = SHAPES[name]
    model = ticket(name, keep, binary)
    frozen = freeze_(model, {n: m.bool() for n, m in layer_masks(model).items()})
    dense, packed = plain_model(frozen), pack_model(frozen, shape, grid=pixel_grid(name))
    generator = torch.Generator().manual_seed(1)
    one = grid_inputs(name, 1, generator)
    many = grid_inputs(name, batch, generator)
    nets = {"fp32 sign" if binary else "fp32 ReLU": dense, "packed": packed}
    if binary:
        nets["fp32 ReLU"] = relu_twin(dense)
    results = {}
    for label, net in nets.items():
        net(one)  # warm-up (oneDNN primitives, compiled kernels, plans of both engines)
        net(many)
        latency = statistics.median(_time(lambda net=net: net(one), repeats))
        throughput = batch / min(_time(lambda net=net: net(many), rounds))
        results[label] = (latency, throughput)
    packed_lat, packed_tp = results.pop("packed")
    baseline = max(results, key=lambda label: results[label][1])
    dense_lat, dense_tp = results[baseline]
    return SpeedRow(name, "binary (MPT-1/1)" if binary else "real (MPT-1/32)",
                    torch.get_num_threads(), baseline, 1e3 * dense_lat, 1e3 * packed_lat,
                    dense_lat / packed_lat, dense_tp, packed_tp, packed_tp / dense_tp,
                    PAPER_SPEEDUP if binary else float("nan"), os.getloadavg()[0])


@dataclass(frozen=True)
class LayerRow:
    """Where the time of one throughput pass goes: one graph node, dense fp32 vs packed."""

    model: str
    node: str
    module: str
    dense_ms: float
    packed_ms: float
    share_of_packed: float


@torch.no_grad()
def layer_rows(name: str, keep: float, batch: int = 256) -> list[LayerRow]:
    """Per node of a binary ``name`` ticket, the dense fp32 module's time and the packed
    engine's (:meth:`empirical.export.engine.PackedNetwork.run`; the fused kernel of a layer is
    timed at the sign that consumes it, its layer, BatchNorm and pool nodes take ~0)."""
    shape, _ = SHAPES[name]
    model = ticket(name, keep, binary=True)
    frozen = freeze_(model, {n: m.bool() for n, m in layer_masks(model).items()})
    dense, packed = plain_model(frozen), pack_model(frozen, shape, grid=pixel_grid(name))
    x = grid_inputs(name, batch, torch.Generator().manual_seed(2))
    starts: dict[str, float] = {}
    dense_times: dict[str, float] = {}
    hooks = []
    for key, module in dense.named_modules():
        if key and not list(module.children()):
            hooks.append(module.register_forward_pre_hook(
                lambda _m, _a, key=key: starts.__setitem__(key, time.perf_counter())))
            hooks.append(module.register_forward_hook(
                lambda _m, _a, _o, key=key: dense_times.__setitem__(
                    key, time.perf_counter() - starts[key])))
    dense(x[:2])
    dense(x)
    for hook in hooks:
        hook.remove()
    packed.run(x)  # warm-up (compiled kernels, plans)
    packed_times: dict[str, float] = {}
    packed.run(x, packed_times)
    packed_times.pop("x")  # the placeholder
    total = sum(packed_times.values())
    modules = dict(frozen.named_modules())
    return [LayerRow(name, node, type(modules[node]).__name__ if node in modules else "-",
                     1e3 * dense_times.get(node, 0.0), 1e3 * seconds, seconds / total)
            for node, seconds in packed_times.items()]


def bench_export(models: list[str], keep: float, batch: int, repeats: int, rounds: int,
                 threads: int) -> tuple[list[dict[str, Any]], ...]:
    """Size rows and speed rows of every model (see the module docstring).

    Parameters
    ----------
    models
        Keys of :data:`SHAPES`.
    keep
        Kept fraction ``k``.
    batch
        Throughput batch size.
    repeats
        Timed batch-1 passes (median).
    rounds
        Timed throughput passes (best).
    threads
        Threads of both engines (torch; the numba kernels follow torch's count).

    Returns
    -------
    (list, list, list)
        Size rows, speed rows and layer rows as dicts.
    """
    unknown = [m for m in models if m not in SHAPES]
    if unknown:
        raise InputError("unknown {model} {got!r}; choose from {choices}", got=unknown[0],
                         choices=", ".join(SHAPES))
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        sizes = [asdict(r) for m in models for r in size_rows(m, keep)]
        speeds = [asdict(speed_row(m, keep, binary, batch, repeats, rounds))
                  for m in models for binary in (False, True)]
        layers = [asdict(r) for m in models for r in layer_rows(m, keep, batch)]
    finally:
        torch.set_num_threads(previous)
    return sizes, speeds, layers
