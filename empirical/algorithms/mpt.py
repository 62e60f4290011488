"""Score training (biprop / multi-prize tickets, edge-popup) and dense training, as stored runs.

:func:`run_mpt` builds the model named by the hyperparameters through the layer factory, freezes
everything except the scores (and BatchNorm gamma/beta when the model has affine BN: "+BN"),
trains with :func:`empirical.algorithms.train.fit` and stores the run under
``runs_dir/<mode>/<hash>``:
a finished run is read back (after its files pass the store's checks), never recomputed; a killed
run resumes from its checkpoint; the run's lock makes a second identical command wait and reuse.

biprop (Diffenderfer & Kailkhura, ICLR 2021): kept weights are ``alpha * sign(W)``, one ``alpha``
per layer; edge-popup (Ramanujan et al., CVPR 2020): kept weights are ``W``. Both learn only the
scores; the weights stay the random initial ones, bit for bit. A dense run with ``mask.ticket``
trains the weights of a found ticket with its mask fixed (:func:`ticket_start`).
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

import torch
from torch import nn

from empirical.algorithms.builders import (
    build_run_model,
    keep_schedule,
)
from empirical.algorithms.result import RunResult
from empirical.algorithms.train import (
    FitHooks,
    FitResult,
    fit,
    selection_summary,
    tensorboard_writer_class,
)
from empirical.config.hparams import RunHparams, RuntimeConfig, canonical_string, hparams_hash
from empirical.data import Batches, check_split, dataset_info, get_dataset, use_device_data
from empirical.device import (
    Distributed,
    distributed_from_env,
    init_distributed,
    prepare_model,
    select_device,
    set_threads,
)
from empirical.errors import InputError
from empirical.layers import SCORE_MODES
from empirical.memory import check_memory, training_bytes
from empirical.storage.store import RunStore


def make_batches(hparams: RunHparams, runtime: RuntimeConfig, device: torch.device,
                 dist: Distributed) -> tuple[Batches, Batches | None, Batches]:
    """Training, validation (None if ``val_size`` is 0) and test batches of the run.

    MNIST and CIFAR-10 stay on ``device`` as uint8 and are augmented there when
    :func:`empirical.data.use_device_data` says so for ``runtime.data_on_device``.
    """
    d = hparams.dataset
    if d.batch_size % dist.world_size:
        raise ValueError(f"batch size {d.batch_size} is not divisible by {dist.world_size} "
                         "processes")
    per_rank = d.batch_size // dist.world_size
    on_device = use_device_data(runtime.data_on_device, d.name, device)

    def split(name: str) -> Any:
        return get_dataset(d.name, runtime.data_dir, name, seed=d.split_seed,
                           val_size=d.val_size, augment=d.augment, on_device=on_device)

    common = {"device": device, "rank": dist.rank, "world_size": dist.world_size,
              "num_workers": runtime.num_workers}
    train = Batches(split("train"), per_rank, hparams.training.order_seed if d.shuffle else None,
                    drop_last=d.drop_last, **common)
    if not d.shuffle and not train.on_device:
        raise InputError("{shuffle} off (file order) takes in-memory datasets; {name} is read "
                         "through a loader", type(d), name=d.name)
    val = Batches(split("val"), per_rank, None, drop_last=False, **common) if d.val_size else None
    test = Batches(split("test"), per_rank, None, drop_last=False, **common)
    return train, val, test


def ticket_of(model: nn.Module, seed: int) -> dict[str, Any]:
    """The found ticket: per-layer scores, boolean masks, biprop gains alpha, and the seed."""
    from empirical.layers import layer_alphas, layer_masks, prunable_layers

    scores = {name: layer.scores.detach().cpu().clone() for name, layer in prunable_layers(model)
              if getattr(layer, "scores", None) is not None}
    masks = {name: mask.detach().cpu().bool() for name, mask in layer_masks(model).items()}
    alphas = {name: float(a) for name, a in layer_alphas(model).items()}
    return {"seed": seed, "scores": scores, "masks": masks, "alphas": alphas}


def summarize(hparams: RunHparams, store: RunStore, model: nn.Module, fitted: FitResult,
              seconds: float) -> dict[str, Any]:
    """The result dict written to ``result.json``."""
    from empirical.layers import kept_fractions, layer_masks

    final = fitted.final
    masks = layer_masks(model)
    kept = sum(int(m.sum()) for m in masks.values())
    total = sum(m.numel() for m in masks.values())
    return {
        "kind": hparams.mask.mode, "hash": hparams_hash(hparams), "run_dir": str(store.path),
        "canonical": canonical_string(hparams),
        "model": hparams.model.name, "dataset": hparams.dataset.name, "keep": hparams.mask.keep,
        "test_acc": final["test_acc"], "test_loss": final["test_loss"],
        **selection_summary(fitted.records),
        "val_acc": final["val_acc"], "val_loss": final["val_loss"],
        "train_acc": final["train_acc"], "train_loss": final["train_loss"],
        "kept_fraction": {k: float(v) for k, v in kept_fractions(model).items()},
        "kept_overall": kept / total if total else 1.0,
        "steps": fitted.steps, "epochs": final["epoch"], "seconds": seconds,
        "resumed_from": fitted.resumed_from, "reused": False,
    }


def run_mpt(hparams: RunHparams, runs_dir: str | os.PathLike | None = None,
            runtime: RuntimeConfig | None = None, hooks: FitHooks | None = None
            ) -> RunResult:
    """Train (or read back) the biprop / edge-popup / dense run described by ``hparams``.

    Parameters
    ----------
    hparams
        The run; ``hparams.mask.mode`` is the algorithm and the run kind.
    runs_dir
        Root of the run store (default ``$TICKETS_RUNS`` or ``./runs``).
    runtime
        Device, data directory, workers, compile, progress (never part of the hash).
    hooks
        Callbacks passed to :func:`empirical.algorithms.train.fit`.

    Returns
    -------
    RunResult
        ``result.json``'s contents: kind, hash, run_dir, final test/val/train accuracy and loss,
        the test accuracy at the best-validation record
        (:func:`empirical.algorithms.train.selection_summary`),
        kept fraction per layer and overall, steps, epochs, seconds, ``reused`` (True when the
        finished run was read back); and the model, masks, metrics and test predictions on
        demand.
    """
    runtime = runtime or RuntimeConfig()
    set_threads(runtime.threads)
    if runtime.tensorboard:
        tensorboard_writer_class()  # fails before anything is written
    store = RunStore.for_run(runs_dir, hparams.mask.mode, hparams)
    reused = store.reusable_result(warn=False)
    if reused is None:
        preflight(hparams)
        check_split(hparams.dataset.name, runtime.data_dir, hparams.dataset.val_size,
                    hparams.dataset.split_seed)  # before the lock file is made
        start = ticket_start(hparams, runs_dir) if hparams.mask.ticket else None
        dist = distributed_from_env()
        with store.lock() if dist.is_main else contextlib.nullcontext():
            reused = store.reusable_result()  # another process may have finished it meanwhile
            if reused is None:
                return RunResult(_train_run(hparams, store, runtime, hooks, dist, start))
    return RunResult({**reused, "reused": True})


def preflight(hparams: RunHparams) -> None:
    """Build the run's model on the meta device and check one training step fits in memory.

    Bad model settings and oversized runs fail here, before anything is written.
    """
    check_memory(training_bytes(lambda: build_run_model(hparams),
                                dataset_info(hparams.dataset.name).input_shape,
                                hparams.dataset.batch_size),
                 f"training {hparams.model.name} ({{model}}, {{widths}}, {{width_mult}}, "
                 "{batch_size})")


def ticket_start(hparams: RunHparams, runs_dir: str | os.PathLike | None
                 ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The start of a dense run from a found ticket: the ticket run's weights and its masks.

    The run named by ``mask.ticket`` (an edge-popup or biprop run, read through the verifying
    reader) must have the same dataset (name, validation split) and model sections. Its weights
    ``W`` (the frozen random source; IteRand's re-drawn ones; never biprop's ``alpha sign(W)``),
    biases and BatchNorm state are the start, its eval-mode masks the fixed masks.

    Returns
    -------
    tuple of dict
        ``(state, masks)``: the ticket run's final state dict (the entries a masked model
        shares with it are loaded: weights, biases, BatchNorm), ``name -> bool mask``.
    """
    from empirical.algorithms.run_reader import locate_run, read_run
    from empirical.config.hparams import MaskHparams

    try:
        found = read_run(locate_run(hparams.mask.ticket, runs_dir))
    except (FileNotFoundError, ValueError) as err:
        raise InputError("{ticket}: {why}", MaskHparams, why=str(err).splitlines()[0]) from None
    d, e = hparams.dataset, found.hparams.dataset
    if (d.name, d.val_size, d.split_seed, hparams.model) != (e.name, e.val_size, e.split_seed,
                                                              found.hparams.model):
        raise InputError("{ticket} names a run of other data or another model than this one",
                         MaskHparams)
    return found.model.state_dict(), found.masks


