"""Planted tickets: does training find the strong ticket that provably exists?

A strong-ticket construction (Pensia et al., NeurIPS 2020; multi-prize counting, Diffenderfer &
Kailkhura, ICLR 2021) returns a random source network and masks whose subnetwork approximates a
target; a Plant 'n' Seek network (:mod:`verify.plant_seek`) hides a target's neurons in a random
source. Either way a ticket is known to exist. This module loads such a source into the torch
layer factory with frozen weights (:func:`factory_model`, through
:func:`empirical.layers.set_layer_weights_`) and asks the pruning algorithms to find a ticket on the
task the planted ticket solves:

- edge-popup (Ramanujan et al., CVPR 2020) and biprop (Diffenderfer & Kailkhura 2021) train
  scores with the layer factory's top-k (per layer by default, or one global threshold) at a kept
  fraction ``k`` (the planted density and larger ones); the weights stay the loaded source's.
  Every registered mask rule that keeps a top-k fraction (a subclass of
  :class:`empirical.mask_rules.TopK`, such as a re-drawing top-k) is a search too, named
  ``MODE:RULE`` (:func:`searches`); optionally the biases are pruned by scores of their own
  (``bias_scores``) and ``k`` follows a schedule over the epochs (``keep_schedule``);
- iterative magnitude pruning (Frankle & Carbin, ICLR 2019), the weak-ticket view: train the
  weights from the source, prune the smallest magnitudes (per layer, as for their MLPs), rewind
  to the source, repeat down to ``k``, retrain.

Each found mask is held against the planted one, layer by layer: the Jaccard index
``|F ∩ P| / |F ∪ P|`` (:func:`jaccard`), the kept fraction, layers that keep nothing (layer
collapse) and the hidden units left on an input-output path (:func:`mask_report`). The planted
ticket's own score is measured in the same torch parametrisation (its masks written into the
scores, :func:`plant_scores_`): edge-popup keeps ``W`` and reproduces a real-weight ticket
exactly, biprop keeps ``alpha_i sign(W)`` and reproduces a binary ticket ``gamma_i sign(W)`` up
to the positive factor ``prod_i alpha_i / gamma_i`` (bias-free ReLU networks are positively
homogeneous), so its predictions are the same.

The conversion between numpy and torch lives here: theory and empirical never import each other.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

SCORE_SEARCHES = ("edge-popup", "biprop")
ALGORITHMS = (*SCORE_SEARCHES, "imp")
TASKS = ("classification", "regression")
IMP_RATE = 0.5
"""Fraction of the remaining weights each IMP level removes."""


@dataclass(frozen=True)
class PlantedTicket:
    """A source network with a known ticket in it.

    Parameters
    ----------
    name : str
        What was planted (``"pensia 4-8-3"``, ``"plant-seek circle"``).
    weights : list of numpy.ndarray
        Source layers ``S_i`` of shape ``(d_i, d_{i-1})``, float64.
    masks : list of numpy.ndarray
        Boolean masks of the planted ticket, same shapes.
    biases : list of numpy.ndarray, optional
        Bias vectors of every source layer, or None for a bias-free network.
    bias_masks : list of numpy.ndarray, optional
        Boolean masks of the planted biases (a ticket whose biases are pruned too, Plant 'n'
        Seek's), or None: every bias kept.
    gains : list of float, optional
        Per-layer gains of a binary ticket (kept weight ``gamma_i sign(S_i)``).
    output_scale : float
        Factor applied to the ticket's output.
    task : {"classification", "regression"}
        How the ticket's outputs are read: argmax labels, or real values.
    """

    name: str
    weights: list[np.ndarray]
    masks: list[np.ndarray]
    biases: list[np.ndarray] | None = None
    bias_masks: list[np.ndarray] | None = None
    gains: list[float] | None = None
    output_scale: float = 1.0
    task: str = "classification"

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if len(self.masks) != len(self.weights):
            raise ValueError(f"{len(self.masks)} masks for {len(self.weights)} layers")
        for i, (w, m) in enumerate(zip(self.weights, self.masks, strict=True), start=1):
            if np.shape(m) != np.shape(w) or np.asarray(m).dtype != np.bool_:
                raise ValueError(f"mask {i} must be boolean of shape {np.shape(w)}")
        if self.bias_masks is not None and (self.biases is None or [np.shape(m) for m in
                                            self.bias_masks] != [np.shape(b) for b in self.biases]):
            raise ValueError("bias masks need biases of the same shapes")

    @property
    def widths(self) -> list[int]:
        """Source widths ``[d_0, ..., d_L]``."""
        return [int(self.weights[0].shape[1])] + [int(w.shape[0]) for w in self.weights]

    @property
    def kept(self) -> int:
        """Weights the planted ticket keeps."""
        return int(sum(int(m.sum()) for m in self.masks))

    @property
    def density(self) -> float:
        """Kept fraction of the source's weights (biases not counted)."""
        return self.kept / sum(m.size for m in self.masks)

    def effective(self) -> list[np.ndarray]:
        """The ticket's layers ``M_i ⊙ S_i`` (or ``M_i ⊙ gamma_i sign S_i``)."""
        out = []
        for i, (w, m) in enumerate(zip(self.weights, self.masks, strict=True)):
            kept = w if self.gains is None else np.sign(w) * self.gains[i]
            out.append(np.where(m, kept, 0.0))
        return out

    def effective_biases(self) -> list[np.ndarray] | None:
        """The ticket's biases (the kept ones, where biases are pruned too)."""
        if self.biases is None or self.bias_masks is None:
            return self.biases
        return [np.where(m, b, 0.0) for b, m in zip(self.biases, self.bias_masks, strict=True)]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The ticket's outputs ``output_scale * f(x)`` (ReLU between layers, biases added)."""
        return relu_forward(self.effective(), self.effective_biases(), x) * self.output_scale


def relu_forward(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray] | None,
                 x: np.ndarray) -> np.ndarray:
    """``h_i = relu(W_i h_{i-1} + b_i)``, the last layer linear; float64, inputs ``(n, d_0)``."""
    h = np.asarray(x, dtype=np.float64)
    for i, w in enumerate(weights):
        h = h @ np.asarray(w, dtype=np.float64).T
        if biases is not None:
            h = h + biases[i]
        if i < len(weights) - 1:
            h = np.maximum(h, 0.0)
    return h


