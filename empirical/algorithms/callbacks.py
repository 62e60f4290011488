"""The callbacks of the training loop: evaluation, metrics, TensorBoard, checkpoints, captures.

:func:`empirical.algorithms.train.fit` owns only the step loop (forward, backward, optimiser step,
masks); everything else it does is a :class:`Callback` reading the loop's state (:class:`Loop`),
called in list order at fixed points (open_lth's shape):

- ``on_start``   once, after a resumed checkpoint is restored (or the initial state loaded);
- ``on_epoch_start(epoch)`` before each epoch's first step;
- ``on_step``    after every optimiser step;
- ``on_record(record)`` after :class:`Evaluate` adds an evaluation record;
- ``on_epoch_end`` after each epoch (and after the last step);
- ``on_end``     once, after training.

The order of the list is the order of the work: :class:`Evaluate` records an epoch's evaluation
before :class:`Checkpoint` saves the epoch, so the checkpoint holds it.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from empirical.config.hparams import TrainingHparams
from empirical.data import Batches
from empirical.device import Distributed, autocast
from empirical.storage.store import RunStore, compact_classes

StateDict = dict[str, Any]
Record = dict[str, Any]


def rng_state() -> dict[str, Any]:
    """The global torch RNG states (CPU and CUDA); the code draws from no other global RNG."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def all_reduce(values: torch.Tensor, dist: Distributed) -> torch.Tensor:
    """Sum ``values`` over the processes (in place; unchanged when not distributed)."""
    if dist.enabled:
        torch.distributed.all_reduce(values)
    return values


class RunningSums:
    """Loss x examples, correct predictions and examples over batches, kept on the device.

    The loss is summed into one float64 tensor and the correct predictions into one int64 tensor,
    in place, and the examples are counted in Python: nothing is read back to the host per batch
    (no synchronisation on a GPU) and no tensor is made beyond the batch's own reductions.
    :meth:`vector` gives ``[loss sum, correct, examples]`` in float64, the same floats as adding
    the float64 3-vectors of each batch: the losses are added in the same order, and counts are
    integers, exact in float64 below ``2^53``.
    """

    def __init__(self, device: torch.device | str, vector: torch.Tensor | None = None) -> None:
        self.loss = torch.zeros((), dtype=torch.float64, device=device)
        self.correct = torch.zeros((), dtype=torch.int64, device=device)
        self.count = 0
        if vector is not None:
            self.loss += vector[0].to(device)
            self.correct += vector[1].to(device, torch.int64)
            self.count = int(vector[2])

    def add(self, loss_sum: torch.Tensor, classes: torch.Tensor | None, y: torch.Tensor) -> None:
        """Add a batch: ``loss_sum`` its summed loss (without gradient: detached, or computed
        under ``torch.no_grad``), ``classes`` the predicted classes (None: no correct
        predictions, as for float targets) and ``y`` the targets."""
        self.loss += loss_sum.double()
        if classes is not None:
            self.correct += (classes == y).sum()
        self.count += y.shape[0]

    def vector(self) -> torch.Tensor:
        """``[loss sum, correct, examples]`` as a float64 vector on the device."""
        return torch.stack([self.loss, self.correct.double(),
                            torch.tensor(float(self.count), dtype=torch.float64,
                                         device=self.loss.device)])


@dataclass
class Evaluation:
    """Mean cross-entropy ``loss`` and ``acc`` over a split; the ``predicted`` classes and true
    ``labels`` in the split's order (on the CPU; None when distributed: each process sees a
    shard)."""

    loss: float
    acc: float
    predicted: torch.Tensor | None
    labels: torch.Tensor | None


