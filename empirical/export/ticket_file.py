"""Export a run's ticket to a packed file, read it back, and evaluate it on its test set.

:func:`export_run` reads a finished run (:mod:`empirical.algorithms.run_reader`), freezes its ticket
(:mod:`empirical.export.frozen`), encodes it in a layout (:mod:`empirical.export.layouts`) and
writes the container (:mod:`empirical.export.container`) atomically. When the run's test data can
be read, it also records the SHA-256 of the run's own model's test predictions, so that
:func:`evaluate_file` can say whether the rebuilt network predicts exactly the same labels.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from empirical.algorithms.run_reader import RunTicket, build_architecture, hparams_of, read_run
from empirical.config.hparams import hparams_hash, to_dict
from empirical.errors import InputError
from empirical.export.architecture import describe
from empirical.export.container import read_container, write_container
from empirical.export.frozen import freeze_
from empirical.export.layouts import (
    VALUE_DTYPES,
    decode_layers,
    encode_layers,
    layouts_for,
    weights_digest,
)
from empirical.export.preprocessing import describe_preprocessing, split_digests

REQUIRED_METADATA = ("layout", "kind", "run_hash", "hparams", "layers")


@dataclass
class LoadedTicket:
    """A packed ticket read back: the rebuilt network and the file's metadata.

    Attributes
    ----------
    model
        The frozen network (eval mode, CPU).
    kind, layout
        Run kind and file layout.
    hparams
        The run's hyperparameters.
    metadata
        Every metadata entry (strings).
    tensors
        The stored tensors.
    """

    model: nn.Module
    kind: str
    layout: str
    hparams: Any
    metadata: dict[str, str]
    tensors: dict[str, torch.Tensor]


def eval_batches(hparams: Any, dataset: str | None = None, data_dir: str | None = None
                 ) -> DataLoader:
    """The test split of the run's dataset (or ``dataset``) in its own order (the order
    ``docs/export.md`` gives a reader), in batches of the run's batch size."""
    from empirical.data import get_dataset

    d = hparams.dataset
    name = dataset or d.name
    split = get_dataset(name, data_dir, "test", seed=d.split_seed, val_size=d.val_size,
                        augment=d.augment)
    return DataLoader(split, batch_size=d.batch_size, shuffle=False)


