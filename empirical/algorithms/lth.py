"""Iterative magnitude pruning (lottery tickets) as stored runs, with rewinding and controls.

Algorithm (Frankle & Carbin, ICLR 2019; rewinding: Frankle et al., ICML 2020)
-----------------------------------------------------------------------------
Level 0 trains the dense network from ``theta_0`` (layers in mode ``"masked"`` with all-ones masks,
so one model serves every level). Level ``L >= 1`` prunes ``floor(p R)`` of the ``R`` remaining
weights of smallest magnitude from level ``L-1``'s trained weights
(:mod:`empirical.algorithms.pruning`),
resets the survivors to ``theta_k`` (``k = 0``: the initialisation; ``k > 0``: the dense run's
state after ``k`` steps, BatchNorm statistics included) and trains again from step ``k``: the
learning-rate schedule and the data order continue from step ``k`` (the optimiser state starts
fresh, as in the papers). :func:`empirical.algorithms.train.fit` multiplies the weights by the mask
in the forward pass and calls ``enforce_masks_`` after every optimiser step, so momentum, weight
decay and Adam never revive a pruned weight.

Variants of the rule (:class:`~empirical.config.lth_hparams.PruningHparams`; the MNIST-1D
lottery-ticket notebook of Greydanus & Kobak uses all three): ``sparsity_schedule="linear"``
prunes every layer to sparsity ``L / (linear_rounds - 1)`` at level ``L``
(:func:`empirical.algorithms.pruning.linear_prune`); ``score_step`` ranks the parent's weights
after that many steps of its training (captured while it trains, ``score_step<k>.pt``, or
replayed) instead of its final ones; ``prune_bias`` makes each layer's bias part of its pool
(:mod:`empirical.algorithms.model_masks`), so masks, controls and densities count weights and
biases together.

Learning speed: the early-stopping iteration is the evaluation step of minimum validation loss
(first one on ties), checked every ``training.eval_every`` iterations on the held-out split
``dataset.val_size``; the test accuracy at that step is recorded with it.

Every level, control and branch is a run ``runs_dir/lth/<hash>``
(:mod:`empirical.config.lth_hparams`):
finished runs are read back (after the store's checks; a damaged one is recomputed), killed runs
resume from their checkpoint, each run stores its mask in ``ticket.pt`` (derived again from its
parent whenever the run trains: a stored mask that differs is rewritten, never trusted), and each
run is trained under its lock (:meth:`empirical.storage.store.RunStore.lock`).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from empirical.algorithms import pruning
from empirical.algorithms.builders import build_lth_model
from empirical.algorithms.criteria import ScoringInputs, get_criterion
from empirical.algorithms.model_masks import model_masks, prunable_weights, set_masks_
from empirical.algorithms.mpt import make_batches
from empirical.algorithms.pruning_at_init import (
    PaIResult,
    collapse_report,
    prune_at_init,
    warn_collapsed,
)
from empirical.algorithms.result import RunResult
from empirical.algorithms.train import (
    FitHooks,
    FitResult,
    fit,
    lr_at,
    selection_summary,
    tensorboard_writer_class,
    total_steps,
)
from empirical.config.hparams import RuntimeConfig, default_runs_dir, hparams_hash
from empirical.config.lth_hparams import (
    CONTROLS,
    KIND,
    RETRAININGS,
    LevelHparams,
    LTHHparams,
    PruningHparams,
    derived,
    imp_chain,
    one_shot,
    pai,
    parse_rewind,
    rewind_step,
)
from empirical.data import Batches, check_split, dataset_info
from empirical.device import Distributed, prepare_model, select_device, set_threads
from empirical.errors import InputError
from empirical.memory import check_memory, compile_stack_lent, training_bytes
from empirical.storage.run_files import RunFileError, check_tensor_dict, load_torch
from empirical.storage.store import HPARAMS, TICKET, RunStore, save_torch, warn_damaged

StateDict = dict[str, Any]
Row = dict[str, Any]
# Controls draw from independent streams: SeedSequence((seed, control_seed, level, stream)).
_REINIT_STREAM, _RANDOM_MASK_STREAM, _SHUFFLE_STREAM, _PAI_STREAM = 0, 1, 2, 3


class _Captured(Exception):
    """Raised inside :func:`fit` once the rewind state has been captured (stops training)."""


def _store(runs_dir: str | os.PathLike | None, hparams: LTHHparams) -> RunStore:
    return RunStore.for_run(runs_dir, KIND, hparams)


def _seed(*parts: int) -> int:
    """A 31-bit seed mixed from integers by ``numpy.random.SeedSequence``."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0] >> 1)


