"""Plant 'n' Seek (Fischer & Burkholz, ICLR 2022, "Plant 'n' Seek: Can You Find the Winning
Ticket?"): hide a target network's neurons in a random source, then ask a pruning algorithm for it.

Tasks (the paper's definitions; ``n = 10,000`` examples, the first 90% for training):

- ``relu`` (regression, 1 -> 1): ``x ~ U[-1, 1]``, ``y = relu(x) + N(0, sigma^2)``,
  ``sigma = 0.01``.
- ``circle`` (classification, 2 -> 4): ``x ~ U[-1, 1]^2``, the class of ``s = ||x||^2`` among
  ``[0, 0.2), [0.2, 0.5), [0.5, 0.7), [0.7, 2]``; with probability ``p = 0.01`` a label is replaced
  by the second most likely class (the neighbouring ring nearer to ``s``).
- ``helix`` (regression, 1 -> 3): ``x ~ U[-1, 1]``, ``t = 5 pi + 3 pi x``,
  ``y = (t cos t, t sin t, t) / (8 pi) + N(0, sigma^2 I)``, ``sigma = 0.01``.

Targets (ours: exact ReLU networks with biases, four weight layers, so that they fit the paper's
depth-5 sources ``d_in - 100 - 100 - 100 - d_out``, here with one more input, the constant):

- ``relu``: widths ``1-1-1-1-1``, every weight 1 and bias 0: ``relu(x)`` exactly.
- ``circle``: ``2-4-2K-1-4``: ``relu(+-x_i)``; ``relu(|x_i| - k/K)`` for ``k < K``; the
  piecewise-linear interpolant of ``|x_i|^2`` at the knots ``k/K`` summed over ``i`` (so
  ``s`` within ``2 / (4 K^2)``); four linear logits ``a_c s + b_c`` with slopes ``g 2^c`` and
  intercepts that put the decision boundaries at 0.2, 0.5, 0.7 (``K = 10``).
- ``helix``: ``1-1-K-3-3``: ``u = relu(x + 1)``; ``relu(u - 2k/K)`` for ``k < K``; per
  coordinate the interpolant of ``y_m`` at the knots plus 1 (positive, so the ReLU passes it);
  the identity minus 1 (``K = 30``, the paper's knot count).

Planting (the paper's scheme, our implementation), in one of two forms (``biases``):

- ``"constant"``: every bias is a weight from a constant unit, pruned like any other weight by
  the searches of :mod:`verify.planted`: the input gets a last coordinate 1
  (:func:`with_constant`) and the source is bias-free, He-initialised
  (``S_l ~ N(0, 2 / d_{l-1})``, ``d_{l-1}`` counting the constant; layer 1's weights from the
  constant play the paper's random first-layer biases). Target neuron ``j`` of hidden layer ``l``
  takes a source unit ``u_l(j)``, and each hidden layer one *carrier* unit ``v_l`` that passes
  the constant on (value ``k_l > 0``; distinct units at seeded random positions; output neurons
  keep their index). The planted weights are the target's, rescaled:
  ``S[u(j), u(i)] = c_j T[j, i] / c_i``, ``S[u(j), v_{l-1}] = c_j t_j / k_{l-1}`` and
  ``S[v_l, v_{l-1}] = k_l / k_{l-1}`` (``k_0 = 1``). By positive homogeneity the planted unit
  computes ``c_j`` times the target neuron, and the next layer divides the scale out again (the
  scale is carried forward). ``c_j`` and ``k_l / k_{l-1}`` make the planted weights as large, in
  root mean square, as the layer's He weights, so they do not stand out; the output layer uses
  ``c = 1`` for regression, so the planted ticket computes the target exactly; for
  classification (Circle) one ``c`` for all logits brings the planted output weights to the He
  size too (the argmax is unchanged; ``PlantedTicket.output_scale = 1 / c``). Without it the
  Circle target's output weights, up to about 700 against the He 0.14, make the source's logits
  about 200 at initialisation and every search starts saturated; the paper's planting also
  returns a scale by which its ticket's output is multiplied back. The ticket keeps the planted
  edges (``T[j, i] != 0``, ``t_j != 0``, the carrier chain).
- ``"biases"``: the paper's own form. The source has biases, drawn as in their
  ``init_He_scaled`` (RelationalML/PlantNSeek, ``plant_lottery_tickets/plant.py``, read):
  ``S_l ~ N(0, 2 / d_{l-1})`` and ``b_l ~ N(0, sigma_l^2)`` with
  ``sigma_l = prod_{i <= l} sqrt(2 / d_{i-1})`` (the magnitude the carrier chain gives the
  constant's weights above); no carrier unit. A planted unit gets the bias ``c_j t_j``, exactly
  what the carrier delivers in the other form, and the ticket's bias masks keep the planted
  ``t_j != 0``. Their edge-popup prunes these biases with scores of their own
  (``LayerConfig.bias_scores``), per layer at the weights' kept fraction.

Their recipe (``edgepopup_benchmarkdata``, ``edgepopup_vgg/ticket_main.py``, read): SGD with
momentum 0.9, weight decay 5e-4, learning rate 0.1 on a cosine schedule, batch size 32, 10 epochs in
their example, the cross-entropy of a softmax output layer (Circle: :func:`softmax_cross_entropy`)
or MSE (ReLU, Helix); with ``--anneal`` the kept
fraction of epoch ``e = 1..E`` is ``k^(e / E)`` (:func:`geometric_keep`), reaching ``k`` in the
last epoch. Their bias scores start at 0, and the top-k of ``|s_b|`` passes the subgradient
``sign(0) = 0`` back, so in their code the bias scores never move and the kept biases are the
ones their sort puts last; ours start like the weight scores, ``U(-1/sqrt(fan_in), +)``, and
train.

The paper's finding we hold our edge-popup against: on Circle, edge-popup finds a strong ticket
only at densities of 0.1 and above, far from the planted ticket's density.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from verify.planted import PlantedTicket, TaskData, relu_forward, score

TASKS = ("relu", "circle", "helix")
N_EXAMPLES = 10_000
TRAIN_FRACTION = 0.9
NOISE = 0.01
"""Regression noise ``sigma`` and Circle's label-flip probability (the paper's defaults)."""
CIRCLE_BOUNDS = (0.2, 0.5, 0.7)
CIRCLE_KNOTS = 10
CIRCLE_GAIN = 10.0
HELIX_KNOTS = 30
SOURCE_WIDTH = 100
SOURCE_DEPTH = 5
"""Layers of the source counting the input (four weight layers), the paper's depth 5."""
BIAS_PLANTINGS = ("constant", "biases")
"""How the targets' biases are planted (module docstring)."""
LOSSES = ("default", "softmax-ce")
"""Training objectives of a search: the task's own (cross-entropy of the logits, or MSE), or
:func:`softmax_cross_entropy`, Plant 'n' Seek's for classification."""
ANNEALS = ("none", "geometric")
"""Kept-fraction schedules over the epochs: constant ``k``, or :func:`geometric_keep`."""


