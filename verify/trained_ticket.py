"""Strong tickets of TRAINED networks: a theory construction run on a real bias-free ReLU MLP.

Pensia et al. (NeurIPS 2020) solved the subset sums of a trained 784-500-10 MNIST network's
weights; this module does the whole thing and measures the ticket on the real test set:

1. The trained network: a finished dense ``fc`` run of the run store (bias-free, no batch norm,
   ReLU), read back from its checkpoint, or trained now through
   :func:`empirical.algorithms.mpt.run_mpt`.
2. Conversion (:func:`theory_target`): torch ``Linear`` weights become float64 matrices
   ``W_i``.  The theorems assume ``||W_i||_2 <= 1`` and ``|W_i| <= 1/sqrt(d_{i-1})``; a
   bias-free ReLU network is positively homogeneous layer by layer
   (``relu(W x / c) = relu(W x) / c`` for ``c > 0``), so with ``c_i = max(1, ||W_i||_2,
   sqrt(d_{i-1}) max|W_i|)`` the network is exactly ``f(x) = C f~(x)``, ``C = prod_i c_i``,
   where ``f~`` has the layers ``W_i / c_i`` that meet the assumptions.
3. A construction of :data:`METHODS` approximates ``f~`` by a ticket
   ``g`` of a fresh random source (its own seed); the ticket's logits are ``C g(x)``.
4. On the real test inputs (flattened, as the network reads them): accuracy of ``f`` and of
   ``C g``, prediction agreement, the largest logit error ``max |f(x) - C g(x)|``, the
   construction's certified sup error on the unit ball and what it implies for the data
   (``||f(x) - C g(x)||_2 <= C ||x|| certified``, by homogeneity), per-weight errors in the
   trained network's own units, source and ticket sizes, seconds and peak memory.

The conversion between torch and numpy lives here: theory and empirical never import each other.
"""

from __future__ import annotations

import inspect
import itertools
import math
import resource
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from empirical.errors import InputError
from theory.constructions import FULLY_CONNECTED, Construction, Names

METHODS = Names(lambda c: c.family in FULLY_CONNECTED and c.source_widths is not None)
"""The constructions a trained target can use: the registered fully connected ones whose source
size is known before drawing (``Construction.source_widths``, checked against
``MAX_SOURCE_ENTRIES``): the gadget family (``block_size``: units per input coordinate) and
Sreenivasan et al.'s binary +-1 source with depth (``block_size``: candidates per slot;
``bits``: fractional bits)."""

MAX_SOURCE_ENTRIES = 6 * 10**8
"""Largest random source (weights) a run may draw: 4.8 GB of float64, the theorem's default
block sizes at Pensia's published scale exceed it by far."""


@dataclass(frozen=True)
class TrainedNetwork:
    """A trained bias-free ReLU MLP as numpy layers, with where it came from.

    Parameters
    ----------
    weights : list of numpy.ndarray
        ``W_i`` of shape ``(d_i, d_{i-1})``, float64.
    dataset : str
        Dataset name of :mod:`empirical.data`.
    split_seed, val_size : int
        The run's data split (the test split does not depend on them for in-memory data).
    run_dir : str
        The run's directory in the store.
    stored_test_acc : float
        Test accuracy the training run recorded (torch, float32).
    """

    weights: list[np.ndarray]
    dataset: str
    split_seed: int
    val_size: int
    run_dir: str
    stored_test_acc: float


def _check_fc_hparams(hparams: Any) -> None:
    """Raise ``ValueError`` unless the run is a dense, bias-free, norm-free ReLU ``fc``."""
    problems = []
    if hparams.model.name != "fc":
        problems.append(f"model {hparams.model.name!r} (need fc)")
    if hparams.mask.mode != "dense":
        problems.append(f"mode {hparams.mask.mode!r} (need dense)")
    if hparams.model.bias:
        problems.append("biases")
    if hparams.model.bn not in ("none",):
        problems.append(f"batch norm {hparams.model.bn!r} (need bn none)")
    if hparams.model.binary_act:
        problems.append("binary activations")
    if problems:
        raise ValueError("the run is not a bias-free ReLU fc network: " + ", ".join(problems))