@torch.no_grad()
def evaluate(model: nn.Module, batches: Batches, amp: bool = False,
             dist: Distributed | None = None) -> Evaluation:
    """Evaluate ``model`` over ``batches`` (eval mode, bf16 autocast with ``amp``), each layer's
    effective weight computed once (:func:`empirical.layers.held_weights`; not for a compiled
    model).

    Returns
    -------
    Evaluation
        Loss and accuracy summed over all processes when distributed.
    """
    from empirical.layers import held_weights

    dist = dist or Distributed()
    was_training = model.training
    model.eval()
    sums = RunningSums(batches.device)
    predicted, labels = [], []
    with contextlib.nullcontext() if _compiled(model) else held_weights(model):
        for x, y in batches.epoch(0):
            with autocast(batches.device, amp):
                logits = model(x)
            classes = logits.argmax(1)
            sums.add(nn.functional.cross_entropy(logits.float(), y, reduction="sum"), classes, y)
            predicted.append(classes)
            labels.append(y)
    model.train(was_training)
    loss_sum, correct, count = all_reduce(sums.vector(), dist).tolist()
    if dist.enabled or not predicted:
        return Evaluation(loss_sum / count, correct / count, None, None)
    return Evaluation(loss_sum / count, correct / count, torch.cat(predicted).cpu(),
                      torch.cat(labels).cpu())


def _compiled(model: nn.Module | None) -> bool:
    """Whether ``model`` or a module it wraps (DDP's ``module``) is ``torch.compile``'s."""
    while model is not None:
        if hasattr(model, "_orig_mod"):
            return True
        model = getattr(model, "module", None)
    return False


