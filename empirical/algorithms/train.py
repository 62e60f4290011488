"""The one training loop: dense training, score training (edge-popup, biprop) and IMP's rounds.

:func:`fit` trains a model for ``TrainingHparams.epochs`` epochs or ``iterations`` steps. Every
quantity that depends on the position in training is a pure function of the step: the learning rate
(:func:`lr_at`), the data order (:func:`empirical.data.epoch_permutation`) and the keep schedule
(a function of the epoch). Hence training can start at any step ``k`` (rewinding) and a run killed
after an epoch resumes from its checkpoint to the same final weights, bit for bit on the CPU.

After every optimiser step the fixed masks are re-applied (``empirical.layers.folded_masks``, whose
block the loop runs in: masked layers use their already zeroed weights directly), so momentum and
weight decay never revive a pruned weight (IMP); a model without masked layers skips this.
:func:`fit` holds only the step loop; evaluation records, ``metrics.jsonl``, checkpoints,
TensorBoard, captures of the weights and the keep schedule are callbacks
(:mod:`empirical.algorithms.callbacks`).

Learning rate
-------------
Warm-up first: per step, ``lr (s+1)/W`` for steps ``s < W`` (``warmup_start="one"``, the
edge-popup code) or ``lr s/W`` (``"zero"``, open_lth: the first step has lr 0); or per epoch,
``lr (e+1)/W`` for epochs ``e < W`` (``warmup_epochs``, the biprop code's ImageNet recipe). Then
``constant`` ``lr``; ``cosine`` per epoch, ``0.5 (1 + cos(pi e' / E')) lr`` with ``e'`` the epoch
counted from the end of a per-epoch warm-up and ``E'`` the epochs after it; or ``step``,
``lr gamma^m`` with ``m`` the number of milestones ``<= e`` (or ``<= s`` for milestones in
iterations; open_lth: x0.1 at epochs 80 and 120).
``e = s // steps_per_epoch`` throughout.

Reporting
---------
:func:`selection_summary` turns the evaluation records into the numbers a run reports: the FINAL
test accuracy, and the test accuracy at the record of best validation accuracy (selected on data
carved from the training file). The released MPT code reports the best TEST accuracy over epochs;
that number is kept only under the name ``best_test_acc_selected_on_test``.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from empirical.algorithms.callbacks import (
    AfterEpoch,
    Callback,
    Capture,
    Checkpoint,
    Evaluate,
    KeepSchedule,
    Loop,
    MetricsLog,
    OnRecord,
    RunningSums,
    TensorBoard,
    rng_state,
    set_rng_state,
)
from empirical.config.hparams import CHECKPOINT_SECONDS, TrainingHparams
from empirical.data import Batches
from empirical.device import Distributed, autocast
from empirical.errors import InputError
from empirical.memory import compile_stack_lent
from empirical.progress import progress_bar
from empirical.storage.run_files import RunFileError
from empirical.storage.store import RunStore

StateDict = dict[str, Any]
log = logging.getLogger("empirical.storage.store")  # the run store's warnings share one logger


def total_steps(training: TrainingHparams, steps_per_epoch: int) -> int:
    """Training length in optimiser steps: ``iterations`` if > 0, else epochs x steps/epoch."""
    return training.iterations or training.epochs * steps_per_epoch


def lr_at(step: int, training: TrainingHparams, steps_per_epoch: int) -> float:
    """The learning rate of step ``step`` (0-based): warm-up, then constant, cosine or step decay.

    Parameters
    ----------
    step
        Number of optimiser steps taken before this one.
    training
        Supplies ``lr``, the warm-up, ``schedule`` (``milestones``, ``gamma``) and the length.
    steps_per_epoch
        Batches per epoch.

    Returns
    -------
    float
        See the module docstring, "Learning rate".
    """
    epoch = step // steps_per_epoch
    if step < training.warmup_steps:
        offset = 1 if training.warmup_start == "one" else 0
        return training.lr * (step + offset) / training.warmup_steps
    if epoch < training.warmup_epochs:
        return training.lr * (epoch + 1) / training.warmup_epochs
    if training.schedule == "constant":
        return training.lr
    if training.schedule == "step":
        position = epoch if training.milestone_unit == "ep" else step
        passed = sum(1 for m in training.milestones or () if position >= m)
        return training.lr * training.gamma ** passed
    epochs = math.ceil(total_steps(training, steps_per_epoch) / steps_per_epoch)
    after = epochs - training.warmup_epochs
    return 0.5 * (1 + math.cos(math.pi * (epoch - training.warmup_epochs) / after)) * training.lr


def trainable_parameters(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """The ``(name, parameter)`` pairs with ``requires_grad`` (scores, BN affine, dense weights)."""
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def make_optimizer(model: nn.Module, training: TrainingHparams) -> torch.optim.Optimizer:
    """SGD, Adam or AdamW over the trainable parameters.

    Without ``decay_bn_bias`` the one-dimensional parameters (biases, BN gamma/beta) form a
    second group without weight decay.
    """
    params = trainable_parameters(model)
    if not params:
        raise ValueError("the model has no trainable parameters")
    if not training.decay_bn_bias:
        groups = [{"params": [p for _, p in params if p.ndim > 1]},
                  {"params": [p for _, p in params if p.ndim <= 1], "weight_decay": 0.0}]
        groups = [g for g in groups if g["params"]]
    else:
        groups = [{"params": [p for _, p in params]}]
    if training.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=training.lr, momentum=training.momentum,
                               nesterov=training.nesterov, weight_decay=training.decay)
    cls = torch.optim.Adam if training.optimizer == "adam" else torch.optim.AdamW
    return cls(groups, lr=training.lr, betas=(training.momentum, 0.999),
               weight_decay=training.decay)


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside DistributedDataParallel / torch.compile wrappers."""
    while True:
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if inner is None:
            return model
        model = inner


