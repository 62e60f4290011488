"""The model zoo: every architecture built from the one layer factory of :mod:`empirical.layers`.

:func:`build_model` builds any registered model (:data:`MODEL_NAMES`, from
:data:`empirical.models.registry.MODELS`) for dense training, edge-popup, biprop (layerwise or
global scope) and LTH masks alike: every conv/linear layer comes from ``make_conv`` /
``make_linear`` with the model's :class:`~empirical.layers.LayerConfig`, every hidden activation
from ``make_activation`` (ReLU or the binary sign of MPT-1/1), every BatchNorm from
``make_norm``. The input and the logits stay real; the output is ``(batch, num_classes)``.

Architectures, each registered beside its definition: ``fc`` and ``lenet-300-100``
(:mod:`empirical.models.fc`); ``conv2/4/6/8``, ``vgg-small``, the released MPT layouts
``vgg-small-mpt`` and ``wide-vgg-small``, ``vgg11/13/16/19`` (:mod:`empirical.models.convnets`);
``resnet20/32/44/56/110``, ``resnet18/34/50/101``, ``wrn50-2`` (:mod:`empirical.models.resnets`);
the MNIST-1D authors' ``mnist1d-cnn`` (:mod:`empirical.models.strided`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from torch import nn

from empirical.init import init_batchnorm_
from empirical.layers import LayerConfig, bind_global_scope
from empirical.models import convnets, fc, resnets, strided  # noqa: F401  (they register)
from empirical.models.common import BuildOptions, default_norm
from empirical.models.registry import MODELS, model_entry

MODEL_NAMES: tuple[str, ...] = tuple(MODELS)


class ModelSpec(Protocol):
    """The architecture fields :func:`build_model` reads (``empirical.config.ModelHparams``).

    Attributes
    ----------
    name
        One of :data:`MODEL_NAMES`.
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
        :func:`empirical.models.common.default_norm`.
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


__all__ = ["MODEL_NAMES", "ModelSpec", "build_model"]
