"""Training-step throughput of score training against a sort-every-forward baseline and dense.

Three variants of the same architecture at CIFAR-10 shape (3x32x32, synthetic tensors):

- ``ours``: the layer factory in score mode (top-k mask by ``torch.topk``/``kthvalue``);
- ``sort``: the reference implementations' mask, which sorts all of a layer's ``|scores|`` on
  every forward pass and zeroes the ``floor((1-k) n)`` smallest (straight-through gradient);
- ``dense``: ordinary weight training of the dense model.

Each variant takes ``warmup`` untimed SGD steps, then ``steps`` timed ones; throughput is
samples per second, and peak memory is the CUDA peak allocation on GPUs, the peak resident set
size of a fresh process per variant elsewhere. Off CUDA the CPU seconds of the variant's process
per step are reported too: on a machine shared with other jobs they are the steadier figure, and
``cpu_ratio_to_dense`` (our step's CPU time over the dense step's) is the score-mask overhead.
"""

from __future__ import annotations

import multiprocessing
import resource
import types
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from empirical.device import select_device
from empirical.layers import SCORE_MODES

BENCH_MODELS = ("conv4", "conv6", "vgg-small", "resnet18")
CIFAR_SHAPE = (3, 32, 32)
CIFAR_CLASSES = 10


class _SortedTopMask(torch.autograd.Function):
    """The reference mask: full sort of ``|s|``, zero the ``floor((1-k) n)`` smallest; STE."""

    @staticmethod
    def forward(ctx: Any, scores: torch.Tensor, keep: float) -> torch.Tensor:
        flat = scores.abs().flatten()
        order = flat.sort().indices
        mask = torch.ones_like(flat)
        mask[order[: int((1 - keep) * flat.numel())]] = 0
        return mask.view_as(scores)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad, None


def _sorted_effective_weight(layer: nn.Module, mode: str, keep: float) -> Any:
    def effective_weight(self: nn.Module) -> torch.Tensor:
        mask = _SortedTopMask.apply(self.scores, keep)
        if mode == "edge-popup":
            return self.weight * mask
        alpha = (self.weight.abs() * mask).sum() / mask.sum()
        return alpha.detach() * torch.sign(self.weight) * mask

    return types.MethodType(effective_weight, layer)


def build_variant(model_name: str, mode: str, variant: str, keep: float) -> nn.Module:
    """The model for one variant (``ours``, ``sort`` or ``dense``), seeded with 0."""
    from empirical.algorithms.builders import freeze_for_score_training
    from empirical.config.hparams import ModelHparams
    from empirical.layers import LayerConfig, prunable_layers
    from empirical.models import build_model

    torch.manual_seed(0)
    cfg = LayerConfig(mode="dense" if variant == "dense" else mode, keep=keep)
    model = build_model(ModelHparams(model_name), CIFAR_CLASSES, CIFAR_SHAPE, cfg)
    if variant != "dense":
        freeze_for_score_training(model)
    if variant == "sort":
        for _, layer in prunable_layers(model):
            layer.effective_weight = _sorted_effective_weight(layer, mode, keep)
    return model


@dataclass(frozen=True)
class BenchRow:
    """One measurement: samples/s and peak memory of a variant."""

    model: str
    mode: str
    variant: str
    batch_size: int
    samples_per_s: float
    step_ms: float
    cpu_step_ms: float | None
    peak_mem_mb: float | None


def time_steps(model: nn.Module, batch_size: int, steps: int, warmup: int,
               device: torch.device) -> tuple[float, float, float | None]:
    """Wall and CPU seconds per SGD step over ``steps`` timed steps, and the CUDA peak in MiB.

    :func:`empirical.bench.gpu.time_training_steps` with the training defaults of a run: bf16
    autocast and channels_last memory on CUDA only.
    """
    from empirical.bench.gpu import time_training_steps

    cuda = device.type == "cuda"
    return time_training_steps(model, batch_size, steps, warmup, device, bf16=cuda,
                               channels_last=cuda)


def measure_variant(model_name: str, mode: str, variant: str, keep: float, batch_size: int,
                    steps: int, warmup: int, device: str, threads: int
                    ) -> tuple[float, float, float | None]:
    """Wall and CPU seconds per step of one variant and its peak memory in MiB.

    On CUDA the peak is the allocator's peak; elsewhere it is the peak resident set size of the
    calling process (:func:`bench_model` calls this in a fresh process per variant, so the figure
    is that variant's, torch runtime included).
    """
    torch.set_num_threads(threads)
    target = torch.device(device)
    seconds, cpu_seconds, peak = time_steps(build_variant(model_name, mode, variant, keep),
                                            batch_size, steps, warmup, target)
    if target.type != "cuda":
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return seconds, cpu_seconds, peak


def bench_model(model_name: str, mode: str = "biprop", keep: float = 0.5, batch_size: int = 16,
                steps: int = 3, warmup: int = 1, device: str = "auto") -> list[dict[str, Any]]:
    """Measure ``ours``, ``sort`` and ``dense`` for one model; rows with ratios to ``ours``.

    Returns
    -------
    list of dict
        One row per variant: samples/s, ms/step (wall; CPU ms off CUDA), peak MiB,
        ``ratio_to_ours`` = (variant's step time) / (our step time), ``ratio_to_dense`` and
        ``cpu_ratio_to_dense`` = (variant's wall / CPU step time) / (the dense step's).
    """
    if model_name not in BENCH_MODELS:
        raise ValueError(f"unknown benchmark model {model_name!r}; choose one of "
                         f"{', '.join(BENCH_MODELS)}")
    if mode not in SCORE_MODES:
        raise ValueError(f"benchmark mode must be one of {', '.join(SCORE_MODES)}, got {mode!r}")
    target = select_device(device)
    rows = []
    for variant in ("ours", "sort", "dense"):
        job = (model_name, mode, variant, keep, batch_size, steps, warmup, str(target),
               torch.get_num_threads())
        if target.type == "cuda":
            seconds, cpu_seconds, peak = measure_variant(*job)
        else:  # a fresh process per variant, so its peak RSS is the variant's own
            context = multiprocessing.get_context("spawn")
            with context.Pool(1) as pool:
                seconds, cpu_seconds, peak = pool.apply(measure_variant, job)
        cpu_ms = None if target.type == "cuda" else 1000 * cpu_seconds
        rows.append(BenchRow(model_name, mode, variant, batch_size, batch_size / seconds,
                             1000 * seconds, cpu_ms, peak).__dict__)
    ours, dense = rows[0], rows[-1]
    for row in rows:
        row["ratio_to_ours"] = row["step_ms"] / ours["step_ms"]
        row["ratio_to_dense"] = row["step_ms"] / dense["step_ms"]
        row["cpu_ratio_to_dense"] = (None if row["cpu_step_ms"] is None
                                     else row["cpu_step_ms"] / dense["cpu_step_ms"])
    return rows