def read_hparams(runs_dir: str | os.PathLike | None, run_hash: str) -> LTHHparams:
    """The hyperparameters of the stored LTH run ``run_hash``, checked against the hash.

    Raises
    ------
    FileNotFoundError
        No such run.
    RunFileError
        Its ``hparams.json`` is damaged, of another kind, or does not hash to ``run_hash``
        (:meth:`RunStore.read_hparams`).
    """
    store = RunStore(default_runs_dir(runs_dir) / KIND / run_hash)
    path = store.path / HPARAMS
    if not path.exists():
        raise FileNotFoundError(f"no LTH run {run_hash} under {store.path.parent}")
    hparams = store.hparams()
    if not isinstance(hparams, LTHHparams):
        raise RunFileError(path, f"holds the hyperparameters of a {store.read_hparams()['kind']} "
                                 "run")
    return hparams


def _finished_parent(runs_dir: str | os.PathLike | None, hparams: LTHHparams) -> tuple[
        LTHHparams, RunStore]:
    parent = read_hparams(runs_dir, hparams.level.parent)
    store = _store(runs_dir, parent)
    if store.reusable_result() is None:
        raise ValueError(f"parent run {store.path} is not finished or is damaged; train the "
                         "levels in order (run_lth does, recomputing a damaged one)")
    return parent, store


def trained_model(hparams: LTHHparams, store: RunStore) -> nn.Module:
    """The finished run's final model (weights, buffers and masks from its last checkpoint)."""
    checkpoint = store.load_checkpoint()
    if checkpoint is None:
        raise FileNotFoundError(f"run {store.name} has no checkpoint")
    model = build_lth_model(hparams, hparams.training.seed)
    model.load_state_dict(checkpoint["model"])
    return model


def lineage_root(runs_dir: str | os.PathLike | None, hparams: LTHHparams) -> LTHHparams:
    """The level-0 (dense) run an IMP run, control or branch descends from."""
    while hparams.level.source != "dense":
        hparams = read_hparams(runs_dir, hparams.level.parent)
    return hparams


def rewind_file(store: RunStore, step: int) -> str:
    """Where the dense run ``store`` keeps its state after ``step`` steps (``theta_k``)."""
    return str(store.path / f"rewind_step{step}.pt")


def rewind_state(root: LTHHparams, step: int, runs_dir: str | os.PathLike | None = None,
                 runtime: RuntimeConfig | None = None) -> StateDict:
    """``theta_k``: the dense run's weights and buffers after ``k = step`` optimiser steps.

    ``k = 0`` rebuilds the initialisation. Otherwise the state captured while level 0 trained is
    read back; a level 0 trained without that capture is replayed for ``k`` steps (the data order
    and learning rate are functions of the step, so the replay follows the same trajectory).

    Parameters
    ----------
    root : LTHHparams
        The lineage's level 0.
    step : int
        The rewind step ``k >= 0``.
    runs_dir, runtime
        Run store root and device settings.

    Returns
    -------
    dict
        A ``state_dict`` (on the CPU).
    """
    model = build_lth_model(root, root.training.seed)
    if step == 0:
        return model.state_dict()
    path = rewind_file(_store(runs_dir, root), step)
    if os.path.exists(path):
        try:
            return _load_rewind(path)
        except RunFileError as err:
            warn_damaged(err, "replaying level 0 to recompute it")
            os.unlink(path)
    runtime = runtime or RuntimeConfig()
    device = select_device(runtime.device)
    train, _, _ = make_batches(root, runtime, device, Distributed())
    model = prepare_model(model, device, channels_last=False)

    def keep(k: int, state: StateDict) -> None:
        save_torch(path, {n: t.cpu() for n, t in state.items()})
        raise _Captured

    try:
        fit(model, train, root.training, hooks=FitHooks(capture_steps=(step,), on_capture=keep))
    except _Captured:
        pass
    return _load_rewind(path)


def _load_rewind(path: str) -> StateDict:
    return check_tensor_dict(load_torch(path, weights_only=True), path, "the rewind state")