def softmax_cross_entropy(outputs: Any, labels: Any) -> Any:
    """The cross-entropy of the softmax of the outputs: ``CE(softmax(z), y)``.

    Plant 'n' Seek's networks end in ``nn.Softmax`` and are trained with ``nn.CrossEntropyLoss``
    (``edgepopup_benchmarkdata/ticket_models.py``, ``ticket_main.py``, read), which applies a
    second softmax: the loss is ``-log(e^{p_y} / sum_c e^{p_c})`` of the probabilities ``p``,
    bounded by ``log C`` and with gradients no larger than the probabilities' (their learning
    rate 0.1 relies on it: on the logits of the Circle target, ``|z|`` up to about 100, plain
    cross-entropy with SGD at 0.1 moves scores by hundreds in one epoch). Predictions, the
    argmax, are those of ``z``.
    """
    from torch.nn import functional as F

    return F.cross_entropy(F.softmax(outputs, dim=1), labels)


def geometric_keep(keep: float, epoch: int, epochs: int) -> float:
    """Plant 'n' Seek's annealing: ``k^((e + 1) / E)`` in epoch ``e = 0..E-1``.

    Their ``ticket_main.py`` sets ``k^(e / E)`` at the start of epoch ``e = 1..E`` (1-based), so
    the kept fraction falls geometrically from ``k^(1/E)`` to ``k`` in the last epoch; past the
    last epoch it stays ``k``.

    Parameters
    ----------
    keep : float
        Final kept fraction ``k`` in (0, 1].
    epoch : int
        0-based epoch ``e >= 0``.
    epochs : int
        ``E >= 1``.

    Returns
    -------
    float
        The epoch's kept fraction.
    """
    if not 0 < keep <= 1 or epochs < 1 or epoch < 0:
        raise ValueError(f"need 0 < keep <= 1, epochs >= 1, epoch >= 0; got {keep}, {epochs}, "
                         f"{epoch}")
    return keep ** (min(epoch + 1, epochs) / epochs)


