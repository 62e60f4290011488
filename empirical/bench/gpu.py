"""Device check: training throughput and memory of every layer mode on CIFAR-shaped tensors.

For each model (Conv-4, VGG-Small, ResNet-18, WRN-50-2 by default, all at CIFAR-10 shape
3x32x32, synthetic tensors), each precision (fp32, bf16 autocast), each memory format
(channels_last, contiguous) and optionally under ``torch.compile``, five variants take
``warmup`` untimed and ``steps`` timed SGD steps (momentum 0.9) from the same seed:

- ``dense``: weight training;
- ``edge-popup``: top-k scores, ``W_eff = W m`` (layerwise);
- ``biprop-layerwise`` / ``biprop-global``: MPT-1/32, ``W_eff = alpha sign(W) m``;
- ``masked``: LTH, fixed masks at density ``keep`` folded into the weights plus
  ``enforce_masks_`` after every step, as an IMP level trains.

A row gives steps/s, samples/s, ms/step, the peak memory (CUDA allocator peak; None elsewhere)
and ``overhead_vs_dense``: the variant's step time over the dense step's in the same model,
precision, format and compile setting. :func:`projected_run` turns the measured ResNet-18
biprop step into the wall time of the published MPT-1/32 ResNet-18 CIFAR-10 run
(:data:`MPT_RESNET18_RUN`: 250 epochs of 50,000 images at batch 256, k = 0.2), training steps
only (no data loading, no evaluation). Runs on any device; on the CPU only at a tiny size.

:func:`bench_data` measures the input pipeline on synthetic CIFAR-10-shaped uint8 images with
the training augmentation (crop with padding 4, horizontal flip, normalisation), through
:class:`empirical.data.Batches` both ways: ``device`` (the images on the device as uint8,
augmented there in batches: :mod:`empirical.device_data`) and ``loader`` (torchvision transforms
on PIL images in ``DataLoader`` workers, then copied to the device). A row gives the dense
training steps/s with that input and the batches/s of the input alone.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from empirical.device import peak_memory, select_device
from empirical.errors import InputError

GPU_MODELS = ("conv4", "vgg-small", "resnet18", "wrn50-2")
VARIANTS = ("dense", "edge-popup", "biprop-layerwise", "biprop-global", "masked")
PRECISIONS = ("fp32", "bf16")
MEMORY_FORMATS = ("channels_last", "contiguous")
CIFAR_SHAPE = (3, 32, 32)
CIFAR_CLASSES = 10

MPT_RESNET18_RUN = {"epochs": 250, "images": 50_000, "batch": 256, "keep": 0.2}
"""The published MPT-1/32 ResNet-18 CIFAR-10 run (Diffenderfer & Kailkhura 2021; preset
``resnet18-mpt-1/32``): epochs, training images, batch size, kept fraction."""


@dataclass(frozen=True)
class GpuBenchRow:
    """One measured configuration."""

    model: str
    variant: str
    precision: str
    memory_format: str
    compiled: bool
    batch: int
    keep: float
    steps_per_s: float
    samples_per_s: float
    step_ms: float
    peak_mem_mb: float | None
    overhead_vs_dense: float

    def as_dict(self) -> dict[str, Any]:
        """The row as a plain dict."""
        return asdict(self)


def build_bench_variant(model_name: str, variant: str, keep: float, width_mult: float = 1.0
                        ) -> nn.Module:
    """The model of one variant at CIFAR-10 shape, seeded with 0, on the CPU.

    ``masked`` gets one-shot layerwise magnitude masks at density ``keep``; score variants have
    only their scores (and BatchNorm affine parameters) trainable.
    """
    from empirical.algorithms import pruning
    from empirical.algorithms.builders import freeze_for_score_training
    from empirical.algorithms.model_masks import prunable_weights, set_masks_
    from empirical.config.hparams import ModelHparams
    from empirical.layers import SCORE_MODES, LayerConfig
    from empirical.models import build_model

    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    mode, _, scope = variant.partition("-") if variant.startswith("biprop") else (variant, "", "")
    cfg = LayerConfig(mode=mode, keep=keep if mode in SCORE_MODES else 1.0,
                      scope=scope or "layerwise")
    torch.manual_seed(0)
    model = build_model(ModelHparams(model_name, width_mult=width_mult), CIFAR_CLASSES, CIFAR_SHAPE,
                        cfg)
    if mode in SCORE_MODES:
        freeze_for_score_training(model)
    if mode == "masked":
        weights = prunable_weights(model)
        set_masks_(model, pruning.prune_to_density(weights, pruning.all_ones(weights), keep))
    return model


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_training_steps(model: nn.Module, batch: int, steps: int, warmup: int,
                        device: torch.device, bf16: bool, channels_last: bool,
                        compile_model: bool = False) -> tuple[float, float, float | None]:
    """Wall and CPU seconds per SGD step of ``model`` on synthetic CIFAR-shaped tensors.

    The model moves to ``device`` (channels_last memory when asked), is optionally compiled,
    and trains with SGD (lr 0.1, momentum 0.9) under bf16 autocast when ``bf16``; masked (LTH)
    layers train folded with ``enforce_masks_`` after each step. Returns the wall seconds, the
    CPU seconds of this process per step and the CUDA peak memory in MiB (None elsewhere).
    """
    from empirical.layers import enforce_masks_, folded_masks, prunable_layers

    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    masked = any(layer.mode == "masked" for _, layer in prunable_layers(model))
    runner = torch.compile(model) if compile_model else model
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batch, *CIFAR_SHAPE, generator=generator).to(device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, CIFAR_CLASSES, (batch,), generator=generator).to(device)
    precision = (torch.autocast(device.type, dtype=torch.bfloat16) if bf16
                 else contextlib.nullcontext())

    def step() -> None:
        with precision:
            loss = nn.functional.cross_entropy(runner(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if masked:
            enforce_masks_(model)

    with folded_masks(model) if masked else contextlib.nullcontext():
        for _ in range(warmup):
            step()
        _sync(device)
        with peak_memory(device) as peak:
            start, cpu_start = time.perf_counter(), time.process_time()
            for _ in range(steps):
                step()
            _sync(device)
            seconds = (time.perf_counter() - start) / steps
            cpu_seconds = (time.process_time() - cpu_start) / steps
    return seconds, cpu_seconds, peak["bytes"] / 2**20 if device.type == "cuda" else None


def _check_choices(values: Sequence[str], allowed: Sequence[str], what: str) -> None:
    if not values:
        raise InputError(f"{{{what}}}: give at least one of {{choices}}",
                         choices=", ".join(allowed))
    for value in values:
        if value not in allowed:
            raise InputError(f"{{{what}}}: unknown {{got!r}}; choose from {{choices}}",
                             got=value, choices=", ".join(allowed))


def bench_gpu(models: Sequence[str] = GPU_MODELS, variants: Sequence[str] = VARIANTS,
              precisions: Sequence[str] = PRECISIONS,
              memory_formats: Sequence[str] = MEMORY_FORMATS, compile_model: bool = False,
              batch: int = 256, steps: int = 10, warmup: int = 3, keep: float = 0.2,
              width_mult: float = 1.0, device: str = "auto",
              on_row: Callable[[GpuBenchRow], None] | None = None) -> list[GpuBenchRow]:
    """Measure every (model, precision, memory format, variant) on one device.

    Parameters
    ----------
    models, variants, precisions, memory_formats
        Subsets of :data:`GPU_MODELS`, :data:`VARIANTS`, :data:`PRECISIONS`,
        :data:`MEMORY_FORMATS`; ``dense`` is always measured first (the overhead's reference).
    compile_model
        ``torch.compile`` every model (the first warm-up steps then include compilation).
    batch, steps, warmup
        Batch size, timed steps and untimed steps per configuration.
    keep
        Kept fraction of the score variants and density of the LTH masks.
    width_mult
        Width multiplier of every model (tiny sizes for CPU checks).
    device
        ``auto``, ``cuda``, ``cpu``, ...
    on_row
        Called with each row as soon as it is measured (progress on a long check).

    Returns
    -------
    list of GpuBenchRow
    """
    from empirical.topk import kept_count

    _check_choices(models, GPU_MODELS, "model")
    _check_choices(variants, VARIANTS, "variant")
    _check_choices(precisions, PRECISIONS, "precision")
    _check_choices(memory_formats, MEMORY_FORMATS, "memory_format")
    for value, what in ((batch, "batch_size"), (steps, "steps")):
        if value < 1:
            raise InputError(f"{{{what}}} must be >= 1, got {{got}}", got=value)
    if warmup < 0:
        raise InputError("{warmup} must be >= 0, got {got}", got=warmup)
    kept_count(1, keep)  # rejects k outside (0, 1]
    if not width_mult > 0:
        raise InputError("{width_mult} must be > 0, got {got}", got=width_mult)
    target = select_device(device)
    ordered = ["dense", *[v for v in variants if v != "dense"]]
    rows = []
    for model_name in models:
        for precision in precisions:
            for memory_format in memory_formats:
                dense_seconds = math.nan
                for variant in ordered:
                    seconds, _, peak = time_training_steps(
                        build_bench_variant(model_name, variant, keep, width_mult), batch, steps,
                        warmup, target, precision == "bf16", memory_format == "channels_last",
                        compile_model)
                    if variant == "dense":
                        dense_seconds = seconds
                    row = GpuBenchRow(model_name, variant, precision, memory_format,
                                      compile_model, batch, keep, 1 / seconds,
                                      batch / seconds,
                                      1e3 * seconds, peak, seconds / dense_seconds)
                    if target.type == "cuda":
                        torch.cuda.empty_cache()
                    if on_row is not None:
                        on_row(row)
                    if variant in variants:
                        rows.append(row)
    return rows


def projected_run(rows: Sequence[GpuBenchRow]) -> dict[str, Any] | None:
    """Wall time of the published MPT-1/32 ResNet-18 run from the fastest measured step.

    ``steps = epochs * ceil(images / batch)`` (250 * 196 = 49,000) times the fastest ResNet-18
    ``biprop-layerwise`` step measured at batch 256 and k = 0.2 (any precision, format, compile
    setting); training steps only. None when no such row was measured.
    """
    run = MPT_RESNET18_RUN
    candidates = [r for r in rows if r.model == "resnet18" and r.variant == "biprop-layerwise"
                  and r.batch == run["batch"] and r.keep == run["keep"]]
    if not candidates:
        return None
    best = min(candidates, key=lambda r: r.step_ms)
    steps = run["epochs"] * math.ceil(run["images"] / run["batch"])
    return {"projection": "MPT-1/32 ResNet-18 CIFAR-10, 250 epochs x 50,000 images, batch 256",
            "steps": steps, "step_ms": best.step_ms, "precision": best.precision,
            "memory_format": best.memory_format, "compiled": best.compiled,
            "projected_minutes": steps * best.step_ms / 1e3 / 60}


DATA_PATHS = ("device", "loader")


@dataclass(frozen=True)
class DataBenchRow:
    """The input pipeline of one model: training and input-only throughput."""

    model: str
    data: str
    batch: int
    workers: int
    steps_per_s: float
    samples_per_s: float
    input_batches_per_s: float
    speedup_vs_loader: float

    def as_dict(self) -> dict[str, Any]:
        """The row as a plain dict."""
        return asdict(self)


def synthetic_cifar_batches(path: str, images: int, batch: int, device: torch.device,
                            workers: int) -> Any:
    """Seeded training batches of ``images`` random CIFAR-shaped uint8 images, augmented.

    ``path`` ``device``: :class:`empirical.device_data.DeviceImages` (crop padding 4, flip);
    ``loader``: the torchvision training transform of CIFAR-10 in ``workers`` loader processes.
    """
    from empirical.data import (
        CIFAR_CROP_PADDING,
        CIFAR_MEAN,
        CIFAR_STD,
        Batches,
        CifarBatches,
        torchvision_transforms,
    )
    from empirical.device_data import DeviceImages

    generator = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (images, 32, 32, 3), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, CIFAR_CLASSES, (images,), generator=generator)
    if path == "device":
        dataset: Any = DeviceImages(pixels.permute(0, 3, 1, 2).contiguous(), labels, CIFAR_MEAN,
                                    CIFAR_STD, pad=CIFAR_CROP_PADDING, flip=True)
    else:
        dataset = CifarBatches.from_arrays(pixels.numpy(), labels.tolist(),
                                           torchvision_transforms("cifar10", True))
    return Batches(dataset, batch, seed=0, device=device, num_workers=workers)


def time_input_steps(model: nn.Module, batches: Any, steps: int, warmup: int,
                     device: torch.device, train: bool) -> float:
    """Seconds per step over epoch 0 of ``batches``: an SGD step of ``model`` on each batch
    (``train``) or only producing the batch on the device."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if train else None
    start = 0.0
    for index, (x, y) in enumerate(batches.epoch(0)):
        if index == warmup:
            _sync(device)
            start = time.perf_counter()
        if optimizer is not None:
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    _sync(device)
    return (time.perf_counter() - start) / steps


def bench_data(models: Sequence[str] = GPU_MODELS, batch: int = 256, steps: int = 10,
               warmup: int = 3, workers: int = 4, width_mult: float = 1.0,
               device: str = "auto") -> list[DataBenchRow]:
    """Dense fp32 training with each input pipeline of :data:`DATA_PATHS`, per model.

    Parameters
    ----------
    models
        Subset of :data:`GPU_MODELS`.
    batch, steps, warmup
        Batch size, timed and untimed steps (one epoch of ``batch * (warmup + steps)`` images).
    workers
        ``DataLoader`` workers of the ``loader`` path.
    width_mult
        Width multiplier of every model.
    device
        ``auto``, ``cuda``, ``cpu``, ...

    Returns
    -------
    list of DataBenchRow
        ``speedup_vs_loader``: the loader path's training step time over this path's.
    """
    _check_choices(models, GPU_MODELS, "model")
    target = select_device(device)
    rows = []
    for model_name in models:
        measured = {}
        for path in DATA_PATHS:
            batches = synthetic_cifar_batches(path, batch * (warmup + steps), batch, target,
                                              workers)
            model = build_bench_variant(model_name, "dense", 1.0, width_mult).to(target)
            measured[path] = (time_input_steps(model, batches, steps, warmup, target, True),
                              time_input_steps(model, batches, steps, warmup, target, False))
        for path in DATA_PATHS:
            train_s, input_s = measured[path]
            rows.append(DataBenchRow(model_name, path, batch, workers if path == "loader" else 0,
                                     1 / train_s, batch / train_s, 1 / input_s,
                                     measured["loader"][0] / train_s))
    return rows