def level_masks(hparams: LTHHparams, model: nn.Module, runs_dir: str | os.PathLike | None,
                train: Batches | None = None) -> pruning.Masks:
    """The mask a run trains with, derived from its parent as its ``level.source`` says.

    Parameters
    ----------
    hparams : LTHHparams
        The run.
    model : nn.Module
        A model of the run's architecture (gives the layer names and shapes at level 0).
    runs_dir
        Run store root (parents are read from it).
    train : Batches, optional
        The run's training batches: pruning at initialisation scores the first batch of its first
        epoch (and needs them).

    Returns
    -------
    dict
        ``name -> bool mask``.
    """
    source, rule = hparams.level.source, hparams.pruning
    if source == "dense":
        return pruning.all_ones(prunable_weights(model))
    if source == "pai":
        return pai_masks(hparams, runs_dir, _require(train)).masks
    parent, store = _finished_parent(runs_dir, hparams)
    if source in ("imp", "one-shot"):
        trained = _scored_model(parent, store, rule.score_step if source == "imp" else "",
                                runs_dir)
        weights, masks = prunable_weights(trained), model_masks(trained)
        if source == "one-shot":
            return pruning.prune_to_density(weights, masks, hparams.level.density, rule.scope,
                                            rule.exclude)
        if rule.sparsity_schedule == "linear":
            return pruning.linear_prune(weights, masks, hparams.level.level, rule.linear_rounds,
                                        rule.exclude)
        rates: float | dict[str, float] = rule.rate
        if rule.scope == "layerwise":
            rates = pruning.layer_rates(weights, rule.rate, rule.conv_rate, rule.output_rate)
        return pruning.magnitude_prune(weights, masks, rates, rule.scope, rule.exclude)
    masks = store.load_ticket()["masks"]
    if source in ("random-prune", "shuffle"):
        stream = _RANDOM_MASK_STREAM if source == "random-prune" else _SHUFFLE_STREAM
        seed = _seed(hparams.training.seed, hparams.level.control_seed, hparams.level.level,
                     stream)
        return pruning.random_prune(masks, seed, "layerwise" if source == "shuffle"
                                    else rule.scope, rule.exclude)
    if source == "invert":
        scores, base = _selection_scores(parent, runs_dir, train)
        counts = {n: int(m.sum()) for n, m in masks.items()}
        return pruning.keep_highest({n: -s for n, s in scores.items()}, base, counts)
    return masks


def score_file(store: RunStore, step: int) -> str:
    """Where a run keeps its state after ``step`` steps for its child's mask (``score_step``)."""
    return str(store.path / f"score_step{step}.pt")


def _scored_model(parent: LTHHparams, store: RunStore, score_step: str,
                  runs_dir: str | os.PathLike | None) -> nn.Module:
    """The parent's model whose weights the next IMP mask ranks: its final state, or its state
    after ``score_step`` (captured while it trained, else replayed from its start state)."""
    if not score_step:
        return trained_model(parent, store)
    runtime = RuntimeConfig()
    device = select_device(runtime.device)
    train, _, _ = make_batches(parent, runtime, device, Distributed())
    step = rewind_step(score_step, train.steps_per_epoch)
    path = score_file(store, step)
    if not os.path.exists(path):
        _replay_to(parent, store, step, path, train, device, runs_dir, runtime)
    model = build_lth_model(parent, parent.training.seed)
    model.load_state_dict(_load_rewind(path))
    return model


def _replay_to(hparams: LTHHparams, store: RunStore, step: int, path: str, train: Batches,
               device: torch.device, runs_dir: str | os.PathLike | None,
               runtime: RuntimeConfig) -> None:
    """Train the finished run ``hparams`` again from its start state up to ``step`` and save that
    state to ``path`` (the data order and learning rate are functions of the step, so the replay
    follows its trajectory)."""
    masks = store.load_ticket()["masks"]
    start = check_rewind(hparams, train.steps_per_epoch)
    if step > total_steps(hparams.training, train.steps_per_epoch):
        raise InputError("{score_step} (step {step}) lies beyond the {total} training steps",
                         PruningHparams, step=step,
                         total=total_steps(hparams.training, train.steps_per_epoch))
    model = prepare_model(build_lth_model(hparams, hparams.training.seed), device,
                          channels_last=False)

    def keep(k: int, state: StateDict) -> None:
        save_torch(path, {n: t.cpu() for n, t in state.items()})
        raise _Captured

    try:
        fit(model, train, hparams.training, start_step=start,
            initial_state=lambda: start_state(hparams, masks, start, runs_dir, runtime),
            hooks=FitHooks(capture_steps=(step,), on_capture=keep))
    except _Captured:
        pass


def _require(train: Batches | None) -> Batches:
    if train is None:
        raise ValueError("pruning at initialisation scores a training batch: pass the run's "
                         "training batches")
    return train


def _theta_k_model(hparams: LTHHparams, runs_dir: str | os.PathLike | None,
                   train: Batches) -> nn.Module:
    """The run's architecture holding ``theta_k`` (the lineage's init or rewind point)."""
    root = lineage_root(runs_dir, hparams)
    model = build_lth_model(hparams, root.training.seed)
    model.load_state_dict(rewind_state(root, check_rewind(hparams, train.steps_per_epoch),
                                       runs_dir))
    return model


