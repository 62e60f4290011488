"""Building a run's model from its hyperparameters, as training built it.

One place for the model of every run kind: :func:`build_run_model` (biprop, edge-popup, dense;
:class:`~empirical.config.hparams.RunHparams`) and :func:`build_lth_model` (IMP and its family;
:class:`~empirical.config.lth_hparams.LTHHparams`), the layer configuration of a run's mask
section, the freezing of score training, and the global-scope keep schedule. Training, the run
store's reader and the benchmarks all build through here.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from empirical.config.hparams import RunHparams
from empirical.config.lth_hparams import LTHHparams
from empirical.data import dataset_info
from empirical.layers import SCORE_MODES, SCORE_PARAMETERS

BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)

def layer_config(hparams: RunHparams) -> Any:
    """The :class:`empirical.layers.LayerConfig` of the run's mask section (``masked`` layers
    for a dense run started from a ticket, ``mask.ticket``)."""
    from empirical.layers import LayerConfig

    m = hparams.mask
    return LayerConfig(mode="masked" if m.ticket else m.mode, keep=m.keep, scope=m.scope,
                       mask_rule=m.mask_rule, init=m.init, fan_rule=m.fan_rule, penalty=m.penalty,
                       redraw_every=m.redraw_every, redraw_fraction=m.redraw_fraction)


def build_run_model(hparams: RunHparams) -> nn.Module:
    """The run's model, initialised from ``training.seed`` (seeds torch's global generator).

    In score modes every parameter except ``scores`` and BatchNorm affine parameters is frozen,
    and a ``mask.source_density`` below 1 makes the source sparse
    (:func:`empirical.sparse_source.apply_sparse_source_`, seeded by ``training.seed``).
    """
    from empirical.models import build_model
    from empirical.sparse_source import apply_sparse_source_

    info = dataset_info(hparams.dataset.name)
    torch.manual_seed(hparams.training.seed)
    model = build_model(hparams.model, info.num_classes, info.input_shape, layer_config(hparams))
    if hparams.mask.mode in SCORE_MODES:
        freeze_for_score_training(model)
        apply_sparse_source_(model, hparams.mask.source_density, hparams.mask.source_layout,
                             hparams.training.seed)
    return model


def freeze_for_score_training(model: nn.Module) -> None:
    """Only the scores (of weights and biases) and BatchNorm gamma/beta keep ``requires_grad``;
    weights/biases freeze."""
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            param.requires_grad_(name in SCORE_PARAMETERS or isinstance(module, BN_TYPES))


def keep_schedule(hparams: RunHparams) -> Any:
    """Global-scope annealing ``epoch -> keep`` (``empirical.layers.annealed_keep``), or None."""
    m = hparams.mask
    if m.mode not in SCORE_MODES or m.scope != "global" or m.anneal_epochs == 0:
        return None
    from empirical.layers import annealed_keep

    return lambda epoch: annealed_keep(m.keep, epoch, m.anneal_epochs)


def build_lth_model(hparams: LTHHparams, seed: int) -> nn.Module:
    """The run's model in layer mode ``"masked"`` (all-ones masks; bias masks too with
    ``pruning.prune_bias``), initialised from ``seed``.

    Parameters
    ----------
    hparams : LTHHparams
        Model, dataset (input shape, classes) and ``pruning.init``.
    seed : int
        Seed of torch's global generator while the layers are initialised.

    Returns
    -------
    nn.Module
        On the CPU.
    """
    from empirical.layers import LayerConfig
    from empirical.models import build_model

    info = dataset_info(hparams.dataset.name)
    torch.manual_seed(seed)
    return build_model(hparams.model, info.num_classes, info.input_shape,
                       LayerConfig(mode="masked", init=hparams.pruning.init,
                                   prune_bias=hparams.pruning.prune_bias))
