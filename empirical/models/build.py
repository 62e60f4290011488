"""Building a registered model: :func:`build_model` (see :mod:`empirical.models`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from torch import nn

from empirical.init import init_batchnorm_
from empirical.layers import LayerConfig, bind_global_scope
from empirical.models.common import BuildOptions
from empirical.models.registry import MODELS, default_norm, model_entry


class ModelSpec(Protocol):
    """The architecture fields :func:`build_model` reads (``empirical.config.ModelHparams``).

    Attributes
    ----------
    name
        One of :data:`empirical.models.MODEL_NAMES`.
    widths
        Hidden widths of a model with free widths (``fc``: default ``(300, 100)``, the
        LeNet-300-100 widths; may be empty for a linear classifier); None for every other model.
    width_mult
        Multiplier (> 0) of every hidden width, rounded half up to an integer >= 1; never scales
        the input channels or the classes.
    binary_act
        Binary sign activations with the Bi-Real gradient (MPT-1/1) instead of ReLU.
    bn
        ``"none"``, ``"nonaffine"`` or ``"affine"`` BatchNorm everywhere (``fc``: after every
        hidden linear layer); ``"default"``: the model's own,
        :func:`empirical.models.registry.default_norm`.
    bias
        Give every conv/linear layer a bias. If False, only the architecture's own biases exist
        (LeNet-300-100, open_lth VGG-11/13/16/19, the ResNet classifier), and only when weights
        are trained (dense / masked modes); score modes are bias-free as in the MPT reference.
        ``fc`` with ``widths=(100, 100)`` and ``bias=True`` is the MNIST-1D authors' MLP
        40-100-100-10 (15,210 parameters) with ``residual=True``.
    residual
        Hidden-to-hidden blocks whose input and output widths agree add their input:
        ``h <- h + act(norm(W h + b))`` (models registered with ``residual=True``: ``fc``).
    bn_init
        ``"ones"`` (PyTorch's ``gamma = 1``) or ``"uniform"`` (``gamma ~ U(0, 1)``, open_lth), for
        every affine BatchNorm, drawn after all weights; see :func:`empirical.init.init_batchnorm_`.
    """

    name: str
    widths: tuple[int, ...] | None
    width_mult: float
    binary_act: bool
    bn: str
    bias: bool
    bn_init: str
    residual: bool


def build_model(model: ModelSpec, num_classes: int, input_shape: Sequence[int],
                cfg: LayerConfig) -> nn.Module:
    """Build the architecture ``model`` with layers in the mode of ``cfg``.

    Parameters
    ----------
    model
        The architecture: a :class:`~empirical.config.hparams.ModelHparams`, which has checked
        its own fields (see :class:`ModelSpec`); the model-dependent ones are checked here.
    num_classes
        Number of logits (>= 1).
    input_shape
        Input shape without the batch axis: ``(C, H, W)`` (2-D convolutions), ``(C, L)`` (1-D
        convolutions, e.g. MNIST-1D ``(1, 40)``) or anything for ``fc`` / ``lenet-300-100``, which
        flatten their input.
    cfg
        Layer configuration (dense, masked, edge-popup, biprop; mask rule, init and the fan rule
        of the scaled inits). Global-scope top-k score layers are bound to one shared threshold
        (:func:`empirical.layers.bind_global_scope`).

    Returns
    -------
    nn.Module
        The model on the CPU, initialised from torch's global generator; output
        ``(batch, num_classes)``.
    """
    entry = model_entry(model.name)
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    shape = tuple(int(s) for s in input_shape)
    if not shape or min(shape) < 1:
        raise ValueError(f"input shape must be non-empty with sizes >= 1, got {shape}")
    if model.widths is not None and not entry.free_widths:
        free = ", ".join(name for name, e in MODELS.items() if e.free_widths)
        raise ValueError(f"model {model.name!r} has fixed widths; custom widths are only for "
                         f"{free} (use width_mult to scale)")
    if model.residual and not entry.residual:
        takes = ", ".join(name for name, e in MODELS.items() if e.residual)
        raise ValueError(f"model {model.name!r} has no residual option; it applies to {takes}")
    norm = (default_norm(entry.norm_family, cfg.mode, model.binary_act) if model.bn == "default"
            else model.bn)
    opts = BuildOptions(cfg, float(model.width_mult), norm, model.binary_act, model.bias,
                        model.widths, model.residual)
    built = entry.build(model.name, num_classes, shape, opts)
    return bind_global_scope(init_batchnorm_(built, model.bn_init))