def _pai_scoring(hparams: LTHHparams, runs_dir: str | os.PathLike | None, train: Batches
                 ) -> tuple[nn.Module, tuple[torch.Tensor, torch.Tensor], int]:
    """What a ``pai`` run scores: ``theta_k`` (on the batch's device), the first batch of its
    first epoch (seeded order) and the seed of its criterion's randomness."""
    batch = next(iter(train.epoch(0)))
    model = _theta_k_model(hparams, runs_dir, train).to(batch[0].device)
    level = hparams.level
    return model, batch, _seed(hparams.training.seed, level.control_seed, level.level, _PAI_STREAM)


def pai_masks(hparams: LTHHparams, runs_dir: str | os.PathLike | None,
              train: Batches) -> PaIResult:
    """The mask of a ``pai`` run: its criterion on ``theta_k`` and the first training batch.

    Parameters
    ----------
    hparams : LTHHparams
        A run of source ``pai``.
    runs_dir
        Run store root (the lineage's level 0 is read from it).
    train : Batches
        The run's training batches.

    Returns
    -------
    PaIResult
        Masks, rounds and collapse report (see
        :func:`empirical.algorithms.pruning_at_init.prune_at_init`).
    """
    level, rule = hparams.level, hparams.pruning
    model, batch, seed = _pai_scoring(hparams, runs_dir, train)
    return prune_at_init(model, level.criterion, level.density, scope=rule.scope, batch=batch,
                         rounds=level.rounds or None, exclude=rule.exclude, seed=seed)


def _selection_scores(parent: LTHHparams, runs_dir: str | os.PathLike | None,
                      train: Batches | None) -> tuple[pruning.Masks, pruning.Masks]:
    """The scores and the masks a mask source's last selection chose from.

    IMP level L and one-shot: ``|w|`` of the trained weights of their parent, under its mask.
    pai: its criterion's scores of ``theta_k`` (one round), under all-ones masks.
    """
    if parent.level.source == "pai":
        model, batch, seed = _pai_scoring(parent, runs_dir, _require(train))
        inputs = ScoringInputs(input_shape=tuple(batch[0].shape[1:]), batch=batch,
                               generator=torch.Generator().manual_seed(seed))
        scores = get_criterion(parent.level.criterion).scores(model, inputs)
        return ({n: s.cpu() for n, s in scores.items()},
                pruning.all_ones(prunable_weights(model)))
    grand, store = _finished_parent(runs_dir, parent)
    trained = trained_model(grand, store)
    return ({n: w.abs().cpu() for n, w in prunable_weights(trained).items()},
            model_masks(trained))


def start_state(hparams: LTHHparams, masks: pruning.Masks, step: int,
                runs_dir: str | os.PathLike | None = None,
                runtime: RuntimeConfig | None = None) -> StateDict:
    """The run's start weights: ``theta_k`` (or a fresh init for ``reinit``) times the mask.

    Parameters
    ----------
    hparams : LTHHparams
        The run.
    masks : dict
        Its masks.
    step : int
        The rewind step ``k``.
    runs_dir, runtime
        Run store root and device settings.

    Returns
    -------
    dict
        A ``state_dict`` whose prunable weights equal ``theta_k * mask`` bit for bit and whose
        mask buffers hold ``masks``; BatchNorm buffers are those of ``theta_k``.
    """
    root = lineage_root(runs_dir, hparams) if hparams.level.source != "dense" else hparams
    if hparams.level.source in RETRAININGS:
        pruned_from, store = _finished_parent(runs_dir, read_hparams(runs_dir,
                                                                     hparams.level.parent))
        model = trained_model(pruned_from, store)
    elif hparams.level.source == "reinit":
        seed = _seed(hparams.training.seed, hparams.level.control_seed, hparams.level.level,
                     _REINIT_STREAM)
        model = build_lth_model(hparams, seed)
    else:
        model = build_lth_model(hparams, root.training.seed)
        model.load_state_dict(rewind_state(root, step, runs_dir, runtime))
    set_masks_(model, masks)
    return model.state_dict()