def load_trained(run_dir: str | Path) -> TrainedNetwork:
    """Read a finished dense ``fc`` run of the store back as numpy layers.

    Parameters
    ----------
    run_dir : str or Path
        The run's directory (holding ``hparams.json``, ``result.json``, ``checkpoint.pt``).

    Returns
    -------
    TrainedNetwork
    """
    from torch import nn

    from empirical.algorithms.builders import build_run_model
    from empirical.config.hparams import RunHparams, from_dict
    from empirical.layers import FactoryLinear
    from empirical.storage.store import RunStore

    store = RunStore(run_dir)
    if not store.finished:
        raise ValueError(f"run {run_dir}: not a finished run (no result.json)")
    hparams = from_dict(RunHparams, store.read_hparams()["hparams"])
    _check_fc_hparams(hparams)
    checkpoint = store.load_checkpoint()
    if checkpoint is None:
        raise ValueError(f"run {run_dir}: the run has no checkpoint.pt")
    model = build_run_model(hparams)
    model.load_state_dict(checkpoint["model"])
    allowed = (FactoryLinear, nn.ReLU, nn.Flatten, nn.Identity, nn.Sequential)
    linears = []
    for module in model.modules():
        if module is model:
            continue
        if not isinstance(module, allowed):
            raise ValueError(f"run {run_dir}: unexpected layer {type(module).__name__}")
        if isinstance(module, FactoryLinear):
            if module.bias is not None:
                raise ValueError(f"run {run_dir}: a linear layer has a bias")
            linears.append(module.effective_weight().detach().double().cpu().numpy())
    return TrainedNetwork(
        weights=linears,
        dataset=hparams.dataset.name,
        split_seed=hparams.dataset.split_seed,
        val_size=hparams.dataset.val_size,
        run_dir=str(store.path),
        stored_test_acc=float(store.read_result()["test_acc"]),
    )


def train_target(hparams: Any, runs_dir: str | None, runtime: Any = None) -> TrainedNetwork:
    """Train (or read back) the dense ``fc`` run ``hparams`` and load it.

    Parameters
    ----------
    hparams : empirical.config.hparams.RunHparams
        A dense, bias-free, norm-free ReLU ``fc`` run.
    runs_dir : str, optional
        Root of the run store.
    runtime : empirical.config.hparams.RuntimeConfig, optional
        Device and data directory.

    Returns
    -------
    TrainedNetwork
    """
    from empirical.algorithms.mpt import run_mpt

    _check_fc_hparams(hparams)
    result = run_mpt(hparams, runs_dir, runtime)
    return load_trained(result["run_dir"])


def theory_target(weights: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[float]]:
    """Rescale each layer to meet the theorems' assumptions; return the layers and the factors.

    ``c_i = max(1, ||W_i||_2, sqrt(d_{i-1}) max|W_i|)`` and ``W~_i = W_i / c_i`` (module
    docstring), so that ``f(x) = (prod_i c_i) f~(x)`` exactly for a bias-free ReLU network.

    Parameters
    ----------
    weights : sequence of numpy.ndarray
        The trained layers.

    Returns
    -------
    tuple
        ``(W~_1 ... W~_l, [c_1 ... c_l])``.
    """
    layers, factors = [], []
    for w in weights:
        w = np.asarray(w, dtype=np.float64)
        c = max(1.0, float(np.linalg.norm(w, ord=2)),
                math.sqrt(w.shape[1]) * float(np.max(np.abs(w), initial=0.0)))
        layers.append(w / c)
        factors.append(c)
    return layers, factors