@dataclass
class Loop:
    """The state of a running :func:`~empirical.algorithms.train.fit`, as callbacks see it.

    Attributes
    ----------
    model
        The model as called (possibly wrapped by DDP / torch.compile); ``core`` is the module
        inside.
    optimizer, training, steps_per_epoch, total, dist
        The optimiser, the hyperparameters, batches per epoch, the last step, the placement.
    start
        The step training starts from without a checkpoint (IMP rewinding: ``k``).
    callbacks
        Every callback, in call order.
    step
        Optimiser steps taken.
    lr
        The learning rate of the last step taken.
    sums
        Training loss x examples, correct predictions and examples since the last record.
    records
        Every evaluation record so far.
    predictions
        ``step -> predicted test classes`` of every record with a test set (not distributed;
        ``uint8``, ``int16`` beyond 256 classes).
    labels
        The test labels (None before the first test evaluation, and when distributed).
    elapsed
        Seconds trained by earlier processes (a resumed run).
    """

    model: nn.Module
    core: nn.Module
    optimizer: torch.optim.Optimizer
    training: TrainingHparams
    steps_per_epoch: int
    total: int
    dist: Distributed
    start: int = 0
    callbacks: Sequence[Callback] = ()
    step: int = 0
    lr: float = 0.0
    sums: RunningSums = field(default_factory=lambda: RunningSums("cpu"))
    records: list[Record] = field(default_factory=list)
    predictions: dict[int, torch.Tensor] = field(default_factory=dict)
    labels: torch.Tensor | None = None
    elapsed: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    @property
    def seconds(self) -> float:
        """Seconds trained so far, earlier processes included."""
        return self.elapsed + time.perf_counter() - self.started

    def emit(self, event: str, *args: Any) -> None:
        """Call ``callback.<event>(self, *args)`` on every callback, in order."""
        for callback in self.callbacks:
            getattr(callback, event)(self, *args)

    def state(self) -> StateDict:
        """The checkpoint of the current step (``empirical.storage.run_files.CHECKPOINT_TYPES``)."""
        return {"model": self.core.state_dict(), "optimizer": self.optimizer.state_dict(),
                "step": self.step, "rng": rng_state(), "train_sums": self.sums.vector().cpu(),
                "seconds": self.seconds, "records": self.records,
                "predictions": self.predictions, "labels": self.labels}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Continue from a checkpoint of :meth:`state`."""
        self.core.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        set_rng_state(state["rng"])
        self.step, self.elapsed = state["step"], state["seconds"]
        self.sums = RunningSums(self.sums.loss.device, state["train_sums"])
        self.records = list(state["records"])
        self.predictions, self.labels = dict(state["predictions"]), state["labels"]


class Callback:
    """A no-op at every point of the loop; subclasses override what they need."""

    def on_start(self, loop: Loop) -> None:
        """Once, before the first step."""

    def on_epoch_start(self, loop: Loop, epoch: int) -> None:
        """Before the first step of ``epoch``."""

    def on_step(self, loop: Loop) -> None:
        """After every optimiser step."""

    def on_record(self, loop: Loop, record: Record) -> None:
        """After an evaluation record was added."""

    def on_epoch_end(self, loop: Loop) -> None:
        """After each epoch (and after the last step)."""

    def on_end(self, loop: Loop) -> None:
        """Once, after training."""


class Evaluate(Callback):
    """Evaluation records: every ``eval_every`` steps, else after every epoch; and at the end
    (the last step, or the start step when there was nothing to train).

    A record holds ``epoch``, ``step``, ``lr``, ``train_loss`` / ``train_acc`` (since the last
    record), ``seconds`` and the loss and accuracy of ``val`` and ``test`` (None without them).
    """

    def __init__(self, val: Batches | None, test: Batches | None, amp: bool) -> None:
        self.val, self.test, self.amp = val, test, amp

    def on_step(self, loop: Loop) -> None:
        every = loop.training.eval_every
        if every and loop.step % every == 0:
            self.record(loop)

    def on_epoch_end(self, loop: Loop) -> None:
        every = loop.training.eval_every
        if not every or (loop.step == loop.total and loop.step % every):
            self.record(loop)

    def on_end(self, loop: Loop) -> None:
        if not loop.records or loop.records[-1]["step"] != loop.step:
            self.record(loop)

    def scores(self, loop: Loop) -> dict[str, Evaluation | None]:
        """The evaluations of ``val`` and ``test`` of the model as it is now."""
        return {name: evaluate(loop.model, batches, self.amp, loop.dist)
                if batches is not None else None
                for name, batches in (("val", self.val), ("test", self.test))}

    def record(self, loop: Loop) -> None:
        """Evaluate, add the record (and the test predictions) to ``loop``, emit ``on_record``."""
        totals = all_reduce(loop.sums.vector(), loop.dist).tolist()
        entry: Record = {
            "epoch": loop.step / loop.steps_per_epoch, "step": loop.step, "lr": loop.lr,
            "train_loss": totals[0] / max(totals[2], 1), "train_acc": totals[1] / max(totals[2], 1),
            "seconds": loop.seconds,
        }
        scores = self.scores(loop)
        for name, score in scores.items():
            entry[f"{name}_loss"] = score.loss if score else None
            entry[f"{name}_acc"] = score.acc if score else None
        test = scores["test"]
        if test is not None and test.predicted is not None:
            loop.predictions[loop.step] = compact_classes(test.predicted)
            loop.labels = compact_classes(test.labels)
        loop.sums = RunningSums(loop.sums.loss.device)
        loop.records.append(entry)
        loop.emit("on_record", entry)

    @staticmethod
    def expected_steps(loop: Loop) -> list[int]:
        """The steps of the records a run from ``loop.start`` has made by ``loop.step``, if
        ``loop.step`` is where a checkpoint is written (an epoch's end, or the last step)."""
        every, total, start, step = (loop.training.eval_every, loop.total, loop.start,
                                     loop.step)
        if start == total:
            return [total]
        if every:
            steps = list(range((start // every + 1) * every, step + 1, every))
        else:
            spe = loop.steps_per_epoch
            steps = list(range((start // spe + 1) * spe, step + 1, spe))
        return [*steps, total] if step == total and (not steps or steps[-1] != total) else steps

    def disagreement(self, loop: Loop) -> str | None:
        """Why a restored checkpoint disagrees with its evaluation records, or None.

        The checkpoint lies at an epoch's end (or the last step), its records lie at the steps the
        loop evaluates at (:meth:`expected_steps`), and when the last one lies at its step, its
        weights reproduce it: test and validation accuracy and the test predictions exactly, the
        losses to a relative 1e-6 (a resumed run may sum in another order).
        """
        if loop.step % loop.steps_per_epoch and loop.step != loop.total:
            return f"its step {loop.step} is not the end of an epoch"
        steps = [r["step"] for r in loop.records]
        if steps != self.expected_steps(loop):
            return (f"its step {loop.step} disagrees with its evaluation records (at steps "
                    f"{steps[-3:]})")
        if not loop.records or loop.records[-1]["step"] != loop.step:
            return None
        last = loop.records[-1]
        for name, score in self.scores(loop).items():
            if score is None:
                continue
            if score.acc != last[f"{name}_acc"] or not _close(score.loss, last[f"{name}_loss"]):
                return (f"its weights give {name} accuracy {score.acc!r}, its record at step "
                        f"{loop.step} says {last[f'{name}_acc']!r}")
            recorded = loop.predictions.get(loop.step)
            if name == "test" and score.predicted is not None and recorded is not None \
                    and not torch.equal(score.predicted.to(recorded.dtype), recorded):
                return f"its weights change test predictions recorded at step {loop.step}"
        return None


def _close(a: float, b: Any) -> bool:
    return isinstance(b, float | int) and abs(a - b) <= 1e-6 * max(abs(a), abs(b), 1e-12)


class MetricsLog(Callback):
    """Appends each record to the run's ``metrics.jsonl``; at the start, makes the file hold the
    resumed checkpoint's records exactly (or none)."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def on_start(self, loop: Loop) -> None:
        self.store.reset_metrics(loop.records)

    def on_record(self, loop: Loop, record: Record) -> None:
        self.store.append_metrics(record)


class TensorBoard(Callback):
    """Each record's numbers as TensorBoard scalars in ``<run directory>/tb``."""

    def __init__(self, writer_class: type, store: RunStore) -> None:
        self.writer = writer_class(str(store.path / "tb"))

    def on_record(self, loop: Loop, record: Record) -> None:
        for key, value in record.items():
            if value is not None and key not in ("step", "epoch"):
                self.writer.add_scalar(key, value, loop.step)

    def on_end(self, loop: Loop) -> None:
        self.writer.close()


class Checkpoint(Callback):
    """Writes the loop's state (:meth:`Loop.state`) to the run's ``checkpoint.pt`` at the end of
    an epoch once ``seconds`` have passed since the last write (or since training began), and
    always after the last step.

    A checkpoint lies at an epoch's end either way, so a run resumed from any of them continues to
    the same bits (:func:`~empirical.algorithms.train.fit`); a killed run redoes at most
    ``seconds`` of training plus one epoch. ``seconds = 0`` writes after every epoch.
    """

    def __init__(self, store: RunStore, seconds: float,
                 clock: Callable[[], float] | None = None) -> None:
        self.store, self.seconds = store, seconds
        self.clock = clock or time.monotonic
        self.last = self.clock()

    def on_start(self, loop: Loop) -> None:
        self.last = self.clock()

    def on_epoch_end(self, loop: Loop) -> None:
        if loop.step == loop.total or self.clock() - self.last >= self.seconds:
            self.store.save_checkpoint(loop.state())
            self.last = self.clock()


class Capture(Callback):
    """Calls ``keep(k, state)`` with a deep copy of the model's ``state_dict`` after ``k`` steps,
    for each ``k`` of ``steps`` (``k`` = the start step: before training)."""

    def __init__(self, steps: Sequence[int], keep: Callable[[int, StateDict], None]) -> None:
        self.steps, self.keep = tuple(steps), keep

    def on_start(self, loop: Loop) -> None:
        self.on_step(loop)

    def on_step(self, loop: Loop) -> None:
        if loop.step in self.steps:
            self.keep(loop.step, copy.deepcopy(loop.core.state_dict()))


class KeepSchedule(Callback):
    """Sets the kept fraction ``schedule(epoch)`` (unless None) at the start of every epoch."""

    def __init__(self, schedule: Callable[[int], float | None]) -> None:
        self.schedule = schedule

    def on_epoch_start(self, loop: Loop, epoch: int) -> None:
        keep = self.schedule(epoch)
        if keep is not None:
            from empirical.layers import set_keep

            set_keep(loop.core, keep)


class AfterEpoch(Callback):
    """Calls ``hook(finished epochs)`` after each epoch's checkpoint, then re-applies the masks
    (the hook may have moved weights)."""

    def __init__(self, hook: Callable[[int], None]) -> None:
        self.hook = hook

    def on_epoch_end(self, loop: Loop) -> None:
        from empirical.layers import enforce_masks_

        self.hook(loop.step // loop.steps_per_epoch)
        enforce_masks_(loop.core)


class OnRecord(Callback):
    """Calls ``hook(record)`` with each evaluation record."""

    def __init__(self, hook: Callable[[Record], None]) -> None:
        self.hook = hook

    def on_record(self, loop: Loop, record: Record) -> None:
        self.hook(record)