def early_stop(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The evaluation of minimum validation loss (Frankle & Carbin 2019: learning speed).

    Parameters
    ----------
    records : sequence of dict
        Evaluation records of :func:`empirical.algorithms.train.fit` (``step``, ``val_loss``,
        ``test_acc``).

    Returns
    -------
    dict
        ``early_stop_step``, ``early_stop_val_loss``, ``early_stop_test_acc`` (the first record of
        minimum validation loss; all None without a validation split).
    """
    scored = [r for r in records if r.get("val_loss") is not None]
    if not scored:
        return {"early_stop_step": None, "early_stop_val_loss": None, "early_stop_test_acc": None}
    best = min(scored, key=lambda r: (r["val_loss"], r["step"]))
    return {"early_stop_step": best["step"], "early_stop_val_loss": best["val_loss"],
            "early_stop_test_acc": best["test_acc"]}


def _summary(hparams: LTHHparams, store: RunStore, masks: pruning.Masks, fitted: FitResult,
             step: int, seconds: float) -> Row:
    dens = pruning.density(masks)
    final = fitted.final
    return {
        "level": hparams.level.level, "source": hparams.level.source,
        "control_seed": hparams.level.control_seed, "density": dens.overall,
        "layer_density": {n: dens.layer(n) for n in masks},
        "test_acc": final["test_acc"], "test_loss": final["test_loss"],
        "val_loss": final["val_loss"], "train_acc": final["train_acc"],
        **early_stop(fitted.records), **selection_summary(fitted.records),
        "rewind_step": step, "steps": fitted.steps, "seconds": seconds,
        "hash": hparams_hash(hparams), "parent": hparams.level.parent,
        "run_dir": str(store.path), "model": hparams.model.name,
        "dataset": hparams.dataset.name, "seed": hparams.training.seed,
        "resumed_from": fitted.resumed_from,
    }


def run_level(hparams: LTHHparams, runs_dir: str | os.PathLike | None = None,
              runtime: RuntimeConfig | None = None, capture_rewind: str = "0it",
              hooks: FitHooks | None = None, capture_score: str = "") -> RunResult:
    """Train (or read back) one IMP level, control, branch or one-shot run.

    Parameters
    ----------
    hparams : LTHHparams
        The run (see :mod:`empirical.config.lth_hparams`); its parent must be finished.
    runs_dir : path, optional
        Run store root (default ``$TICKETS_RUNS`` or ``./runs``).
    runtime : RuntimeConfig, optional
        Device and other settings that never change the numbers.
    capture_rewind : str
        Level 0 only: also save ``theta_k`` for this rewind point while training.
    capture_score : str
        Also save the state at this step for the next level's mask (default the run's own
        ``pruning.score_step``; level 0 carries none, so the IMP driver passes it).
    hooks : FitHooks, optional
        Extra callbacks for :func:`empirical.algorithms.train.fit` (tests).

    Returns
    -------
    RunResult
        ``result.json``: level, source, density (overall and per layer), final test accuracy,
        early-stop step and the test accuracy there, steps, hash, parent, run_dir, and
        ``reused`` (True when read back); the model, masks and metrics on demand.
    """
    runtime = runtime or RuntimeConfig()
    set_threads(runtime.threads)
    if runtime.tensorboard:
        tensorboard_writer_class()  # fails before anything is written
    store = _store(runs_dir, hparams)
    reused = store.reusable_result(warn=False)
    if reused is None:
        preflight(hparams)
        check_split(hparams.dataset.name, runtime.data_dir, hparams.dataset.val_size,
                    hparams.dataset.split_seed)  # before the lock file is made
        with store.lock():
            reused = store.reusable_result()  # another process may have finished it meanwhile
            if reused is None:
                return RunResult(_train_level(hparams, store, runs_dir, runtime, capture_rewind,
                                              hooks, capture_score))
    return RunResult({**reused, "reused": True})


def preflight(hparams: LTHHparams) -> None:
    """Build the run's model on the meta device and check one training step fits in memory."""
    check_memory(training_bytes(lambda: build_lth_model(hparams, hparams.training.seed),
                                dataset_info(hparams.dataset.name).input_shape,
                                hparams.dataset.batch_size),
                 f"training {hparams.model.name} ({{model}}, {{widths}}, {{width_mult}}, "
                 "{batch_size})")


def check_rewind(hparams: LTHHparams, steps_per_epoch: int) -> int:
    """The rewind step ``k`` of ``hparams`` (0 for level 0), checked to lie within training."""
    if hparams.level.source == "dense":
        return 0
    step = rewind_step(hparams.pruning.rewind, steps_per_epoch)
    total = total_steps(hparams.training, steps_per_epoch)
    if step > total:
        raise InputError("{rewind} {got} (step {step}) lies beyond the {total} training steps",
                         PruningHparams, got=hparams.pruning.rewind, step=step, total=total)
    return step