@dataclass(frozen=True)
class Target:
    """A ReLU network with biases: ``h_l = relu(T_l h_{l-1} + t_l)``, the last layer linear."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    task: str

    @property
    def widths(self) -> list[int]:
        """``[d_0, ..., d_L]``."""
        return [int(self.weights[0].shape[1])] + [int(w.shape[0]) for w in self.weights]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The target's outputs on ``x`` of shape ``(n, d_0)``."""
        return relu_forward(self.weights, self.biases, x)


def helix_curve(x: np.ndarray) -> np.ndarray:
    """``(t cos t, t sin t, t) / (8 pi)`` with ``t = 5 pi + 3 pi x``; shape ``(n, 3)``."""
    t = 5 * np.pi + 3 * np.pi * np.asarray(x, dtype=np.float64).reshape(-1)
    return np.stack([t * np.cos(t), t * np.sin(t), t], axis=1) / (8 * np.pi)


def circle_logits(s: np.ndarray, gain: float = CIRCLE_GAIN) -> np.ndarray:
    """Logits ``a_c s + b_c`` of the four rings: slopes ``gain 2^c``, and intercepts with
    ``b_c - b_{c-1} = -(a_c - a_{c-1}) B_c`` so that classes ``c - 1`` and ``c`` tie at the
    boundary ``B_c``; ``s`` of shape ``(n,)``, logits ``(n, 4)``."""
    slopes, intercepts = _circle_coefficients(gain)
    return np.asarray(s, dtype=np.float64)[:, None] * slopes[None] + intercepts[None]


def _circle_coefficients(gain: float) -> tuple[np.ndarray, np.ndarray]:
    slopes = gain * 2.0 ** np.arange(len(CIRCLE_BOUNDS) + 1)
    intercepts = np.concatenate([[0.0], -np.cumsum(np.diff(slopes) * np.array(CIRCLE_BOUNDS))])
    return slopes, intercepts


def task_data(task: str, seed: int, n: int = N_EXAMPLES, noise: float = NOISE) -> TaskData:
    """The task's examples (module docstring), drawn from ``default_rng(seed)``.

    Parameters
    ----------
    task : {"relu", "circle", "helix"}
        The task.
    seed : int
        Seed of inputs and noise.
    n : int
        Examples; the first ``ceil(0.9 n)`` train, the rest test.
    noise : float
        Regression noise ``sigma`` / Circle's label-flip probability.

    Returns
    -------
    TaskData
        Float targets ``(n, d_out)`` for regression, int labels for Circle.
    """
    _check_task(task)
    if n < 2 or not 0 <= noise < 1:
        raise ValueError(f"need n >= 2 and noise in [0, 1), got {n}, {noise}")
    rng = np.random.default_rng(seed)
    d_in = 2 if task == "circle" else 1
    x = rng.uniform(-1.0, 1.0, (n, d_in))
    if task == "circle":
        logits = circle_logits(np.sum(x**2, axis=1))
        order = np.argsort(logits, axis=1)
        flip = rng.uniform(0.0, 1.0, n) < noise
        y = np.where(flip, order[:, -2], order[:, -1])
        kind = "classification"
    else:
        clean = np.maximum(x, 0.0) if task == "relu" else helix_curve(x[:, 0])
        y = clean + rng.normal(0.0, noise, clean.shape)
        kind = "regression"
    k = math.ceil(TRAIN_FRACTION * n)
    return TaskData(x[:k], y[:k], x[k:], y[k:], kind)


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")