def _train_run(hparams: RunHparams, store: RunStore, runtime: RuntimeConfig,
               hooks: FitHooks | None, dist: Distributed,
               start: tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]] | None = None
               ) -> dict[str, Any]:
    """Train the run of ``store`` (resuming its checkpoint) and write its ticket and result;
    ``start``: the weights and fixed masks of :func:`ticket_start`."""
    from empirical.algorithms.model_masks import set_masks_

    kind = hparams.mask.mode
    started = time.perf_counter()
    device = select_device(runtime.device, dist)
    init_distributed(dist, device)
    train, val, test = make_batches(hparams, runtime, device, dist)
    model = build_run_model(hparams)
    if start is not None:
        own = model.state_dict()
        model.load_state_dict({k: v for k, v in start[0].items() if k in own}, strict=False)
        set_masks_(model, start[1])
    conv = len(dataset_info(hparams.dataset.name).input_shape) == 3
    model = prepare_model(model, device, channels_last=conv)
    core = model
    if runtime.compile:
        model = torch.compile(model)
    if dist.enabled:
        ids = [device.index] if device.type == "cuda" else None
        model = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    if dist.is_main:
        store.remove_stale_temporaries()
        store.write_hparams(kind, hparams, runtime={"threads": runtime.threads,
                                                    "data_on_device": train.on_device})
    hooks = hooks or FitHooks()
    if hooks.keep_schedule is None:
        hooks.keep_schedule = keep_schedule(hparams)
    fitted = fit(model, train, hparams.training, val=val, test=test, store=store, hooks=hooks,
                 progress=runtime.progress, dist=dist, tensorboard=runtime.tensorboard,
                 checkpoint_seconds=runtime.checkpoint_seconds)
    result = summarize(hparams, store, core, fitted, time.perf_counter() - started)
    if dist.is_main:
        if kind in SCORE_MODES:
            store.save_ticket(ticket_of(core, hparams.training.seed))
        if fitted.labels is not None:
            store.save_predictions(fitted.labels, fitted.predictions)
        store.write_result(result)
    return result