def check_levels(base: LTHHparams, levels: int, weights: Mapping[str, torch.Tensor]) -> None:
    """Refuse ``levels`` IMP levels that would prune a layer (or the global pool) to 0 weights,
    or that reach a level pruning no weight at all (every count ``floor(p K)`` is 0).

    Layerwise scope follows each layer's count ``K <- K - floor(p K)``
    (:func:`empirical.algorithms.pruning.count_to_prune`); global scope can only be checked on the
    pool.

    Parameters
    ----------
    base : LTHHparams
        The pruning rule.
    levels : int
        The last level.
    weights : mapping
        The prunable weights (meta tensors suffice: only names and shapes are read).
    """
    rule = base.pruning
    if rule.sparsity_schedule == "linear":
        if levels >= rule.linear_rounds - 1:
            raise InputError("{sparsity_schedule=linear} with {linear_rounds} {rounds} reaches "
                             "sparsity 1 at level {last}: give {levels} {most} or fewer",
                             PruningHparams,
                             rounds=rule.linear_rounds, last=rule.linear_rounds - 1,
                             most=rule.linear_rounds - 2)
        return
    excluded = set(pruning.resolve_names(list(weights), rule.exclude))
    sizes = {n: w.numel() for n, w in weights.items() if n not in excluded}
    if rule.scope == "layerwise":
        rates = pruning.layer_rates(weights, rule.rate, rule.conv_rate, rule.output_rate)
        pools = [(n, k, rates[n]) for n, k in sizes.items()]
    else:
        pools = [("the pruned layers", sum(sizes.values()), rule.rate)]
    stalls = []  # per pool, the first level that prunes no weight of it
    for name, kept, rate in pools:
        for level in range(1, levels + 1):
            pruned = pruning.count_to_prune(kept, rate)
            kept -= pruned
            if kept == 0:
                raise InputError("prune rate {got} with {levels} {n} leaves 0 weights in {layer} "
                                 "at level {level}; lower {rate} ({conv_rate}, {output_rate}) or "
                                 "{levels}", PruningHparams, got=rate, n=levels, layer=name,
                                 level=level)
            if pruned == 0:
                stalls.append(level)
                break
    if pools and len(stalls) == len(pools):
        raise InputError("{levels} {n}: from level {first} on no level prunes a weight "
                         "(floor(rate x remaining) = 0 in every layer); give {levels} {most} or "
                         "fewer", n=levels, first=max(stalls), most=max(stalls) - 1)


def check_before_training(base: LTHHparams, levels: int, runtime: RuntimeConfig) -> None:
    """Every check of an IMP experiment that can fail, made before level 0 trains.

    The model fits in memory (:func:`preflight`), the data is where it will be read with room
    for the validation split (:func:`empirical.data.check_split`), ``--exclude`` names layers,
    no level prunes a layer to nothing (:func:`check_levels`) and the rewind point lies within
    training.
    """
    preflight(base)
    check_split(base.dataset.name, runtime.data_dir, base.dataset.val_size,
                base.dataset.split_seed)
    with torch.random.fork_rng(devices=[]), torch.device("meta"), compile_stack_lent():
        weights = prunable_weights(build_lth_model(base, base.training.seed))
    check_levels(base, levels, weights)
    if parse_rewind(base.pruning.rewind)[0]:
        train, _, _ = make_batches(base, runtime, torch.device("cpu"), Distributed())
        check_rewind(dataclasses.replace(base, level=LevelHparams(level=1, parent="-",
                                                                  source="imp")),
                     train.steps_per_epoch)


def _same_masks(a: pruning.Masks, b: pruning.Masks) -> bool:
    return list(a) == list(b) and all(torch.equal(a[n], b[n]) for n in a)


