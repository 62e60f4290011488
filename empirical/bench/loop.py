"""The project's training loop against a minimal PyTorch loop of the same model, batch and steps.

For one run (the :class:`empirical.config.hparams.RunHparams` of a dense or biprop run, or the
:class:`empirical.config.lth_hparams.LTHHparams` of an IMP level) both loops start from the same
weights in one process and train ``steps`` steps on the same in-memory tensors, evaluating on the
validation and test splits at the recipe's cadence (every ``eval_every`` steps, else at the end
of every epoch, and after the last step):

- ``project``: :func:`empirical.algorithms.train.fit` on the run's model (the layer factory) and
  :class:`empirical.data.Batches`, with a :class:`empirical.storage.store.RunStore` in a fresh
  temporary directory (metrics, and checkpoints at the default interval
  ``RuntimeConfig.checkpoint_seconds``: after the last step of a round this short), as
  ``run_mpt`` and ``run_level`` call it;
- ``minimal``: a copy of the model whose factory layers are plain ``nn.Linear`` / ``nn.ConvNd``
  (dense), the same plain layer driven by a top-k score mask with a straight-through gradient
  and the gain ``alpha = sum(|W| m) / sum(m)`` (biprop, the reference code's ``GetSubnet``), or
  the plain layer whose pruned weights are zeroed after each step (an IMP level); batches by
  indexing a random permutation; ``torch.optim`` with the recipe's optimiser, momentum and weight
  decay at the constant peak learning rate; no checkpoints, no metrics file.

The two alternate for ``rounds`` rounds and the fastest round of each is kept (other processes
only ever slow a round down); the least CPU seconds of the process per round are kept too, and
their ratio (``cpu_ratio``) is the steadier figure on a machine shared with other jobs. A step's
time includes its share of the evaluations and checkpoints. Work is
counted as ``6 B M`` FLOPs per training step and ``2 M`` per evaluated example, ``M`` the
multiply-accumulates of one example's forward pass through the linear and conv layers (the
forward, input-gradient and weight-gradient products; masks do not reduce dense work); it is
reported as GFLOP/s against the machine's fp32 matmul peak, measured in the same process
(:func:`matmul_peak_gflops`).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from empirical.config.hparams import RunHparams, RuntimeConfig
from empirical.config.lth_hparams import LTHHparams
from empirical.device import Distributed, select_device

PEAK_SIZE = 2048


@dataclass(frozen=True)
class LoopRow:
    """One run's timings: milliseconds per step of both loops (wall clock), their ratio, the ratio
    of their CPU seconds, and the work done per wall-clock second."""

    model: str
    variant: str
    batch: int
    steps: int
    evaluations: int
    project_ms: float
    minimal_ms: float
    ratio: float
    cpu_ratio: float
    project_gflops: float
    minimal_gflops: float
    peak_gflops: float

    def as_dict(self) -> dict[str, Any]:
        """The row as a plain dict."""
        return asdict(self)


def matmul_peak_gflops(device: torch.device, size: int = PEAK_SIZE, repeats: int = 3) -> float:
    """fp32 GFLOP/s of the fastest of ``repeats`` ``size x size`` matrix products (``2 n^3``)."""
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(size, size, generator=generator).to(device) for _ in range(2))
    out = torch.empty_like(a)
    best = math.inf
    for _ in range(repeats + 1):  # the first product warms up
        _sync(device)
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best / 1e9


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forward_macs(model: nn.Module, example: torch.Tensor) -> int:
    """Multiply-accumulates of one example's forward pass through the factory layers."""
    from empirical.layers import prunable_layers

    total = 0

    def count(layer: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        per_output = (layer.in_features if isinstance(layer, nn.Linear)
                      else layer.in_channels // layer.groups * math.prod(layer.kernel_size))
        total += output[0].numel() * per_output

    probe = copy.deepcopy(model).eval()
    hooks = [layer.register_forward_hook(count) for _, layer in prunable_layers(probe)]
    with torch.no_grad():
        probe(example[None])
    for hook in hooks:
        hook.remove()
    return total


class _TopK(torch.autograd.Function):
    """The reference code's ``GetSubnet``: 1 at the ``k`` largest ``|s|``, straight-through."""

    @staticmethod
    def forward(ctx: Any, magnitudes: torch.Tensor, kept: int) -> torch.Tensor:
        mask = torch.zeros_like(magnitudes)
        mask.view(-1)[magnitudes.flatten().topk(kept, sorted=False).indices] = 1
        return mask

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad, None


class _PlainBiprop(nn.Module):
    """A plain layer whose weight is ``alpha sign(W) m``, ``m`` the top-k mask of its scores."""

    def __init__(self, plain: nn.Module, scores: torch.Tensor, kept: int) -> None:
        super().__init__()
        self.plain, self.kept = plain, kept
        self.scores = nn.Parameter(scores.detach().clone())
        plain.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.plain.weight
        mask = _TopK.apply(self.scores.abs(), self.kept)
        alpha = (weight.abs() * mask).sum() / mask.sum()
        effective = alpha * weight.sign() * mask
        if isinstance(self.plain, nn.Linear):
            return F.linear(x, effective, self.plain.bias)
        return self.plain._conv_forward(x, effective, self.plain.bias)


def _plain_layer(layer: nn.Module) -> nn.Module:
    """``nn.Linear`` / ``nn.Conv1d`` / ``nn.Conv2d`` holding a copy of a factory layer's tensors."""
    bias = layer.bias is not None
    if isinstance(layer, nn.Linear):
        plain: nn.Module = nn.Linear(layer.in_features, layer.out_features, bias=bias)
    else:
        cls = nn.Conv1d if isinstance(layer, nn.Conv1d) else nn.Conv2d
        plain = cls(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                    layer.padding, layer.dilation, layer.groups, bias, layer.padding_mode)
    with torch.no_grad():
        plain.weight.copy_(layer.weight)
        if bias:
            plain.bias.copy_(layer.bias)
    return plain.to(layer.weight.device)


def minimal_model(model: nn.Module) -> tuple[nn.Module, list[tuple[torch.Tensor, torch.Tensor]]]:
    """A copy of ``model`` with plain torch layers, and its ``(weight, mask)`` pairs (IMP).

    Every factory layer becomes :func:`_plain_layer` of it: as is in ``dense`` mode, with the
    pruned weights zeroed in ``masked`` mode (the pair is returned so that the loop zeroes them
    after each step), inside :class:`_PlainBiprop` in ``biprop`` mode. Everything else (BatchNorm,
    activations, the model's own ``forward``) is the copy of the model's.
    """
    from empirical.layers import prunable_layers
    from empirical.topk import kept_count

    plain_model = copy.deepcopy(model)
    pairs = []
    for name, layer in prunable_layers(plain_model):
        if layer.mode not in ("dense", "masked", "biprop"):
            raise ValueError(f"layer mode {layer.mode!r} has no minimal counterpart")
        plain = _plain_layer(layer)
        replacement: nn.Module = plain
        if layer.mode == "masked":
            mask = layer.mask.detach().clone()
            with torch.no_grad():
                plain.weight.mul_(mask)
            pairs.append((plain.weight, mask))
        elif layer.mode == "biprop":
            replacement = _PlainBiprop(plain, layer.scores, kept_count(layer.scores.numel(),
                                                                       layer.keep))
        parent_name, _, attribute = name.rpartition(".")
        setattr(plain_model.get_submodule(parent_name), attribute, replacement)
    return plain_model, pairs


def evaluation_steps(total: int, period: int) -> list[int]:
    """The steps after which :func:`empirical.algorithms.train.fit` evaluates: every ``period``
    (``eval_every``, else the steps per epoch) and the last step."""
    return sorted({*range(period, total + 1, period), total})


def _optimizer(params: list[nn.Parameter], training: Any) -> torch.optim.Optimizer:
    if training.optimizer == "sgd":
        return torch.optim.SGD(params, lr=training.lr, momentum=training.momentum,
                               nesterov=training.nesterov, weight_decay=training.decay)
    cls = torch.optim.Adam if training.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=training.lr, betas=(training.momentum, 0.999),
               weight_decay=training.decay)


@torch.no_grad()
def _minimal_evaluate(model: nn.Module, splits: list[tuple[torch.Tensor, ...]],
                      batch: int) -> list[float]:
    model.eval()
    scores = []
    for x_all, y_all in splits:
        loss, correct = 0.0, 0
        for start in range(0, len(y_all), batch):
            x, y = x_all[start:start + batch], y_all[start:start + batch]
            logits = model(x)
            loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += int((logits.argmax(1) == y).sum())
        scores += [loss / len(y_all), correct / len(y_all)]
    model.train()
    return scores


def minimal_fit(model: nn.Module, pairs: list[tuple[torch.Tensor, torch.Tensor]],
                train: tuple[torch.Tensor, torch.Tensor], evals: list[tuple[torch.Tensor, ...]],
                training: Any, batch: int, steps: int, eval_at: list[int]) -> None:
    """The minimal loop: permuted batches, cross-entropy, ``torch.optim``, mask, evaluate."""
    optimizer = _optimizer([p for p in model.parameters() if p.requires_grad], training)
    x_all, y_all = train
    per_epoch = len(y_all) // batch
    generator = torch.Generator().manual_seed(0)
    evaluate_after = set(eval_at)
    model.train()
    for step in range(steps):
        b = step % per_epoch
        if b == 0:
            order = torch.randperm(len(y_all), generator=generator).to(y_all.device)
        idx = order[b * batch:(b + 1) * batch]
        loss = F.cross_entropy(model(x_all[idx]), y_all[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            for weight, mask in pairs:
                weight.mul_(mask)
        if step + 1 in evaluate_after:
            _minimal_evaluate(model, evals, batch)


def _project_model(hparams: RunHparams | LTHHparams, device: torch.device) -> nn.Module:
    """The run's model on ``device``: an IMP level's with one level of magnitude pruning."""
    from empirical.device import prepare_model

    if isinstance(hparams, LTHHparams):
        from empirical.algorithms import pruning
        from empirical.algorithms.lth import build_lth_model, prunable_weights, set_masks_

        model = build_lth_model(hparams, hparams.training.seed)
        weights = prunable_weights(model)
        set_masks_(model, pruning.magnitude_prune(weights, pruning.all_ones(weights),
                                                  hparams.pruning.rate))
    else:
        from empirical.algorithms.builders import build_run_model

        model = build_run_model(hparams)
    conv = len(model_input_shape(hparams)) == 3
    return prepare_model(model, device, channels_last=conv)


def model_input_shape(hparams: RunHparams | LTHHparams) -> tuple[int, ...]:
    """The input shape of one example of the run's dataset."""
    from empirical.data import dataset_info

    return dataset_info(hparams.dataset.name).input_shape


def _best_rounds(fns: list[Callable[[], None]], rounds: int, device: torch.device
                 ) -> list[tuple[float, float]]:
    """``(wall, CPU)`` seconds of each function: the least of each over alternating rounds."""
    best = [(math.inf, math.inf)] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            _sync(device)
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            _sync(device)
            best[i] = (min(best[i][0], time.perf_counter() - wall),
                       min(best[i][1], time.process_time() - cpu))
    return best


def bench_run(label: str, variant: str, hparams: RunHparams | LTHHparams, steps: int = 0,
              rounds: int = 2, device: str = "cpu", data_dir: str | None = None,
              peak_gflops: float | None = None) -> LoopRow:
    """Time both loops on one run (module docstring).

    Parameters
    ----------
    label, variant
        The row's model and variant names.
    hparams
        The run: its dataset must be in memory (MNIST-1D, digits, mnist5k, synthetic).
    steps
        Training steps per round; 0: one evaluation period of the recipe (``eval_every``, else
        one epoch).
    rounds
        Alternating rounds; the fastest of each loop is kept.
    device
        ``auto``, ``cpu``, ``cuda``, ``mps``.
    data_dir
        Dataset directory (only datasets read from disk need one).
    peak_gflops
        The matmul peak; None: measured now (:func:`matmul_peak_gflops`).

    Returns
    -------
    LoopRow
    """
    from empirical.algorithms.builders import keep_schedule
    from empirical.algorithms.mpt import make_batches
    from empirical.algorithms.train import FitHooks, fit
    from empirical.storage.store import RunStore

    where = select_device(device)
    train, val, test = make_batches(hparams, RuntimeConfig(data_dir=data_dir, device=device),
                                    where, Distributed())
    if not train.on_device:
        raise ValueError(f"{hparams.dataset.name}: the loop bench needs an in-memory dataset")
    period = hparams.training.eval_every or train.steps_per_epoch
    steps = steps or period
    training = dataclasses.replace(hparams.training, iterations=steps)
    run = dataclasses.replace(hparams, training=training)
    kind = "lth" if isinstance(hparams, LTHHparams) else hparams.mask.mode
    hooks = FitHooks(keep_schedule=None if kind == "lth" else keep_schedule(hparams))
    project = _project_model(hparams, where)
    minimal, pairs = minimal_model(project)
    batch = hparams.dataset.batch_size
    evals = [split.dataset.tensors for split in (val, test) if split is not None]
    eval_at = evaluation_steps(steps, period)

    with tempfile.TemporaryDirectory(prefix="bench-loop-") as scratch:
        made = []

        def project_round() -> None:
            made.append(None)
            store = RunStore.for_run(f"{scratch}/{len(made)}", kind, run)
            fit(project, train, training, val=val, test=test, store=store, hooks=hooks)

        def minimal_round() -> None:
            minimal_fit(minimal, pairs, train.dataset.tensors, evals, training, batch, steps,
                        eval_at)

        (project_s, project_cpu), (minimal_s, minimal_cpu) = _best_rounds(
            [project_round, minimal_round], rounds, where)
    macs = forward_macs(project, train.dataset.tensors[0][0])
    evaluated = sum(len(t[1]) for t in evals) * len(eval_at)
    flops = 6 * batch * macs * steps + 2 * macs * evaluated
    peak = matmul_peak_gflops(where) if peak_gflops is None else peak_gflops
    return LoopRow(label, variant, batch, steps, len(eval_at), 1e3 * project_s / steps,
                   1e3 * minimal_s / steps, project_s / minimal_s, project_cpu / minimal_cpu,
                   flops / project_s / 1e9, flops / minimal_s / 1e9, peak)