def held_out_inputs(dataset: str, data_dir: str | None, split_seed: int = 0,
                val_size: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The real test split as flattened float64 inputs and integer labels.

    Parameters
    ----------
    dataset : str
        A dataset of :mod:`empirical.data`.
    data_dir : str, optional
        Where on-disk datasets live.
    split_seed, val_size : int
        The run's split settings.

    Returns
    -------
    tuple of numpy.ndarray
        ``x (n, d_0)`` and ``y (n,)``.
    """
    import torch

    from empirical.data import get_dataset

    data = get_dataset(dataset, data_dir, "test", seed=split_seed, val_size=val_size,
                       augment=False)
    xs, ys = [], []
    for x, y in torch.utils.data.DataLoader(data, batch_size=2048, shuffle=False):
        xs.append(x.reshape(len(x), -1).double().numpy())
        ys.append(y.numpy())
    return np.concatenate(xs), np.concatenate(ys)


def source_entries(widths: Sequence[int]) -> int:
    """Weights of a fully connected source of layer widths ``widths``."""
    return int(sum(a * b for a, b in itertools.pairwise(widths)))


def overrides_for(construction: Construction, **given: Any) -> dict[str, Any]:
    """The given (not None) overrides, refused where ``construction`` does not take them.

    Raises
    ------
    ValueError
        Naming the flag, e.g. ``--bits`` for a construction without fractional bits.
    """
    accepted = inspect.signature(construction.construct).parameters
    for name, value in given.items():
        if value is not None and name not in accepted:
            raise InputError(f"{{{name}}} does not apply to {{method}} {{got}}",
                             got=construction.name)
    return {name: value for name, value in given.items() if value is not None}


def plan_source(method: str, widths: Sequence[int], eps: float, delta: float,
                block_size: int | None, bits: int | None = None) -> list[int]:
    """Layer widths of the source a run will draw, checked to fit, before any work.

    ``block_size`` overrides the construction's bound (gadgets: units per input coordinate;
    binary-depth: candidates per slot, at ``bits`` fractional bits, default the construction's
    for ``eps``).

    Raises ``ValueError`` for an unknown method, an override the construction does not take,
    or a source of more than ``MAX_SOURCE_ENTRIES`` weights.
    """
    from theory.constructions import get_method

    if method not in METHODS:
        raise InputError("{method} must be one of {choices}, got {got!r}",
                         choices=", ".join(METHODS), got=method)
    construction = get_method(method)
    if bits is not None and int(bits) < 0:
        raise InputError("{bits} must be >= 0, got {got!r}", got=bits)
    layers = construction.source_widths(list(widths), eps, delta, block_size,
                                        **overrides_for(construction, bits=bits))
    entries = source_entries(layers)
    if entries > MAX_SOURCE_ENTRIES:
        raise InputError("the {name} source for a {target} target (widest layer {widest}) "
                         "holds {entries:.3g} weights (limit {limit:.0e}); pass a smaller "
                         "{block_size}", name=method, target="-".join(map(str, widths)),
                         widest=max(layers[1:-1]), entries=entries, limit=MAX_SOURCE_ENTRIES)
    return layers


def ticket_of_trained(
    network: TrainedNetwork,
    method: str = "pensia",
    eps: float = 0.01,
    delta: float = 0.1,
    block_size: int | None = None,
    max_summands: int | None = None,
    weight_eps: float = 0.01,
    seed: int = 0,
    data_dir: str | None = None,
    bits: int | None = None,
) -> dict[str, Any]:
    """Construct a ticket of the trained network in a fresh random source; measure it on data.

    Parameters
    ----------
    network : TrainedNetwork
        The trained target.
    method : str
        A construction of :data:`METHODS`: a gadget (two source layers per target layer) or the
        binary +-1 source with depth.
    eps, delta : float
        Sup-norm accuracy on the unit ball for the rescaled network, and failure probability:
        they set the construction's tolerances, success flag and default block sizes.
    block_size : int, optional
        Units per input coordinate (binary-depth: candidates per slot; default: the
        construction's bound for ``eps``, ``delta``).
    max_summands : int, optional
        Pensia only: summands of each sign per subset sum.
    weight_eps : float
        Per-weight tolerance reported in the trained network's units (Pensia et al.'s 0.01).
    seed : int
        Seed of the random source.
    data_dir : str, optional
        Where on-disk datasets live.
    bits : int, optional
        binary-depth only: fractional bits ``K`` (default: the construction's for ``eps``).

    Returns
    -------
    dict
        One row: dataset, target widths, method, block size, source width and depth, the
        construction's bound width, target/ticket test accuracy,
        agreement, disagreements, max logit error (and the largest target logit, for scale),
        certified sup error and the logit bound it implies, per-weight errors, scale ``C``,
        source/target/kept weights, seconds, peak GB.
    """
    from theory.constructions import get_method
    from theory.networks import forward, layer_widths

    if not weight_eps > 0:
        raise InputError("{weight_eps} must be positive, got {got!r}", got=weight_eps)
    target, factors = theory_target(network.weights)
    widths = layer_widths(target)
    plan_source(method, widths, eps, delta, block_size, bits)
    construct = get_method(method)
    overrides = {"block_size": block_size,
                 **overrides_for(construct, bits=bits, max_summands=max_summands)}
    x, y = held_out_inputs(network.dataset, data_dir, network.split_seed, network.val_size)
    if x.shape[1] != widths[0]:
        raise ValueError(f"the network reads {widths[0]} inputs, the test data has {x.shape[1]}")
    scale = float(np.prod(factors))
    target_logits = forward(network.weights, x)
    rebuilt = scale * forward(target, x)
    homogeneity_gap = float(np.max(np.abs(rebuilt - target_logits)))

    tracemalloc.start()
    started = time.perf_counter()
    result = construct(target, eps, delta, np.random.default_rng(seed), **overrides)
    construct_seconds = time.perf_counter() - started
    result.subnetwork.check_genuine()
    ticket_logits = scale * result.subnetwork.evaluator()(x)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    per_layer = np.split(result.per_weight_errors,
                         np.cumsum([2 * w.size for w in target])[:-1])
    original_units = np.concatenate([c * e for c, e in zip(factors, per_layer, strict=True)])
    target_pred, ticket_pred = target_logits.argmax(1), ticket_logits.argmax(1)
    norms = np.linalg.norm(x, axis=1)
    certified = result.certified_error
    plan = result.plan
    return {
        "dataset": network.dataset,
        "target_widths": "-".join(map(str, widths)),
        "method": method,
        "block_sizes": ",".join(map(str, plan["block_sizes"])),
        "bits": plan.get("bits"),
        "source_width": int(result.source_width),
        "source_depth": int(result.source_depth),
        "bound_width": int(result.bound_width),
        "summands_per_sign": ",".join(map(str, plan.get("max_summands", []))) or None,
        "eps": float(eps),
        "n_test": len(y),
        "target_acc": float(np.mean(target_pred == y)),
        "ticket_acc": float(np.mean(ticket_pred == y)),
        "stored_target_acc": network.stored_test_acc,
        "agreement": float(np.mean(target_pred == ticket_pred)),
        "disagreements": int(np.sum(target_pred != ticket_pred)),
        "max_logit_error": float(np.max(np.abs(ticket_logits - target_logits))),
        "max_abs_logit": float(np.max(np.abs(target_logits))),
        "certified_sup_error": certified,
        "certified_logit_bound": None if certified is None
        else float(scale * norms.max() * certified),
        "max_weight_error": float(original_units.max()),
        "weights_within_eps": float(np.mean(original_units <= weight_eps)),
        "weight_eps": float(weight_eps),
        "scale": scale,
        "homogeneity_gap": homogeneity_gap,
        "success": bool(result.success),
        "target_weights": int(sum(w.size for w in target)),
        "source_weights": int(result.subnetwork.n_source),
        "kept_weights": int(result.subnetwork.n_kept),
        "construct_seconds": construct_seconds,
        "seconds": seconds,
        "peak_gb": peak / 1e9,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
        "seed": int(seed),
        "run_dir": network.run_dir,
    }
