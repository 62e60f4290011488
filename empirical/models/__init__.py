"""The model zoo: every architecture built from the one layer factory of :mod:`empirical.layers`.

:func:`build_model` builds any of :data:`MODEL_NAMES` for dense training, edge-popup, biprop
(layerwise or global scope) and LTH masks alike: every conv/linear layer comes from
``make_conv`` / ``make_linear`` with the model's :class:`~empirical.layers.LayerConfig`, every
hidden activation from ``make_activation`` (ReLU or the binary sign of MPT-1/1), every BatchNorm
from ``make_norm``. The input and the logits stay real; the output is ``(batch, num_classes)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from torch import nn

from empirical.init import BN_INITS, init_batchnorm_
from empirical.layers import LayerConfig, bind_global_scope
from empirical.models.common import NORM_KINDS, BuildOptions, default_norm
from empirical.models.convnets import CONV_SPECS, build_convnet
from empirical.models.fc import build_fc
from empirical.models.resnets import RESNET_SPECS, build_resnet
from empirical.models.strided import build_strided

Builder = Callable[[str, int, tuple[int, ...], BuildOptions], nn.Module]

# name -> (family of the BatchNorm default rule, builder)
_REGISTRY: dict[str, tuple[str, Builder]] = {
    **{name: (spec.norm_family, build_convnet) for name, spec in CONV_SPECS.items()},
    **{name: ("batchnorm", build_resnet) for name in RESNET_SPECS},
    "mnist1d-cnn": ("plain", build_strided),
}
WIDTHS_MODELS = ("fc",)
MODEL_NAMES: tuple[str, ...] = ("fc", "lenet-300-100", *_REGISTRY)


def build_model(name: str, num_classes: int, input_shape: Sequence[int], cfg: LayerConfig,
                width_mult: float = 1.0, widths: Sequence[int] | None = None,
                binary_act: bool = False, bn: str | None = None, bias: bool = False,
                fan_rule: str | None = None, bn_init: str = "ones") -> nn.Module:
    """Build model ``name`` with layers in the mode of ``cfg``.

    Architectures: ``fc`` and ``lenet-300-100`` (:mod:`empirical.models.fc`); ``conv2/4/6/8``,
    ``vgg-small``, the released MPT layouts ``vgg-small-mpt`` and ``wide-vgg-small``,
    ``vgg11/13/16/19`` (:mod:`empirical.models.convnets`); ``resnet20/32/44/56/110``,
    ``resnet18/34/50/101``, ``wrn50-2`` (:mod:`empirical.models.resnets`); the MNIST-1D authors'
    ``mnist1d-cnn`` (:mod:`empirical.models.strided`).

    Parameters
    ----------
    name
        One of :data:`MODEL_NAMES`.
    num_classes
        Number of logits (>= 1).
    input_shape
        Input shape without the batch axis: ``(C, H, W)`` (2-D convolutions), ``(C, L)`` (1-D
        convolutions, e.g. MNIST-1D ``(1, 40)``) or anything for ``fc`` / ``lenet-300-100``, which
        flatten their input.
    cfg
        Layer configuration (dense, masked, edge-popup, biprop). Global-scope score layers are bound
        to one shared threshold (:func:`empirical.layers.bind_global_scope`).
    width_mult
        Multiplier (> 0) of every hidden width, rounded half up to an integer >= 1; never scales
        the input channels or the classes.
    widths
        Hidden widths of ``fc`` (default ``(300, 100)``, the LeNet-300-100 widths; may be empty for
        a linear classifier). Rejected for every other model.
    binary_act
        Binary sign activations with the Bi-Real gradient (MPT-1/1) instead of ReLU.
    bn
        ``"none"``, ``"nonaffine"`` or ``"affine"`` BatchNorm everywhere (``fc``: after every
        hidden linear layer); None: the model's default,
        :func:`empirical.models.common.default_norm`.
    bias
        Give every conv/linear layer a bias. If False, only the architecture's own biases exist
        (LeNet-300-100, open_lth VGG-11/13/16/19, the ResNet classifier), and only when weights
        are trained (dense / masked modes); score modes are bias-free as in the MPT reference.
        ``fc`` with ``widths=(100, 100)`` and ``bias=True`` is the MNIST-1D authors' MLP
        40-100-100-10 (15,210 parameters; their residual connection around the second hidden
        layer is not modelled).
    fan_rule
        How the kept fraction ``k`` scales ``fan_in`` in the ``kn`` / ``sc`` inits of score
        layers: ``"paper"`` (``k fan_in``) or ``"released"`` (``(1 - k) fan_in``, the released
        biprop / edge-popup code; a ValueError at ``k = 1``), see :func:`empirical.init.fan_factor`.
        None: ``cfg.fan_rule`` (default ``"paper"``); a string overrides it.
    bn_init
        ``"ones"`` (PyTorch's ``gamma = 1``) or ``"uniform"`` (``gamma ~ U(0, 1)``, open_lth), for
        every affine BatchNorm, drawn after all weights; see :func:`empirical.init.init_batchnorm_`.

    Returns
    -------
    nn.Module
        The model on the CPU, initialised from torch's global generator; output
        ``(batch, num_classes)``.
    """
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    if not width_mult > 0:
        raise ValueError(f"width multiplier must be > 0, got {width_mult}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    shape = tuple(int(s) for s in input_shape)
    if not shape or min(shape) < 1:
        raise ValueError(f"input shape must be non-empty with sizes >= 1, got {shape}")
    if widths is not None and name not in WIDTHS_MODELS:
        raise ValueError(f"model {name!r} has fixed widths; custom widths are only for "
                         f"{', '.join(WIDTHS_MODELS)} (use width_mult to scale)")
    if bn is not None and bn not in NORM_KINDS:
        raise ValueError(f"unknown batch-norm kind {bn!r}; choose one of {', '.join(NORM_KINDS)}")
    if bn_init not in BN_INITS:
        raise ValueError(f"unknown BatchNorm init {bn_init!r}; choose one of {', '.join(BN_INITS)}")
    if fan_rule is not None:
        cfg = dataclasses.replace(cfg, fan_rule=fan_rule)  # validated by LayerConfig
    family = _REGISTRY[name][0] if name in _REGISTRY else "plain"
    norm = default_norm(family, cfg.mode, binary_act) if bn is None else bn
    opts = BuildOptions(cfg, float(width_mult), norm, binary_act, bias)
    if name in _REGISTRY:
        model = _REGISTRY[name][1](name, num_classes, shape, opts)
    else:
        model = build_fc(name, num_classes, shape, opts, widths)
    return bind_global_scope(init_batchnorm_(model, bn_init))


__all__ = ["MODEL_NAMES", "WIDTHS_MODELS", "build_model"]
