"""The registry of model names: each architecture module registers its models beside their code.

A builder ``build(name, num_classes, input_shape, opts) -> nn.Module`` (``opts`` a
:class:`~empirical.models.common.BuildOptions`) is registered under one or more names with
:func:`register_model`, which records the facts the zoo needs about the model: its BatchNorm
family (:func:`~empirical.models.common.default_norm`) and whether it takes free hidden widths.
:func:`empirical.models.build_model`, the ``--model`` choices and ``tickets models`` read
:data:`MODELS`; adding a model is one builder and its registration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from empirical.choices import check_choice
from empirical.models.common import NORM_FAMILIES, BuildOptions

Builder = Callable[[str, int, tuple[int, ...], BuildOptions], nn.Module]


@dataclass(frozen=True)
class ModelEntry:
    """The facts of one registered model.

    Attributes
    ----------
    name
        The model's name (``--model``).
    build
        Its builder.
    norm_family
        Family of the BatchNorm default rule, one of
        :data:`~empirical.models.common.NORM_FAMILIES`.
    free_widths
        Whether the model takes free hidden widths (``ModelHparams.widths``); the others are
        only scaled by the width multiplier.
    residual
        Whether the model takes the residual option (``ModelHparams.residual``).
    """

    name: str
    build: Builder
    norm_family: str = "plain"
    free_widths: bool = False
    residual: bool = False


MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, norm_family: str = "plain", free_widths: bool = False,
                   residual: bool = False) -> Callable[[Builder], Builder]:
    """Decorator registering a builder under ``name`` in :data:`MODELS` (see :class:`ModelEntry`).

    Parameters
    ----------
    name
        The model's name; must be new.
    norm_family
        Its BatchNorm family.
    free_widths
        Whether it takes free hidden widths.
    residual
        Whether it takes the residual option.

    Returns
    -------
    Callable
        The decorator, which returns the builder unchanged.
    """
    if name in MODELS:
        raise ValueError(f"model {name!r} is registered already")
    check_choice(norm_family, NORM_FAMILIES, "model family")

    def register(build: Builder) -> Builder:
        MODELS[name] = ModelEntry(name, build, norm_family, free_widths, residual)
        return build

    return register


def model_entry(name: str) -> ModelEntry:
    """The registered model ``name``; a ValueError naming the choices for an unknown one."""
    check_choice(name, MODELS, "model")
    return MODELS[name]