def _train_level(hparams: LTHHparams, store: RunStore, runs_dir: str | os.PathLike | None,
                 runtime: RuntimeConfig, capture_rewind: str, hooks: FitHooks | None,
                 capture_score: str = "") -> Row:
    """Train the level of ``store`` (resuming its checkpoint) and write its ticket and result."""
    started = time.perf_counter()
    device = select_device(runtime.device)
    train, val, test = make_batches(hparams, runtime, device, Distributed())
    spe = train.steps_per_epoch
    dense = hparams.level.source == "dense"
    step = check_rewind(hparams, spe)
    model = build_lth_model(hparams, hparams.training.seed)
    store.remove_stale_temporaries()
    # from the parent, never from a stored copy
    masks = level_masks(hparams, model, runs_dir, train)
    collapse = collapse_report(model, masks, dataset_info(hparams.dataset.name).input_shape)
    if collapse.collapsed:
        warn_collapsed(store.path, collapse)
    stored = store.reusable_ticket()
    store.write_hparams(KIND, hparams, runtime={"threads": runtime.threads,
                                                "data_on_device": train.on_device})
    if stored is None or not _same_masks(stored["masks"], masks):
        if stored is not None:
            warn_damaged(RunFileError(store.path / TICKET, "its masks differ from those its "
                                      "parent gives"), "rewritten")
        store.save_ticket({"masks": masks, "source": hparams.level.source,
                           "level": hparams.level.level, "rewind_step": step})
    hooks = dataclasses.replace(hooks) if hooks is not None else FitHooks()
    wanted = [(rewind_step(capture_rewind, spe), rewind_file)] if dense else []
    score = capture_score or hparams.pruning.score_step
    if score and hparams.level.source in ("dense", "imp"):  # the runs IMP levels derive from
        wanted.append((rewind_step(score, spe), score_file))
    files: dict[int, list[str]] = {}  # step -> the files its state goes to
    for k, where in wanted:
        if k and not os.path.exists(where(store, k)):
            files.setdefault(k, []).append(where(store, k))
    if files:
        hooks.capture_steps = (*hooks.capture_steps, *files)
        chained = hooks.on_capture

        def keep(k: int, state: StateDict) -> None:
            for path in files.get(k, ()):
                save_torch(path, {n: t.cpu() for n, t in state.items()})
            if chained is not None:
                chained(k, state)

        hooks.on_capture = keep
    conv = len(dataset_info(hparams.dataset.name).input_shape) == 3
    model = prepare_model(model, device, channels_last=conv)
    fitted = fit(model, train, hparams.training, val=val, test=test, store=store,
                 start_step=step, hooks=hooks, progress=runtime.progress,
                 initial_state=lambda: start_state(hparams, masks, step, runs_dir, runtime),
                 tensorboard=runtime.tensorboard, checkpoint_seconds=runtime.checkpoint_seconds)
    result = _summary(hparams, store, masks, fitted, step, time.perf_counter() - started)
    result.update(empty_layers=list(collapse.empty_layers),
                  outputs_reachable=collapse.outputs_reachable)
    if fitted.labels is not None:
        store.save_predictions(fitted.labels, fitted.predictions)
    store.write_result(result)
    return {**result, "reused": False}


def run_lth(base: LTHHparams, levels: int, controls: Sequence[str] = (), control_seed: int = 0,
            runs_dir: str | os.PathLike | None = None, runtime: RuntimeConfig | None = None,
            on_row: Callable[[RunResult], None] | None = None,
            control_levels: Collection[int] | None = None) -> list[RunResult]:
    """Iterative magnitude pruning for ``levels`` levels, with controls at every level ``>= 1``
    (or at ``control_levels``).

    Parameters
    ----------
    base : LTHHparams
        Data, model, training and pruning rule (its ``level`` section is ignored).
    levels : int
        The last pruning level ``N >= 0`` (levels ``0..N`` are trained or read back).
    controls : sequence of str
        Any of :data:`empirical.config.lth_hparams.CONTROLS`, run at each level ``>= 1``: the
        controls ``reinit`` and ``random-prune``, the ablations ``shuffle`` and ``invert``, and
        the retraining variants ``lr-rewind`` and ``finetune`` (:func:`control_run`).
    control_seed : int
        Seed of the controls.
    runs_dir, runtime
        Run store root and device settings.
    on_row : callable, optional
        Called with each row as soon as its run is done (streaming output).
    control_levels : collection of int, optional
        The levels that get the controls (default: every level ``>= 1``).

    Returns
    -------
    list of dict
        One row per run (IMP levels in order, each followed by its controls); see
        :func:`run_level`.
    """
    unknown = [c for c in controls if c not in CONTROLS]
    if unknown:
        raise ValueError(f"unknown control {unknown[0]!r}; choose one of {', '.join(CONTROLS)}")
    runtime = runtime or RuntimeConfig()
    check_before_training(base, levels, runtime)
    rows: list[RunResult] = []

    def done(row: RunResult) -> None:
        rows.append(row)
        if on_row is not None:
            on_row(row)

    spe = 0
    if "finetune" in controls:
        spe = make_batches(base, runtime, torch.device("cpu"), Distributed())[0].steps_per_epoch
    for hparams in imp_chain(base, levels):
        done(run_level(hparams, runs_dir, runtime, capture_rewind=base.pruning.rewind,
                       capture_score=base.pruning.score_step))
        if hparams.level.level >= 1 and (control_levels is None
                                         or hparams.level.level in control_levels):
            for control in controls:
                done(run_level(control_run(hparams, control, control_seed, spe), runs_dir,
                               runtime))
    return rows


