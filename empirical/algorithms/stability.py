"""Instability analysis: linear mode connectivity of two copies trained with different SGD noise.

Frankle, Dziugaite, Roy & Carbin (ICML 2020), Section 2: two copies of a network start from the
same weights ``theta_k`` (the dense network's iterate after ``k`` steps, or an IMP ticket rewound
to ``theta_k``) and train to completion with different data orders (the only difference: SGD
noise). The error along the linear path between their final weights,
``E(alpha) = err((1 - alpha) W_1 + alpha W_2)`` for ``alpha`` in ``[0, 1]``, gives the
instability

    instability = max_alpha E(alpha) - (E(0) + E(1)) / 2,

the largest rise of the error over the mean of the endpoints ("error barrier"). A network is
stable (the paper: below 2% error) when the copies land in one linearly connected minimum. For
networks with BatchNorm, the running statistics of every interpolated network are recomputed on
the training data (the interpolated weights do not match the interpolated statistics).

The copies are stored runs (``retrain`` branches of level 0 or of an IMP level whose
``training.data_seed`` differs; :func:`stability_copies`), so nothing is trained twice.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from empirical.config.hparams import RuntimeConfig
from empirical.config.lth_hparams import LTHHparams, derived
from empirical.data import Batches

StateDict = dict[str, Any]
DEFAULT_POINTS = 31


@dataclass(frozen=True)
class LinearPath:
    """Errors along the linear path between two trained networks.

    Attributes
    ----------
    alphas : tuple of float
        Interpolation coefficients, ``alphas[0] = 0`` (copy 1) to ``alphas[-1] = 1`` (copy 2).
    train_error, test_error : tuple of float
        Error (1 - accuracy) of each interpolated network on the training and test sets.
    test_size : int
        Number of test examples.
    """

    alphas: tuple[float, ...]
    train_error: tuple[float, ...]
    test_error: tuple[float, ...]
    test_size: int

    @staticmethod
    def _barrier(errors: Sequence[float]) -> float:
        return max(errors) - (errors[0] + errors[-1]) / 2

    @property
    def train_instability(self) -> float:
        """``max E_train(alpha) - (E_train(0) + E_train(1)) / 2``."""
        return self._barrier(self.train_error)

    @property
    def test_instability(self) -> float:
        """``max E_test(alpha) - (E_test(0) + E_test(1)) / 2``."""
        return self._barrier(self.test_error)


def interpolate_states(a: StateDict, b: StateDict, alpha: float) -> StateDict:
    """``(1 - alpha) a + alpha b`` for floating tensors; other entries (masks must agree,
    counters) are taken from ``a``.

    Raises
    ------
    ValueError
        If the two states name different tensors or hold different masks.
    """
    if a.keys() != b.keys():
        raise ValueError("the two networks have different state entries")
    out: StateDict = {}
    for key, value in a.items():
        if key.endswith(".mask"):
            if not torch.equal(value, b[key]):
                raise ValueError(f"the two networks have different masks ({key})")
            out[key] = value.clone()
        elif torch.is_tensor(value) and value.is_floating_point():
            out[key] = torch.lerp(value, b[key].to(value), alpha)
        else:
            out[key] = value.clone() if torch.is_tensor(value) else value
    return out


def _has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
               for m in model.modules())


@torch.no_grad()
def recompute_batchnorm(model: nn.Module, batches: Batches) -> None:
    """Replace every BatchNorm's running statistics by their average over one epoch of
    ``batches`` (cumulative average: ``momentum=None``), then restore each momentum."""
    norms = [m for m in model.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    momenta = [m.momentum for m in norms]
    was_training = model.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for x, _ in batches.epoch(0):
        model(x)
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    model.train(was_training)


def linear_path(model: nn.Module, state_a: StateDict, state_b: StateDict, train: Batches,
                test: Batches, points: int = DEFAULT_POINTS) -> LinearPath:
    """Train and test error of ``(1 - alpha) W_a + alpha W_b`` at ``points`` evenly spaced alphas.

    Parameters
    ----------
    model : nn.Module
        A model of the two networks' architecture (its state is overwritten).
    state_a, state_b : dict
        The two final ``state_dict`` s (same masks).
    train, test : Batches
        Evaluation batches of the training and test sets (the training set also recomputes the
        BatchNorm statistics of networks that have them).
    points : int
        Number of alphas, ``>= 2`` (the paper: 30).

    Returns
    -------
    LinearPath
    """
    from empirical.algorithms.callbacks import evaluate

    if points < 2:
        raise ValueError(f"points must be >= 2, got {points}")
    alphas = tuple(float(a) for a in np.linspace(0.0, 1.0, points))
    batchnorm = _has_batchnorm(model)
    train_err, test_err = [], []
    for alpha in alphas:
        model.load_state_dict(interpolate_states(state_a, state_b, alpha))
        if batchnorm:
            recompute_batchnorm(model, train)
        train_err.append(1.0 - evaluate(model, train).acc)
        test_err.append(1.0 - evaluate(model, test).acc)
    return LinearPath(alphas, tuple(train_err), tuple(test_err), len(test.dataset))


def stability_copies(parent: LTHHparams, rewind: str | None = None,
                     data_seeds: tuple[int, int] = (1, 2)) -> tuple[LTHHparams, LTHHparams]:
    """The two copies of ``parent`` trained from ``theta_k`` with data orders ``data_seeds``.

    Parameters
    ----------
    parent : LTHHparams
        Level 0 (the dense network) or an IMP level ``>= 1``.
    rewind : str, optional
        ``k`` for level 0 (``<n>it`` or ``<n>ep``); an IMP level starts from its lineage's
        rewind point, which ``rewind`` must then equal if given.
    data_seeds : (int, int)
        Data-order seeds of the two copies (distinct).

    Returns
    -------
    (LTHHparams, LTHHparams)
        ``retrain`` runs derived from ``parent``.
    """
    if data_seeds[0] == data_seeds[1]:
        raise ValueError("the two copies need different data orders")
    if parent.level.source == "dense":
        pruning = dataclasses.replace(parent.pruning, rewind=rewind or "0it")
        parent_for_copies = parent
    elif parent.level.source == "imp":
        if rewind is not None and dataclasses.replace(parent.pruning, rewind=rewind).rewind \
                != parent.pruning.rewind:
            raise ValueError(f"an IMP level starts from its lineage's rewind point "
                             f"{parent.pruning.rewind}, not {rewind}")
        pruning, parent_for_copies = parent.pruning, parent
    else:
        raise ValueError(f"instability is measured for level 0 or an IMP level, not a "
                         f"{parent.level.source} run")
    copies = []
    for seed in data_seeds:
        training = dataclasses.replace(parent.training, data_seed=seed)
        copy = derived(parent_for_copies, "retrain", training=training)
        copies.append(dataclasses.replace(copy, pruning=pruning))
    return copies[0], copies[1]


def run_instability(parent: LTHHparams, rewind: str | None = None,
                    data_seeds: tuple[int, int] = (1, 2), points: int = DEFAULT_POINTS,
                    runs_dir: str | os.PathLike | None = None,
                    runtime: RuntimeConfig | None = None) -> tuple[LinearPath, list[dict]]:
    """Train (or read back) the two copies of ``parent`` and measure their linear path.

    Parameters
    ----------
    parent : LTHHparams
        A finished level 0 or IMP level (trained first if it is not).
    rewind, data_seeds
        See :func:`stability_copies`.
    points : int
        Alphas on the path.
    runs_dir, runtime
        Run store root and device settings.

    Returns
    -------
    (LinearPath, list of dict)
        The path, and the rows of the two copies (:func:`empirical.algorithms.lth.run_level`).
    """
    from empirical.algorithms.lth import build_lth_model, run_level, trained_model
    from empirical.algorithms.mpt import make_batches
    from empirical.device import Distributed, select_device
    from empirical.storage.store import RunStore

    runtime = runtime or RuntimeConfig()
    copies = stability_copies(parent, rewind, data_seeds)
    capture = copies[0].pruning.rewind if parent.level.source == "dense" else "0it"
    run_level(parent, runs_dir, runtime, capture_rewind=capture)
    rows = [run_level(c, runs_dir, runtime) for c in copies]
    states = [trained_model(c, RunStore.for_run(runs_dir, "lth", c)).state_dict()
              for c in copies]
    device = select_device(runtime.device)
    train, _, test = make_batches(parent, runtime, device, Distributed())
    ordered_train = Batches(train.dataset, train.batch_size, None, device=device,
                            drop_last=False)
    model = build_lth_model(parent, parent.training.seed).to(device)
    return linear_path(model, *states, ordered_train, test, points), rows
