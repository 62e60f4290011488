"""IMP overhead: a pruned training step against a dense one, and the time to prune one level.

For each model at its dataset's shape (synthetic tensors; LeNet-300-100 at MNIST shape, ResNet-20
at CIFAR-10 shape) two copies start from the same initialisation:

- ``dense``: layer mode ``"dense"``, an ordinary SGD step (momentum 0.9, weight decay 1e-4);
- ``pruned``: layer mode ``"masked"`` with masks at ``density`` (one-shot magnitude pruning)
  inside :func:`empirical.layers.folded_masks` (the forward uses the zeroed weights directly)
  plus its re-zeroing after the step, exactly what an IMP level runs;
- ``unfolded``: the same masked model without folding, ``W m`` in every forward (and ``m`` times
  the gradient in every backward): the previous IMP step, measured in the same process.

The three are timed in alternating blocks of ``steps`` steps, or of as many as fill
``MIN_BLOCK_SECONDS`` (after ``warmup`` untimed ones); the fastest block of each is kept, which
discounts interference from other processes. Pruning a level is
:func:`empirical.algorithms.pruning.magnitude_prune` (layerwise, rate 0.2) plus writing the masks
into the model, timed the same way.
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

from empirical.algorithms import pruning
from empirical.algorithms.model_masks import model_masks, prunable_weights, set_masks_
from empirical.device import prepare_model, select_device

MIN_BLOCK_SECONDS = 0.25
BENCH_MODELS = {"lenet-300-100": (1, 28, 28), "resnet20": (3, 32, 32)}
NUM_CLASSES = 10
LEVEL_RATE = 0.2


@dataclass(frozen=True)
class LTHBenchRow:
    """One model's timings (milliseconds) and the pruned/dense ratio."""

    model: str
    device: str
    batch: int
    density: float
    weights: int
    dense_step_ms: float
    pruned_step_ms: float
    unfolded_step_ms: float
    step_ratio: float
    unfolded_ratio: float
    prune_level_ms: float
    prune_global_ms: float

    def as_dict(self) -> dict[str, Any]:
        """The row as a plain dict."""
        return asdict(self)


def _build(name: str, mode: str) -> nn.Module:
    from empirical.config.hparams import ModelHparams
    from empirical.layers import LayerConfig
    from empirical.models import build_model

    torch.manual_seed(0)
    return build_model(ModelHparams(name), NUM_CLASSES, BENCH_MODELS[name], LayerConfig(mode=mode))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _stepper(model: nn.Module, x: torch.Tensor, y: torch.Tensor, masked: bool,
             stack: contextlib.ExitStack | None) -> Callable[[], None]:
    """One SGD step of ``model``; a ``masked`` model is folded for as long as ``stack`` is open
    when ``stack`` is given (None: the unfolded masked step)."""
    from empirical.layers import enforce_masks_, folded_masks

    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    enforce = (stack.enter_context(folded_masks(model)) if masked and stack is not None
               else lambda: enforce_masks_(model))

    def step() -> None:
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if masked:
            enforce()

    return step


def _best_block(fns: Sequence[Callable[[], None]], steps: int, rounds: int,
                device: torch.device) -> list[float]:
    """Seconds per call of each function: the fastest of ``rounds`` alternating blocks.

    A block is ``steps`` calls, or more when that is shorter than :data:`MIN_BLOCK_SECONDS` (a
    pilot block sets the count, the same for every function), so that millisecond steps are
    not timed at the clock's and the scheduler's resolution.
    """
    def block(fn: Callable[[], None], calls: int) -> float:
        _sync(device)
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        _sync(device)
        return (time.perf_counter() - start) / calls

    pilot = max(block(fn, steps) for fn in fns)
    calls = max(steps, math.ceil(MIN_BLOCK_SECONDS / max(pilot, 1e-9)))
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            best[i] = min(best[i], block(fn, calls))
    return best


def bench_model(name: str, batch: int = 128, steps: int = 10, warmup: int = 3, rounds: int = 3,
                density: float = 0.2, device: str = "auto") -> LTHBenchRow:
    """Time a dense and a pruned training step and one pruning level of model ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`BENCH_MODELS`.
    batch : int
        Batch size of the synthetic tensors.
    steps, warmup, rounds : int
        Timed steps per block (at least; see :func:`_best_block`), untimed steps first,
        alternating blocks per variant.
    density : float
        Density of the pruned model's masks.
    device : str
        ``auto``, ``cpu``, ``cuda``, ...

    Returns
    -------
    LTHBenchRow
    """
    if name not in BENCH_MODELS:
        raise ValueError(f"unknown benchmark model {name!r}; choose one of "
                         f"{', '.join(BENCH_MODELS)}")
    for value, what in ((batch, "batch"), (steps, "steps"), (rounds, "rounds")):
        if value < 1:
            raise ValueError(f"{what} must be >= 1, got {value}")
    dev = select_device(device)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, *BENCH_MODELS[name], generator=gen).to(dev)
    y = torch.randint(0, NUM_CLASSES, (batch,), generator=gen).to(dev)
    dense = prepare_model(_build(name, "dense"), dev, channels_last=False)
    masked = prepare_model(_build(name, "masked"), dev, channels_last=False)
    unfolded = prepare_model(_build(name, "masked"), dev, channels_last=False)
    weights = prunable_weights(masked)
    masks = pruning.prune_to_density(weights, pruning.all_ones(weights), density)
    set_masks_(masked, masks)
    set_masks_(unfolded, masks)
    with contextlib.ExitStack() as stack:
        steppers = [_stepper(dense, x, y, False, stack), _stepper(masked, x, y, True, stack),
                    _stepper(unfolded, x, y, True, None)]
        for fn in steppers:
            for _ in range(warmup):
                fn()
        dense_s, pruned_s, unfolded_s = _best_block(steppers, steps, rounds, dev)
    current = model_masks(masked)
    rates = pruning.layer_rates(weights, LEVEL_RATE)

    def prune_layerwise() -> None:
        set_masks_(masked, pruning.magnitude_prune(prunable_weights(masked), current, rates))

    def prune_global() -> None:
        set_masks_(masked, pruning.magnitude_prune(prunable_weights(masked), current, LEVEL_RATE,
                                                   scope="global"))

    layer_s, global_s = _best_block([prune_layerwise, prune_global], 1, rounds, dev)
    return LTHBenchRow(
        model=name, device=str(dev), batch=batch, density=pruning.density(masks).overall,
        weights=pruning.density(masks).n_total, dense_step_ms=1e3 * dense_s,
        pruned_step_ms=1e3 * pruned_s, unfolded_step_ms=1e3 * unfolded_s,
        step_ratio=pruned_s / dense_s, unfolded_ratio=unfolded_s / dense_s,
        prune_level_ms=1e3 * layer_s, prune_global_ms=1e3 * global_s)


def bench_lth(models: Sequence[str] = tuple(BENCH_MODELS), **kwargs: Any) -> list[LTHBenchRow]:
    """:func:`bench_model` for each of ``models`` (keyword arguments passed through)."""
    return [bench_model(name, **kwargs) for name in models]