@torch.no_grad()
def predict(model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(predicted labels, true labels)`` of ``model`` over every batch, in order."""
    model.eval()
    preds, labels = [], []
    for x, y in batches:
        preds.append(model(x).argmax(1))
        labels.append(y)
    return torch.cat(preds), torch.cat(labels)


def predictions_digest(preds: torch.Tensor) -> str:
    """SHA-256 of the predicted labels as little-endian int64."""
    return hashlib.sha256(preds.to(torch.int64).numpy().astype("<i8").tobytes()).hexdigest()


@torch.no_grad()
def exact_ties(frozen: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
              preds: torch.Tensor) -> list[list[int]]:
    """``[index, label]`` of every test example whose top logits tie exactly and where the run
    chose (``preds``) another of the tied classes than the lowest.

    The logits are the frozen ticket's in float64, where sums of ``+-alpha`` over ``+-1`` inputs
    are exact (``docs/export.md``, "Ties"): the ties a reader computing exactly meets, who takes
    the lowest tied class elsewhere.
    """
    exact = copy.deepcopy(frozen).double().eval()
    ties, start = [], 0
    for x, _ in batches:
        z = exact(x.double())
        top = z.max(1, keepdim=True).values
        lowest = z.argmax(1)
        for row in torch.nonzero((z == top).sum(1) > 1).flatten().tolist():
            label = int(preds[start + row])
            if label != int(lowest[row]) and z[row, label] == top[row, 0]:
                ties.append([start + row, label])
        start += len(x)
    return ties


def export_run(run_dir: str | os.PathLike, out: str | os.PathLike, layout: str | None = None,
               values_dtype: str = "float32", data_dir: str | None = None) -> dict[str, Any]:
    """Write the ticket of a finished run as a packed file.

    Parameters
    ----------
    run_dir
        The run directory (see :func:`empirical.algorithms.run_reader.locate_run`).
    out
        The file to write (atomically).
    layout
        ``self-contained`` (default for biprop / edge-popup), ``seed-only`` or ``lth`` (LTH).
    values_dtype
        ``float32``, ``float16`` or ``bfloat16`` for real kept weights (edge-popup, LTH).
    data_dir
        Where the run's dataset lives, to record its test predictions (in-memory datasets need
        none).

    Returns
    -------
    dict
        ``file``, ``layout``, ``kind``, ``run_hash``, ``bytes``, ``weights`` (prunable weights),
        ``kept``, ``bits_per_weight`` (whole file), ``checkpoint_bytes``, ``predictions``
        (whether test predictions were recorded).
    """
    if values_dtype not in VALUE_DTYPES:
        raise InputError("unknown {values_dtype} {got!r}; choose one of {choices}",
                         got=values_dtype, choices=", ".join(VALUE_DTYPES))
    ticket = read_run(run_dir)
    layout = layout or layouts_for(ticket.kind)[0]
    if layout not in layouts_for(ticket.kind):
        raise InputError("{layout} {got} does not apply to a {kind} run; choose {choices}",
                         got=layout, kind=ticket.kind,
                         choices=" or ".join(layouts_for(ticket.kind)))
    digest = None
    if layout == "seed-only":
        digest = weights_digest(ticket.model)
        if weights_digest(build_architecture(ticket.kind, ticket.hparams)) != digest:
            raise InputError("run {run}: this torch ({torch}) does not regenerate the run's "
                             "weights from its seed; use {layout=self-contained}",
                             run=ticket.run_dir, torch=torch.__version__)
    try:
        batches = eval_batches(ticket.hparams, data_dir=data_dir)
    except (FileNotFoundError, NotADirectoryError, ValueError):
        batches = None  # the data is not here: the file records the accuracy only
    preds = None if batches is None else predict(ticket.model, batches)[0]
    rewind = rewind_values(ticket) if ticket.kind == "lth" else None
    frozen = freeze_(ticket.model, ticket.masks)
    tensors, layers = encode_layers(frozen, ticket.kind, layout, values_dtype, rewind)
    d = ticket.hparams.dataset
    preprocessing = describe_preprocessing(d.name, d.split_seed, d.val_size)
    meta = {
        "layout": layout, "kind": ticket.kind, "run_hash": ticket.run_hash,
        "model": ticket.hparams.model.name, "dataset": ticket.hparams.dataset.name,
        "hparams": json.dumps(to_dict(ticket.hparams), sort_keys=True),
        "layers": json.dumps(layers), "values_dtype": values_dtype,
        "seed": str(ticket.hparams.training.seed), "torch_version": torch.__version__,
        "test_acc": repr(float(ticket.result["test_acc"])),
        "architecture": json.dumps(describe(frozen, tuple(preprocessing["input_shape"]))),
    }
    if digest is not None:
        meta["weights_sha256"] = digest
    if preds is not None:
        meta["test_predictions_sha256"] = predictions_digest(preds)
        preprocessing.update(split_digests(batches))
        if ticket.hparams.model.binary_act:
            meta["test_ties"] = json.dumps(exact_ties(frozen, batches, preds))
    meta["preprocessing"] = json.dumps(preprocessing)
    if ticket.rewind_step is not None:
        meta["rewind_step"] = str(ticket.rewind_step)
    size = write_container(out, tensors, meta)
    weights = sum(math.prod(e["shape"]) for e in layers)
    checkpoint = ticket.run_dir / "checkpoint.pt"
    return {"file": str(out), "layout": layout, "kind": ticket.kind, "run_hash": ticket.run_hash,
            "bytes": size, "weights": weights, "kept": sum(e["kept"] for e in layers),
            "bits_per_weight": 8 * size / weights,
            "checkpoint_bytes": checkpoint.stat().st_size, "predictions": preds is not None}


def load_ticket(path: str | os.PathLike) -> LoadedTicket:
    """Rebuild the network of a packed ticket file from the file alone.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    LoadedTicket
        The frozen network and the metadata.

    Raises
    ------
    ValueError
        One line naming the file: damaged, truncated, mismatched with its architecture, or (for
        seed-only files) weights regenerated by this torch that do not hash to the recorded ones.
    """
    tensors, meta = read_container(path)
    where = f"file {path}"
    missing = [k for k in REQUIRED_METADATA if k not in meta]
    if missing:
        raise ValueError(f"{where} is damaged: metadata {', '.join(missing)} missing")
    kind, layout = meta["kind"], meta["layout"]
    if layout not in layouts_for(kind):
        raise ValueError(f"{where} is damaged: layout {layout!r} for a {kind!r} ticket")
    try:
        hparams = hparams_of(kind, json.loads(meta["hparams"]))
        layers = json.loads(meta["layers"])
    except (json.JSONDecodeError, TypeError, ValueError) as err:
        raise ValueError(f"{where} is damaged: its hyperparameters do not parse ({err})") from None
    if hparams_hash(hparams) != meta["run_hash"]:
        raise ValueError(f"{where} is damaged: its hyperparameters do not hash to run "
                         f"{meta['run_hash']}")
    model = build_architecture(kind, hparams)
    if layout == "seed-only" and weights_digest(model) != meta.get("weights_sha256"):
        raise ValueError(f"{where}: the weights regenerated from seed {meta.get('seed')} do not "
                         f"match the recorded hash; the torch RNG differs (file written with "
                         f"torch {meta.get('torch_version')}, this is torch {torch.__version__})")
    model = decode_layers(model, tensors, layers, kind, layout, where)
    return LoadedTicket(model, kind, layout, hparams, meta, tensors)


def evaluate_file(path: str | os.PathLike, dataset: str | None = None,
                  data_dir: str | None = None, engine: str = "float") -> dict[str, Any]:
    """Test accuracy of a packed ticket, and whether it reproduces the run exactly.

    Parameters
    ----------
    path
        The file.
    dataset
        Evaluate on another dataset of the same input shape and classes (default: the run's).
    data_dir
        Where the dataset lives.
    engine
        ``float`` (the frozen network) or ``packed`` (the bit-packed kernels, biprop only).

    Returns
    -------
    dict
        ``file``, ``layout``, ``kind``, ``dataset``, ``engine``, ``test_acc``, ``run_test_acc``,
        ``same_accuracy``, ``identical_predictions`` and ``same_test_inputs`` (whether the test
        inputs read now hash to the file's ``test_inputs_sha256``); the last two are None when the
        file recorded no digest or another dataset is used.
    """
    from empirical.data import dataset_info, pixel_normalisation

    loaded = load_ticket(path)
    own = loaded.hparams.dataset.name
    name = dataset or own
    if name != own and dataset_info(name) != dataset_info(own):
        raise InputError("{dataset} {name} has inputs {shape} and {classes} classes; file "
                         "{path} is a ticket for {own} {own_shape} with {own_classes} classes",
                         name=name, shape=dataset_info(name).input_shape,
                         classes=dataset_info(name).num_classes, path=path, own=own,
                         own_shape=dataset_info(own).input_shape,
                         own_classes=dataset_info(own).num_classes)
    batches = eval_batches(loaded.hparams, dataset=name, data_dir=data_dir)
    model = loaded.model
    if engine == "packed":
        from empirical.export.engine import pack_model
        from empirical.export.grid_input import InputGrid

        pixels = pixel_normalisation(name, loaded.hparams.dataset.split_seed)
        model = pack_model(model, dataset_info(own).input_shape,
                           grid=None if pixels is None else InputGrid(*pixels))
    elif engine != "float":
        raise InputError("unknown {engine} {got!r}; choose float or packed", got=engine)
    preds, labels = predict(model, batches)
    acc = float((preds == labels).double().mean())
    recorded = float(loaded.metadata.get("test_acc", "nan"))
    same_data = name == own
    reference = loaded.metadata.get("test_predictions_sha256")
    identical = (predictions_digest(preds) == reference) if same_data and reference else None
    inputs = json.loads(loaded.metadata.get("preprocessing", "{}")).get("test_inputs_sha256")
    same_inputs = (split_digests(batches)["test_inputs_sha256"] == inputs
                   if same_data and inputs else None)
    return {"file": str(Path(path)), "layout": loaded.layout, "kind": loaded.kind,
            "dataset": name, "engine": engine, "test_acc": acc,
            "run_test_acc": recorded if same_data else None,
            "same_accuracy": acc == recorded if same_data else None,
            "identical_predictions": identical, "same_test_inputs": same_inputs}


def rewind_values(ticket: RunTicket) -> dict[str, torch.Tensor]:
    """LTH: ``theta_k * m`` of every prunable layer, the ticket's start weights (step ``k``).

    Rebuilt with :func:`empirical.algorithms.lth.start_state` from the run store the run lives in
    (``theta_0`` is rebuilt from the seed; ``theta_k`` for ``k > 0`` is read back or replayed).
    """
    from empirical.algorithms.lth import start_state
    from empirical.layers import prunable_layers

    runs_dir = ticket.run_dir.parent.parent
    state = start_state(ticket.hparams, ticket.masks, int(ticket.rewind_step or 0), runs_dir)
    return {name: state[f"{name}.weight"] for name, _ in prunable_layers(ticket.model)}
