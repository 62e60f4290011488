"""The registry of model names and the facts of each model, importable without torch.

Every model is one :class:`ModelEntry` in :data:`MODELS`, made by :func:`register_model`: its name
(``--model``), its builder ``build(name, num_classes, input_shape, opts) -> nn.Module`` (``opts`` a
:class:`~empirical.models.common.BuildOptions`) named by its import path ``"module:function"`` and
imported on first use, its BatchNorm family (:func:`default_norm`) and whether it takes free hidden
widths. :func:`empirical.models.build_model`, the ``--model`` choices, ``ModelHparams`` and
``tickets models`` read :data:`MODELS`; the command line lists the models without loading torch. The
built-in models are registered at the end of this module: the convolutional and residual networks
from their spec tables (:data:`~empirical.models.conv_specs.CONV_SPECS`,
:data:`~empirical.models.resnet_specs.RESNET_SPECS`), and ``fc``, ``lenet-300-100`` and
``mnist1d-cnn`` one by one. Adding a model is one builder and its registration.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from empirical.choices import check_choice
from empirical.models.conv_specs import CONV_SPECS
from empirical.models.resnet_specs import RESNET_SPECS
from empirical.vocabulary import SCORE_MODES

#: A model builder: ``build(name, num_classes, input_shape, opts) -> nn.Module``.
Builder = Callable[[str, int, tuple[int, ...], Any], Any]

# Per model family: BatchNorm kind when weights are trained (dense / masked), when only scores are
# trained (edge-popup / biprop), and the kind forced by binary activations (None: no override).
_NORM_DEFAULTS: dict[str, tuple[str, str, str | None]] = {
    "plain": ("none", "none", "nonaffine"),
    "vgg-small": ("affine", "nonaffine", "nonaffine"),
    "batchnorm": ("affine", "nonaffine", None),
}
NORM_FAMILIES = tuple(_NORM_DEFAULTS)


def default_norm(family: str, mode: str, binary_act: bool) -> str:
    """BatchNorm kind a model family uses when ``bn`` is not given.

    The rule of the reference implementations (Diffenderfer & Kailkhura, ICLR 2021, for MPT;
    Ramanujan et al., CVPR 2020, for edge-popup; Frankle et al. / open_lth for LTH):

    - ``"plain"`` (fc, LeNet-300-100, Conv-2/4/6/8): no BatchNorm (MPT-1/32 Conv nets), except with
      binary activations, which need non-affine BatchNorm before every ``sign``.
    - ``"vgg-small"``: affine BatchNorm when the weights are trained (dense / masked), non-affine
      in score modes (edge-popup / biprop) or with binary activations (MPT-1/1 VGG-Small).
    - ``"batchnorm"`` (VGG-11/13/16/19, all ResNets): affine BatchNorm with trained weights
      (open_lth), non-affine BatchNorm in score modes (edge-popup / biprop).

    Parameters
    ----------
    family
        One of :data:`NORM_FAMILIES`.
    mode
        Layer mode of the :class:`~empirical.layers.LayerConfig`.
    binary_act
        Whether the hidden activations are binary signs.

    Returns
    -------
    str
        ``"none"``, ``"nonaffine"`` or ``"affine"``.
    """
    check_choice(family, NORM_FAMILIES, "model family")
    trained, scored, binary = _NORM_DEFAULTS[family]
    if binary_act and binary is not None:
        return binary
    return scored if mode in SCORE_MODES else trained


@dataclass(frozen=True)
class ModelEntry:
    """The facts of one registered model.

    Attributes
    ----------
    name
        The model's name (``--model``).
    builder
        Its builder, or the builder's import path ``"module:function"`` (imported by
        :attr:`build` on first use: the builders' modules import torch).
    norm_family
        Family of the BatchNorm default rule, one of :data:`NORM_FAMILIES`.
    free_widths
        Whether the model takes free hidden widths (``ModelHparams.widths``); the others are
        only scaled by the width multiplier.
    residual
        Whether the model takes the residual option (``ModelHparams.residual``).
    """

    name: str
    builder: Builder | str
    norm_family: str = "plain"
    free_widths: bool = False
    residual: bool = False

    @property
    def build(self) -> Builder:
        """The builder (its module imported if :attr:`builder` is a path)."""
        if callable(self.builder):
            return self.builder
        module, function = self.builder.split(":")
        return getattr(importlib.import_module(module), function)


MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, builder: Builder | str, norm_family: str = "plain",
                   free_widths: bool = False, residual: bool = False) -> None:
    """Enter the model ``name`` into :data:`MODELS` (see :class:`ModelEntry`).

    Parameters
    ----------
    name
        The model's name; must be new.
    builder
        Its builder, or the builder's import path ``"module:function"``.
    norm_family
        Its BatchNorm family.
    free_widths
        Whether it takes free hidden widths.
    residual
        Whether it takes the residual option.
    """
    if name in MODELS:
        raise ValueError(f"model {name!r} is registered already")
    check_choice(norm_family, NORM_FAMILIES, "model family")
    MODELS[name] = ModelEntry(name, builder, norm_family, free_widths, residual)


def model_entry(name: str) -> ModelEntry:
    """The registered model ``name``; a ValueError naming the choices for an unknown one."""
    check_choice(name, MODELS, "model")
    return MODELS[name]


for _name, _spec in CONV_SPECS.items():
    register_model(_name, "empirical.models.convnets:build_convnet", _spec.norm_family)
register_model("fc", "empirical.models.fc:build_fc", free_widths=True, residual=True)
register_model("lenet-300-100", "empirical.models.fc:build_lenet")
for _name in RESNET_SPECS:
    register_model(_name, "empirical.models.resnets:build_resnet", "batchnorm")
register_model("mnist1d-cnn", "empirical.models.strided:build_strided")