def from_construction(result: Any, name: str | None = None,
                      he_scale: bool = True) -> PlantedTicket:
    """The planted ticket of a :class:`theory.constructions.result.ConstructionResult`.

    The construction's subnetwork must be genuine (its source an honest random draw):
    :meth:`theory.subnetwork.Subnetwork.check_genuine` is called first.

    Parameters
    ----------
    result : ConstructionResult
        The construction's outcome.
    name : str, optional
        Name of the planted ticket (default: method and target widths).
    he_scale : bool
        Multiply source layer ``i`` by ``c_i = sqrt(2 / d_{i-1}) / rms(S_i)``, the scale of a
        He-initialised layer. The theory's ``U[-1, 1]`` sources are far larger: with half of a
        512-wide layer's weights kept, the logits of the source are orders of magnitude above
        the ticket's and score training saturates. By positive homogeneity of bias-free ReLU
        networks the masks stay a ticket: a real-weight ticket's outputs grow by ``prod_i c_i``,
        which ``output_scale`` divides out again (so the ticket computes exactly what the
        construction's does); a binary ticket ``gamma_i sign(S_i)`` does not change.
    """
    sub = result.subnetwork
    sub.check_genuine()
    weights = [np.asarray(s, dtype=np.float64) for s in sub.source]
    scale = float(sub.output_scale)
    if he_scale:
        factors = [math.sqrt(2.0 / w.shape[1]) / math.sqrt(float(np.mean(w**2))) for w in weights]
        weights = [c * w for c, w in zip(factors, weights, strict=True)]
        if sub.gains is None:
            scale /= math.prod(factors)
    return PlantedTicket(
        name=name or f"{result.method} {'-'.join(map(str, result.target_widths))}",
        weights=weights, masks=[np.asarray(m, dtype=bool) for m in sub.masks],
        gains=None if sub.gains is None else list(sub.gains), output_scale=scale)