def control_run(level: LTHHparams, control: str, control_seed: int = 0,
                steps_per_epoch: int = 0) -> LTHHparams:
    """The run of a control, ablation or retraining variant of an IMP level.

    ``finetune`` trains at the final learning rate of the level's schedule (the rate of its last
    step, :func:`empirical.algorithms.train.lr_at`), constant, for the same steps as the level
    (Renda et al. 2020, "fine-tuning"); the others keep the level's training settings.

    Parameters
    ----------
    level : LTHHparams
        An IMP level ``>= 1``.
    control : str
        One of :data:`empirical.config.lth_hparams.CONTROLS`.
    control_seed : int
        Seed of the control's randomness.
    steps_per_epoch : int
        Batches per epoch of the training data (needed by ``finetune``).

    Returns
    -------
    LTHHparams
    """
    if control != "finetune":
        return derived(level, control, control_seed)
    if steps_per_epoch < 1:
        raise ValueError("finetune needs the steps per epoch of the training data")
    t = level.training
    final = lr_at(total_steps(t, steps_per_epoch) - 1, t, steps_per_epoch)
    constant = dataclasses.replace(t, schedule="constant", lr=final, milestones=None,
                                   warmup_steps=0, warmup_epochs=0)
    return derived(level, "finetune", control_seed, training=constant)


def run_one_shot(base: LTHHparams, density: float, runs_dir: str | os.PathLike | None = None,
                 runtime: RuntimeConfig | None = None) -> RunResult:
    """Train level 0 (or read it back), prune it once to ``density`` and retrain.

    Parameters
    ----------
    base : LTHHparams
        Data, model, training, pruning scope / exclusions / rewind point.
    density : float
        Target density in (0, 1] of the pruned layers (``ceil(d n)`` weights kept per pool).
    runs_dir, runtime
        Run store root and device settings.

    Returns
    -------
    dict
        The one-shot run's row (see :func:`run_level`).
    """
    runtime = runtime or RuntimeConfig()
    check_before_training(base, 0, runtime)
    run_level(imp_chain(base, 0)[0], runs_dir, runtime, capture_rewind=base.pruning.rewind)
    return run_level(one_shot(base, density), runs_dir, runtime)


def run_pai(base: LTHHparams, criterion: str, density: float, ablations: Sequence[str] = (),
            rounds: int = 0, control_seed: int = 0, runs_dir: str | os.PathLike | None = None,
            runtime: RuntimeConfig | None = None,
            on_row: Callable[[RunResult], None] | None = None) -> list[RunResult]:
    """Prune ``base``'s ``theta_k`` at initialisation with ``criterion``, train it, and ablate it.

    Level 0 (the dense network, the lineage's initialisation) is trained or read back first, as
    the reference every pruning-at-initialisation comparison reports.

    Parameters
    ----------
    base : LTHHparams
        Data, model, training, pruning scope (global, layerwise, erk), exclusions, rewind point.
    criterion : str
        A registered criterion (:func:`empirical.algorithms.criteria.criterion_names`).
    density : float
        Target overall density in (0, 1].
    ablations : sequence of str
        Any of ``reinit``, ``shuffle``, ``invert`` (Frankle et al., ICLR 2021), each a run derived
        from the pai run.
    rounds : int
        Pruning rounds (0: the criterion's default).
    control_seed : int
        Seed of the ablations' randomness.
    runs_dir, runtime, on_row
        Run store root, device settings, and a callback per finished row.

    Returns
    -------
    list of dict
        The rows of level 0, the pai run and its ablations.
    """
    from empirical.algorithms.criteria import criterion_names
    from empirical.config.lth_hparams import ABLATIONS

    if criterion not in criterion_names():
        raise ValueError(f"unknown pruning criterion {criterion!r}; choose one of "
                         f"{', '.join(criterion_names())}")
    unknown = [a for a in ablations if a not in ABLATIONS]
    if unknown:
        raise ValueError(f"unknown ablation {unknown[0]!r}; choose one of {', '.join(ABLATIONS)}")
    runtime = runtime or RuntimeConfig()
    check_before_training(base, 0, runtime)
    run = pai(base, criterion, density, rounds)
    rows = []
    for hparams, capture in ((imp_chain(base, 0)[0], base.pruning.rewind), (run, "0it"),
                             *((derived(run, a, control_seed), "0it") for a in ablations)):
        rows.append(run_level(hparams, runs_dir, runtime, capture_rewind=capture))
        if on_row is not None:
            on_row(rows[-1])
    return rows