def selection_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The reported numbers of a run's evaluation records (module docstring, "Reporting").

    Parameters
    ----------
    records
        Evaluation records in step order (``step``, ``val_acc``, ``test_acc``, ...).

    Returns
    -------
    dict
        ``final_test_acc`` (the last record's), ``best_val_step`` / ``best_val_acc`` /
        ``test_acc_at_best_val`` (the first record of maximal validation accuracy; None without a
        validation split) and ``best_test_acc_selected_on_test`` (the maximum test accuracy over
        the records, the released MPT code's convention: selected on test, never a result).
    """
    final = records[-1]
    scored = [r for r in records if r.get("val_acc") is not None]
    best = max(scored, key=lambda r: r["val_acc"]) if scored else None  # first maximum wins
    tests = [r["test_acc"] for r in records if r.get("test_acc") is not None]
    return {
        "final_test_acc": final.get("test_acc"),
        "best_val_step": best["step"] if best else None,
        "best_val_acc": best["val_acc"] if best else None,
        "test_acc_at_best_val": best.get("test_acc") if best else None,
        "best_test_acc_selected_on_test": max(tests) if tests else None,
    }


@dataclass
class FitHooks:
    """Callbacks of :func:`fit` (all optional).

    Attributes
    ----------
    capture_steps
        Steps ``k`` at which ``on_capture(k, state)`` receives a deep copy of the model's
        ``state_dict`` taken after ``k`` optimiser steps (``k = 0``: before training) - the rewind
        point of IMP with rewinding. Save it yourself if a rerun must not redo it.
    on_capture
        See ``capture_steps``.
    on_record
        Called with each evaluation record (after it is stored).
    keep_schedule
        ``epoch -> keep`` (or None: unchanged), applied with ``empirical.layers.set_keep`` at the
        start of every epoch (global-scope annealing).
    after_epoch
        Called with the number of finished epochs at the end of each epoch, after its checkpoint
        when one is written (``checkpoint_seconds``; tests raise here to simulate a kill).
    loss
        ``(outputs, y) -> scalar`` training objective instead of the cross-entropy (regression
        on float targets, e.g. mean squared error); the training accuracy counts only integer
        labels (it is 0 for float targets). Evaluation (``val``/``test``) stays classification:
        pass none for a regression task and evaluate the returned model yourself.
    callbacks
        More :class:`empirical.algorithms.callbacks.Callback` objects, called after the built-in
        ones.
    """

    capture_steps: tuple[int, ...] = ()
    on_capture: Callable[[int, StateDict], None] | None = None
    on_record: Callable[[dict[str, Any]], None] | None = None
    keep_schedule: Callable[[int], float | None] | None = None
    after_epoch: Callable[[int], None] | None = None
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    callbacks: tuple[Callback, ...] = ()


@dataclass
class FitResult:
    """What :func:`fit` returns: every evaluation record, the final one, the step count, and the
    test predictions (``step -> predicted classes`` and the ``labels``; empty when distributed
    or without a test set)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    resumed_from: int | None = None
    predictions: dict[int, torch.Tensor] = field(default_factory=dict)
    labels: torch.Tensor | None = None

    @property
    def final(self) -> dict[str, Any]:
        """The last evaluation record."""
        return self.records[-1]

    def val_loss_curve(self) -> list[tuple[int, float]]:
        """``(step, val_loss)`` pairs (learning speed: the step of the minimum)."""
        return [(r["step"], r["val_loss"]) for r in self.records if r.get("val_loss") is not None]


def tensorboard_writer_class() -> type:
    """``torch.utils.tensorboard.SummaryWriter``; ``ValueError`` without the tensorboard package.

    Call it before writing anything, so that a missing package leaves no run directory behind.
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise InputError("{tensorboard} needs the tensorboard package (pip install "
                         "tensorboard)") from None
    return SummaryWriter


def _callbacks(hooks: FitHooks, evaluation: Evaluate, store: RunStore | None,
               tensorboard: type | None, checkpoint_seconds: float) -> list[Callback]:
    """The loop's callbacks in call order (see :mod:`empirical.algorithms.callbacks`)."""
    callbacks: list[Callback] = []
    if hooks.keep_schedule is not None:
        callbacks.append(KeepSchedule(hooks.keep_schedule))
    if hooks.capture_steps and hooks.on_capture is not None:
        callbacks.append(Capture(hooks.capture_steps, hooks.on_capture))
    callbacks.append(evaluation)
    if store is not None:
        callbacks.append(MetricsLog(store))
        if tensorboard is not None:
            callbacks.append(TensorBoard(tensorboard, store))
    if hooks.on_record is not None:
        callbacks.append(OnRecord(hooks.on_record))
    if store is not None:
        callbacks.append(Checkpoint(store, checkpoint_seconds))
    if hooks.after_epoch is not None:
        callbacks.append(AfterEpoch(hooks.after_epoch))
    return [*callbacks, *hooks.callbacks]


def _resume(loop: Loop, store: RunStore, repair: bool, evaluation: Evaluate) -> bool:
    """Restore the latest checkpoint of ``store`` that verifies and reproduces its last record.

    A checkpoint whose weights disagree with its records is moved aside (``repair``) and the one
    before it is tried. Returns whether one was restored (else the model is as it was).
    """
    before: tuple[StateDict, dict[str, Any]] | None = None
    for path, state in store.checkpoints(repair):
        if before is None:
            before = copy.deepcopy(loop.core.state_dict()), rng_state()
        loop.restore(state)
        loop.lr = lr_at(max(loop.step - 1, 0), loop.training, loop.steps_per_epoch)
        for callback in loop.callbacks:  # the kept fraction the last record was made with
            if isinstance(callback, KeepSchedule):
                callback.on_epoch_start(loop, max(loop.step - 1, 0) // loop.steps_per_epoch)
        problem = evaluation.disagreement(loop)
        if problem is None:
            log.warning("resumed from step %d", loop.step)
            return True
        if repair:
            store.set_aside(RunFileError(path, problem))
        loop.core.load_state_dict(before[0])
        set_rng_state(before[1])
        loop.step, loop.elapsed, loop.records = 0, 0.0, []
        loop.predictions, loop.labels = {}, None
        loop.sums = RunningSums(loop.sums.loss.device)
    loop.optimizer.state.clear()
    return False


@compile_stack_lent()
def fit(model: nn.Module, train: Batches, training: TrainingHparams, *,
        val: Batches | None = None, test: Batches | None = None, store: RunStore | None = None,
        start_step: int = 0,
        initial_state: StateDict | Callable[[], StateDict] | None = None,
        hooks: FitHooks | None = None, progress: bool = False,
        dist: Distributed | None = None, tensorboard: bool = False,
        checkpoint_seconds: float = CHECKPOINT_SECONDS) -> FitResult:
    """Train ``model`` on ``train`` and evaluate on ``val``/``test``; resumable through ``store``.

    The step loop lives here; evaluation, metrics, checkpoints, TensorBoard and captures are
    callbacks (:mod:`empirical.algorithms.callbacks`). Unless a compiled model brought it in,
    ``torch._dynamo`` is not imported (the optimisers would, for nothing outside a compilation:
    :func:`empirical.memory.compile_stack_lent`).

    Parameters
    ----------
    model
        The model, already on the device (possibly wrapped by DDP / torch.compile); only
        parameters with ``requires_grad`` are optimised.
    train
        Seeded training batches (:class:`empirical.data.Batches`).
    training
        Optimiser, schedule, length, ``eval_every``, ``precision`` (bf16 autocast or fp32).
    val, test
        Evaluation batches (either may be None).
    store
        If given (and this is the main process): metrics are appended, a checkpoint (holding
        the evaluation records and test predictions so far) is written atomically at the end of
        an epoch every ``checkpoint_seconds`` and after the last step, and the latest checkpoint
        that verifies is resumed ("resumed from
        step N" on stderr): its digest must match and its weights must reproduce its last
        evaluation record (test and validation accuracy, test predictions); one that fails is
        moved aside (:meth:`RunStore.set_aside`) and the one before it tried; with none, training
        starts from ``start_step`` with empty metrics.
    start_step
        Begin at step ``k``: the learning rate and the data order are those of step ``k``.
    initial_state
        A ``state_dict`` (weights and buffers), or a function returning one, loaded before
        training when no checkpoint is resumed.
    hooks
        Callbacks, see :class:`FitHooks`.
    progress
        Progress on stderr (:func:`empirical.progress.progress_bar`): a bar on a terminal, a line
        per interval elsewhere; loss of the last step, training accuracy since the last
        evaluation.
    dist
        Distributed placement; only rank 0 writes; test predictions are not kept.
    tensorboard
        Write the records as TensorBoard scalars into ``store.path / "tb"``.
    checkpoint_seconds
        Least seconds between two checkpoints (:class:`~empirical.algorithms.callbacks.Checkpoint`;
        0: after every epoch).

    Returns
    -------
    FitResult
    """
    from empirical.layers import folded_masks

    hooks = hooks or FitHooks()
    dist = dist or Distributed()
    amp = training.precision == "bf16"
    core = unwrap(model)
    writer = store if store is not None and dist.is_main else None
    spe = train.steps_per_epoch
    total = total_steps(training, spe)
    if not 0 <= start_step <= total:
        raise ValueError(f"start step must lie in [0, {total}], got {start_step}")
    tb_class = tensorboard_writer_class() if tensorboard and writer is not None else None
    evaluation = Evaluate(val, test, amp)
    loop = Loop(model, core, make_optimizer(core, training), training, spe, total, dist,
                start=start_step, step=start_step,
                sums=RunningSums(train.device))
    loop.callbacks = _callbacks(hooks, evaluation, writer, tb_class, checkpoint_seconds)
    resumed = store is not None and _resume(loop, store, writer is not None, evaluation)
    if not resumed:
        loop.step = start_step
        state = initial_state() if callable(initial_state) else initial_state
        if state is not None:
            core.load_state_dict(state)
    loop.lr = lr_at(max(loop.step - 1, 0), training, spe)
    result = FitResult(resumed_from=loop.step if resumed else None)
    loop.started = time.perf_counter()
    bar = progress_bar(total, loop.step, "train", enabled=progress and dist.is_main)
    model.train()
    loop.emit("on_start")
    with folded_masks(core) as enforce_masks:  # W = W m at every forward: re-zero after a step
        while loop.step < total:
            epoch, first = divmod(loop.step, spe)
            loop.emit("on_epoch_start", epoch)
            for x, y in train.epoch(epoch, first):
                loss, logits = _step(loop, x, y, hooks, amp)
                enforce_masks()
                loop.sums.add(loss.detach().double() * y.shape[0],
                              None if y.is_floating_point() else logits.argmax(1), y)
                loop.step += 1
                if bar is not None:
                    bar.set_postfix(loss=f"{loss.item():.3f}",
                                    acc=f"{int(loop.sums.correct) / loop.sums.count:.3f}",
                                    refresh=False)
                    bar.update(1)
                loop.emit("on_step")
                if loop.step == total:
                    break
            loop.emit("on_epoch_end")
    if bar is not None:
        bar.close()
    loop.emit("on_end")
    result.records, result.steps, result.seconds = loop.records, loop.step, loop.seconds
    result.predictions, result.labels = loop.predictions, loop.labels
    return result


def _step(loop: Loop, x: torch.Tensor, y: torch.Tensor, hooks: FitHooks, amp: bool
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimiser step at ``loop.step``'s learning rate; returns the loss and the logits."""
    loop.lr = lr_at(loop.step, loop.training, loop.steps_per_epoch)
    for group in loop.optimizer.param_groups:
        group["lr"] = loop.lr
    with autocast(x.device, amp):
        logits = loop.model(x)
    if hooks.loss is not None:
        loss = hooks.loss(logits.float(), y)
    else:
        loss = nn.functional.cross_entropy(logits.float(), y,
                                           label_smoothing=loop.training.label_smoothing)
    loop.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    loop.optimizer.step()
    return loss, logits