def _interpolant(fun: Callable[[np.ndarray], np.ndarray], knots: np.ndarray, end: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``fun(u) ~ fun(knots[0]) + sum_k a_k relu(u - knots[k])`` on ``[knots[0], end]``, exact at
    the knots and ``end``: ``a_0`` the first slope, ``a_k`` the change of slope at knot ``k``.
    Returns ``(a, value at knots[0])`` (``fun`` maps ``(n,)`` to ``(n, m)``)."""
    points = np.append(knots, end)
    values = fun(points)
    slopes = np.diff(values, axis=0) / np.diff(points)[:, None]
    return np.concatenate([slopes[:1], np.diff(slopes, axis=0)]), values[0]


def target_network(task: str) -> Target:
    """The task's exact ReLU target (module docstring)."""
    _check_task(task)
    if task == "relu":
        return Target([np.ones((1, 1))] * 4, [np.zeros(1)] * 4, "regression")
    if task == "circle":
        k = CIRCLE_KNOTS
        first = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
        knots = np.arange(k) / k
        a, _ = _interpolant(lambda t: (t**2)[:, None], knots, 1.0)
        second = np.zeros((2 * k, 4))
        second[:k, :2] = 1.0
        second[k:, 2:] = 1.0
        slopes, intercepts = _circle_coefficients(CIRCLE_GAIN)
        return Target(
            [first, second, np.tile(a[:, 0], 2)[None, :], slopes[:, None]],
            [np.zeros(4), -np.tile(knots, 2), np.zeros(1), intercepts], "classification")
    k = HELIX_KNOTS
    knots = 2.0 * np.arange(k) / k
    a, start = _interpolant(lambda u: helix_curve(u - 1.0), knots, 2.0)
    return Target(
        [np.ones((1, 1)), np.ones((k, 1)), a.T, np.eye(3)],
        [np.ones(1), -knots, start + 1.0, -np.ones(3)], "regression")


def with_constant(x: np.ndarray) -> np.ndarray:
    """Inputs with a last coordinate 1 (the constant unit the planted biases hang from)."""
    x = np.asarray(x, dtype=np.float64)
    return np.concatenate([x, np.ones((len(x), 1))], axis=1)


def he_source(widths: Sequence[int], rng: np.random.Generator) -> list[np.ndarray]:
    """A bias-free He-initialised source: ``S_l ~ N(0, 2 / d_{l-1})``."""
    return [rng.normal(0.0, math.sqrt(2.0 / d_in), (d_out, d_in))
            for d_in, d_out in itertools.pairwise(widths)]


def _matched_scale(params: np.ndarray, std: float) -> float:
    """``c > 0`` with ``rms(c params[params != 0]) = std`` (1 if all are zero)."""
    nonzero = params[params != 0]
    return std / math.sqrt(float(np.mean(nonzero**2))) if nonzero.size else 1.0


def plant(target: Target, widths: Sequence[int], seed: int, name: str = "",
          biases: str = "constant") -> PlantedTicket:
    """Hide ``target`` in a He-initialised source of ``widths`` (module docstring).

    Parameters
    ----------
    target : Target
        The network to plant; as many layers as the source, each hidden layer at least one unit
        narrower than the source's with the constant input (room for the carrier).
    widths : sequence of int
        Source widths: the input is the target's (plus the constant coordinate), the output the
        target's.
    seed : int
        Seed of the source draw and of the planted units' positions.
    name : str
        Name of the planted ticket.
    biases : {"constant", "biases"}
        How the target's biases are planted (module docstring).

    Returns
    -------
    PlantedTicket
        The source with its planted masks (``"biases"``: and bias masks); it computes ``target``
        exactly (``"constant"``: on :func:`with_constant` inputs).
    """
    if biases not in BIAS_PLANTINGS:
        raise ValueError(f"biases must be one of {', '.join(BIAS_PLANTINGS)}, got {biases!r}")
    carried, classify = int(biases == "constant"), target.task == "classification"
    t_widths = target.widths
    if (len(widths) != len(t_widths) or widths[0] != t_widths[0] + carried
            or widths[-1] != t_widths[-1]):
        raise ValueError(f"source widths {list(widths)} do not fit the target {t_widths}: same "
                         "depth, input and output width"
                         + (", one more input (the constant)" if carried else ""))
    if any(s < t + carried for s, t in zip(widths[1:-1], t_widths[1:-1], strict=True)):
        raise ValueError(f"a hidden layer of {list(widths)} is narrower than the target's "
                         f"{t_widths}" + (" plus a carrier unit" if carried else ""))
    rng = np.random.default_rng(seed)
    weights = he_source(widths, rng)
    masks = [np.zeros(w.shape, dtype=bool) for w in weights]
    stds = [math.sqrt(2.0 / d) for d in widths[:-1]]
    source_biases = (None if carried else
                     [rng.normal(0.0, math.prod(stds[:i + 1]), w.shape[0])
                      for i, w in enumerate(weights)])
    bias_masks = None if carried else [np.zeros(w.shape[0], dtype=bool) for w in weights]
    previous, prev_scale = np.arange(t_widths[0]), np.ones(t_widths[0])
    carrier, carrier_value = t_widths[0], 1.0  # the constant input coordinate (its value)
    last = len(weights) - 1
    for layer, (t_w, t_b) in enumerate(zip(target.weights, target.biases, strict=True)):
        d_out, std = t_w.shape[0], stds[layer]
        params = np.concatenate([t_w / prev_scale[None, :], (t_b / carrier_value)[:, None]],
                                axis=1)
        if layer == last:  # classification: one scale for every logit keeps the argmax
            units = np.arange(d_out)
            scale = np.full(d_out, _matched_scale(params, std) if classify else 1.0)
        else:
            chosen = rng.choice(widths[layer + 1], d_out + carried, replace=False)
            units, new_carrier = chosen[:d_out], int(chosen[-1])
            scale = np.array([_matched_scale(row, std) for row in params])
        rows, cols = np.nonzero(params if carried else params[:, :-1])
        sources = np.append(previous, carrier)
        weights[layer][units[rows], sources[cols]] = scale[rows] * params[rows, cols]
        masks[layer][units[rows], sources[cols]] = True
        if not carried:  # the bias the carrier would deliver: c_j t_j
            planted = np.nonzero(t_b)[0]
            source_biases[layer][units[planted]] = scale[planted] * t_b[planted]
            bias_masks[layer][units[planted]] = True
        elif layer < last:  # the carrier passes the constant on, scaled like a He weight
            weights[layer][new_carrier, carrier] = std
            masks[layer][new_carrier, carrier] = True
            carrier = new_carrier
        carrier_value *= std
        previous, prev_scale = units, scale
    return PlantedTicket(name or f"plant-seek {'-'.join(map(str, t_widths))}", weights, masks,
                         biases=source_biases, bias_masks=bias_masks, task=target.task,
                         output_scale=1.0 / float(scale[0]))


def source_widths(task: str, width: int = SOURCE_WIDTH, depth: int = SOURCE_DEPTH,
                  biases: str = "constant") -> list[int]:
    """``(d_in + 1) - width x (depth - 2) - d_out`` of the task (the input with its constant;
    ``biases="biases"``: ``d_in`` alone)."""
    t = target_network(task).widths
    if depth != len(t):
        raise ValueError(f"the {task} target has {len(t)} layers (counting the input); "
                         f"source depth {depth} does not match")
    return [t[0] + int(biases == "constant"), *([width] * (depth - 2)), t[-1]]


def baseline(data: TaskData) -> float:
    """The trivial predictor's test score: majority-class accuracy, or the MSE of the training
    mean."""
    if data.task == "classification":
        counts = np.bincount(data.y_train)
        return float(np.mean(data.y_test == counts.argmax()))
    mean = np.mean(data.y_train, axis=0, keepdims=True)
    return score(np.broadcast_to(mean, data.y_test.shape).copy(), data.y_test, data.task)