def ball_inputs(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniform in the unit ball of ``R^dim`` (direction Gaussian, radius ``U^(1/d)``),
    the domain on which the constructions' sup-error guarantees hold."""
    direction = rng.standard_normal((n, dim))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    return direction * rng.uniform(0.0, 1.0, (n, 1)) ** (1.0 / dim)


@dataclass(frozen=True)
class TaskData:
    """Training and test arrays of a planted task (labels: int classes or float targets)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    task: str = "classification"


def teacher_task(target: Sequence[np.ndarray], n_train: int, n_test: int,
                 seed: int) -> TaskData:
    """Inputs uniform in the unit ball, labels the argmax of the bias-free target's outputs."""
    rng = np.random.default_rng(seed)
    d0 = int(np.shape(target[0])[1])
    x = ball_inputs(n_train + n_test, d0, rng)
    y = relu_forward(target, None, x).argmax(axis=1)
    return TaskData(x[:n_train], y[:n_train], x[n_train:], y[n_train:])


def keep_for_count(total: int, count: int) -> float:
    """The kept fraction ``k`` for which the factory's top-k keeps exactly ``count`` of ``total``
    (``K = n - floor((1 - k) n)``, :func:`empirical.topk.kept_count`)."""
    from empirical.topk import kept_count

    if not 1 <= count <= total:
        raise ValueError(f"cannot keep {count} of {total} weights")
    keep = count / total
    for _ in range(8):  # a few ulps either way absorb the rounding of (1 - k) n
        got = kept_count(total, keep)
        if got == count:
            return keep
        keep = math.nextafter(keep, 2.0 if got < count else 0.0)
    raise ValueError(f"no float keep gives {count} of {total}")


def factory_model(ticket: PlantedTicket, mode: str, keep: float = 1.0, seed: int = 0,
                  scope: str = "global", mask_rule: str = "topk",
                  bias_scores: bool = False) -> Any:
    """The source as a torch ``fc`` model of the layer factory, its weights the source's.

    Parameters
    ----------
    ticket : PlantedTicket
        The source (and its biases) to load.
    mode : {"edge-popup", "biprop", "masked", "dense"}
        Layer mode.
    keep : float
        Kept fraction ``k`` of the score modes.
    seed : int
        Seeds torch's generator while the scores are initialised.
    scope : {"global", "layerwise"}
        Top-k scope of the score modes: one threshold over all layers (the planted masks'
        per-layer densities differ, so only a global ``k`` can equal them exactly) or ``k`` per
        layer (edge-popup's own rule).
    mask_rule : str
        Registered mask rule of the score modes.
    bias_scores : bool
        Score modes: prune the biases by scores of their own (``LayerConfig.bias_scores``).

    Returns
    -------
    torch.nn.Module
        ``FullyConnected`` with ReLU, no BatchNorm, biases iff the ticket has them; score modes
        with only the scores trainable.
    """
    import torch

    from empirical.algorithms.builders import freeze_for_score_training
    from empirical.config.hparams import ModelHparams
    from empirical.layers import SCORE_MODES, LayerConfig, set_layer_weights_
    from empirical.models import build_model

    widths = ticket.widths
    torch.manual_seed(seed)
    scope = scope if mode in SCORE_MODES else "layerwise"
    model = build_model(ModelHparams("fc", widths=tuple(widths[1:-1]), bn="none",
                                     bias=ticket.biases is not None),
                        widths[-1], (widths[0],),
                        LayerConfig(mode=mode, keep=keep, scope=scope, init="ukn",
                                    mask_rule=mask_rule if mode in SCORE_MODES else "topk",
                                    bias_scores=bias_scores))
    set_layer_weights_(model, [torch.from_numpy(w).float() for w in ticket.weights],
                       None if ticket.biases is None
                       else [torch.from_numpy(np.asarray(b)).float() for b in ticket.biases])
    if mode in SCORE_MODES:
        freeze_for_score_training(model)
    return model


def plant_scores_(model: Any, masks: Sequence[np.ndarray]) -> None:
    """Scores 1 on the planted entries and 0 elsewhere, and ``k`` keeping exactly them."""
    import torch

    from empirical.layers import prunable_layers, set_keep

    layers = prunable_layers(model)
    total = sum(m.size for m in masks)
    with torch.no_grad():
        for (_, layer), mask in zip(layers, masks, strict=True):
            layer.scores.copy_(torch.from_numpy(np.asarray(mask, dtype=np.float32)))
    set_keep(model, keep_for_count(total, int(sum(int(m.sum()) for m in masks))))


def model_masks(model: Any) -> list[np.ndarray]:
    """The model's current masks as boolean numpy arrays, in layer order."""
    from empirical.layers import layer_masks

    return [m.detach().cpu().numpy().astype(bool) for m in layer_masks(model).values()]


def model_bias_masks(model: Any) -> list[np.ndarray] | None:
    """The model's current bias masks (layers with bias scores), or None when it has none."""
    from empirical.layers import prunable_layers

    masks = [layer.bias_score_mask() for _, layer in prunable_layers(model)]
    if any(m is None for m in masks):
        return None
    return [m.detach().cpu().numpy().astype(bool) for m in masks]


def model_outputs(model: Any, x: np.ndarray) -> np.ndarray:
    """The model's outputs on ``x`` (eval mode, float32, one batch) as float64."""
    import torch

    model.eval()
    with torch.no_grad():
        out = model(torch.as_tensor(np.asarray(x, dtype=np.float32)))
    return out.double().numpy()


def score(outputs: np.ndarray, y: np.ndarray, task: str) -> float:
    """Accuracy (classification) or mean squared error per example (regression)."""
    if task == "classification":
        return float(np.mean(outputs.argmax(axis=1) == y))
    return float(np.mean(np.sum((outputs - y.reshape(outputs.shape)) ** 2, axis=1)))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard index ``|A ∩ B| / |A ∪ B|`` of two boolean masks (1 when both are empty)."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"masks of shapes {a.shape} and {b.shape}")
    union = int(np.sum(a | b))
    return 1.0 if union == 0 else int(np.sum(a & b)) / union


def live_units(masks: Sequence[np.ndarray]) -> list[int]:
    """Hidden units per layer on an input-output path of kept edges.

    A unit of hidden layer ``i`` is live when it is reachable from an input through kept edges
    and reaches an output through kept edges (biases aside); a layer with 0 live units
    disconnects the network.
    """
    masks = [np.asarray(m, dtype=bool) for m in masks]
    forward = [np.ones(masks[0].shape[1], dtype=bool)]
    for m in masks:
        forward.append((m & forward[-1][None, :]).any(axis=1))
    backward = [np.ones(masks[-1].shape[0], dtype=bool)]
    for m in reversed(masks):
        backward.append((m & backward[-1][:, None]).any(axis=0))
    backward = backward[::-1]
    return [int(np.sum(forward[i] & backward[i])) for i in range(1, len(masks))]


def mask_report(found: Sequence[np.ndarray], planted: Sequence[np.ndarray]) -> dict[str, Any]:
    """Found masks against planted ones.

    Returns
    -------
    dict
        ``jaccard`` (over all layers at once), ``jaccard_layers`` and ``kept_layers`` (fractions)
        as comma-separated strings, ``min_layer_jaccard``, ``recall`` (planted weights found),
        ``collapsed_layers`` (layers keeping no weight), ``live_hidden`` (hidden units on an
        input-output path, per layer, comma-separated) and ``connected``.
    """
    if len(found) != len(planted):
        raise ValueError(f"{len(found)} found masks for {len(planted)} planted")
    per_layer = [jaccard(f, p) for f, p in zip(found, planted, strict=True)]
    flat_f = np.concatenate([np.ravel(f) for f in found]).astype(bool)
    flat_p = np.concatenate([np.ravel(p) for p in planted]).astype(bool)
    live = live_units(found)
    sizes = np.array([np.size(p) for p in planted], dtype=np.float64)
    p_f = np.array([np.mean(f) for f in found])
    p_p = np.array([np.mean(p) for p in planted])
    chance_union = float(np.sum((p_f + p_p - p_f * p_p) * sizes))
    return {
        "jaccard": jaccard(flat_f, flat_p),
        "min_layer_jaccard": min(per_layer),
        "chance_jaccard": float(np.sum(p_f * p_p * sizes)) / chance_union if chance_union else 1.0,
        "jaccard_layers": ",".join(f"{j:.3f}" for j in per_layer),
        "recall": float(np.sum(flat_f & flat_p) / max(int(flat_p.sum()), 1)),
        "kept_layers": ",".join(f"{np.mean(f):.4f}" for f in found),
        "collapsed_layers": int(sum(1 for f in found if not np.any(f))),
        "live_hidden": ",".join(map(str, live)),
        "connected": bool(min(live, default=1) > 0),
    }


def searches() -> tuple[str, ...]:
    """Every search :func:`recover` runs: ``edge-popup``, ``biprop``, ``MODE:RULE`` for each
    other registered mask rule that keeps a top-k fraction (a :class:`~empirical.mask_rules.TopK`
    subclass: it reads ``k``), and ``imp``. Read from the registry on each call, so a rule
    registered later is a search too."""
    from empirical.mask_rules import MASK_RULES, TopK

    rules = [name for name, rule in MASK_RULES.items()
             if issubclass(rule, TopK) and name != TopK.name]
    return (*SCORE_SEARCHES, *(f"{mode}:{rule}" for mode in SCORE_SEARCHES for rule in rules),
            "imp")


def parse_search(search: str) -> tuple[str, str]:
    """``(layer mode, mask rule)`` of a search name (IMP: ``("masked", "topk")``).

    Raises
    ------
    ValueError
        Naming the search and the choices, unless it is one of :func:`searches`.
    """
    known = searches()
    if search not in known:
        raise ValueError(f"unknown search {search!r}; choose one of {', '.join(known)}")
    if search == "imp":
        return "masked", "topk"
    mode, _, rule = search.partition(":")
    return mode, rule or "topk"


def _batches(x: np.ndarray, y: np.ndarray, task: str, batch_size: int, seed: int) -> Any:
    import torch
    from torch.utils.data import TensorDataset

    from empirical.data import Batches

    labels = (torch.as_tensor(y, dtype=torch.long) if task == "classification"
              else torch.as_tensor(np.asarray(y, dtype=np.float32)).reshape(len(y), -1))
    data = TensorDataset(torch.as_tensor(np.asarray(x, dtype=np.float32)), labels)
    return Batches(data, min(batch_size, len(y)), seed)


def _fit(model: Any, data: TaskData, training: Any, batch_size: int, seed: int,
         keep_schedule: Callable[[int], float] | None = None,
         loss: Callable[[Any, Any], Any] | None = None) -> int:
    """Train ``model`` on the task (``loss``: else cross-entropy or MSE); returns the optimiser
    steps taken."""
    from torch import nn

    from empirical.algorithms.train import FitHooks, fit

    if loss is None and data.task == "regression":
        loss = nn.functional.mse_loss
    hooks = FitHooks(loss=loss, keep_schedule=keep_schedule)
    return fit(model, _batches(data.x_train, data.y_train, data.task, batch_size, seed),
               training, hooks=hooks).steps


def _imp(ticket: PlantedTicket, data: TaskData, keep: float, training: Any, batch_size: int,
         seed: int, scope: str = "layerwise",
         loss: Callable[[Any, Any], Any] | None = None) -> tuple[Any, int]:
    """IMP with rewinding to the source: levels of ``IMP_RATE`` down to ``keep`` (per layer or
    globally), then retrain; returns the model and the optimiser steps of every level."""
    import torch

    from empirical.algorithms import lth, pruning

    model = factory_model(ticket, "masked", seed=seed)
    source = {k: v.clone() for k, v in model.state_dict().items()}
    masks = {n: torch.ones_like(w, dtype=torch.bool)
             for n, w in lth.prunable_weights(model).items()}
    density, steps = 1.0, 0
    while True:
        model.load_state_dict(source)
        lth.set_masks_(model, masks)
        model.train()
        steps += _fit(model, data, training, batch_size, seed, loss=loss)
        if density <= keep:
            return model, steps
        density = max(keep, density * (1.0 - IMP_RATE))
        weights = lth.prunable_weights(model)
        masks = pruning.prune_to_density(weights, masks, density, scope=scope)


def recover(ticket: PlantedTicket, data: TaskData, algorithm: str, keep: float,
            training: Any, batch_size: int = 128, seed: int = 0,
            scope: str = "layerwise", bias_scores: bool = False,
            keep_schedule: Callable[[int], float] | None = None,
            loss: Callable[[Any, Any], Any] | None = None) -> dict[str, Any]:
    """The row of :func:`recover_model` (same parameters)."""
    return recover_model(ticket, data, algorithm, keep, training, batch_size, seed, scope,
                         bias_scores, keep_schedule, loss)[1]


def recover_model(ticket: PlantedTicket, data: TaskData, algorithm: str, keep: float,
                  training: Any, batch_size: int = 128, seed: int = 0,
                  scope: str = "layerwise", bias_scores: bool = False,
                  keep_schedule: Callable[[int], float] | None = None,
                  loss: Callable[[Any, Any], Any] | None = None
                  ) -> tuple[Any, dict[str, Any]]:
    """Run one search on the planted source and hold its ticket against the planted.

    Parameters
    ----------
    ticket : PlantedTicket
        The source with its planted ticket.
    data : TaskData
        The task the planted ticket solves.
    algorithm : str
        One of :func:`searches`: score training (top-k at ``keep``) or IMP down to ``keep``.
    keep : float
        Kept fraction ``k`` in (0, 1].
    training : empirical.config.hparams.TrainingHparams
        Optimiser, schedule and length of every training run.
    batch_size : int
        Training batch size.
    seed : int
        Seed of the scores and of the data order.
    scope : {"layerwise", "global"}
        Top-k scope of the score algorithms and IMP's pruning (global: the planted masks are
        reachable at the planted density; layerwise: only at ``k >=`` the densest planted
        layer, but a global threshold tends to empty the layers of large fan-in, whose initial
        scores and He-scaled weights are smallest; IMP then stops with ``ValueError``).
    bias_scores : bool
        Score searches: prune the biases too, by scores of their own (per layer, at the
        layer's ``k``; ``LayerConfig.bias_scores``).
    keep_schedule : callable, optional
        Score searches: ``epoch -> k`` set at the start of each epoch (annealing); the last
        epoch's ``k`` should be ``keep``.
    loss : callable, optional
        ``(outputs, targets) -> loss`` of every training run (default: cross-entropy, or MSE
        for regression).

    Returns
    -------
    (torch.nn.Module, dict)
        The trained model, and one tidy row: planted, algorithm, scope, keep, planted_keep,
        seed, test score of the found ticket (``test_acc`` or ``test_mse``) and of the planted
        ticket in the algorithm's own parametrisation (``planted_test_*``; IMP and searches
        with bias scores: the numpy ticket), :func:`mask_report`'s columns, ``bias_jaccard``
        (bias scores on a ticket with planted bias masks), ``steps``, seconds.
    """
    from empirical.layers import bind_global_scope
    from empirical.vocabulary import SCOPES

    mode, rule = parse_search(algorithm)
    if not 0 < keep <= 1:
        raise ValueError(f"keep must lie in (0, 1], got {keep!r}")
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    if (bias_scores or keep_schedule is not None) and mode == "masked":
        raise ValueError("bias scores and a keep schedule apply to score searches, not imp")
    started = time.perf_counter()
    if mode == "masked":
        model, steps = _imp(ticket, data, keep, training, batch_size, seed, scope, loss)
        planted_outputs = ticket(data.x_test)
    else:
        if bias_scores:
            planted_outputs = ticket(data.x_test)
        else:
            reference = bind_global_scope(factory_model(ticket, mode, keep, seed))
            plant_scores_(reference, ticket.masks)
            # edge-popup computes the real-weight ticket up to its output scale (exact for
            # regression too); biprop's gains differ by a positive factor (same predictions)
            rescale = ticket.output_scale if mode == "edge-popup" else 1.0
            planted_outputs = model_outputs(reference, data.x_test) * rescale
        model = bind_global_scope(factory_model(ticket, mode, keep, seed, scope, rule,
                                                bias_scores))
        steps = _fit(model, data, training, batch_size, seed, keep_schedule, loss)
    metric = "test_acc" if data.task == "classification" else "test_mse"
    found_biases = model_bias_masks(model) if mode != "masked" else None
    extra = ({"bias_jaccard": jaccard(np.concatenate(found_biases),
                                      np.concatenate(ticket.bias_masks))}
             if found_biases is not None and ticket.bias_masks is not None else {})
    return model, {
        "planted": ticket.name, "algorithm": algorithm,
        "scope": scope, "keep": float(keep),
        "planted_keep": ticket.density, "seed": int(seed),
        metric: score(model_outputs(model, data.x_test), data.y_test, data.task),
        f"planted_{metric}": score(planted_outputs, data.y_test, data.task),
        **mask_report(model_masks(model), ticket.masks), **extra,
        "steps": int(steps), "seconds": time.perf_counter() - started,
    }
