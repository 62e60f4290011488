"""Strong-lottery-ticket constructions and their registry.

Every construction has the signature ``construct(target, eps, delta, rng, **overrides)`` and returns
a :class:`~theory.constructions.result.ConstructionResult`. ``METHODS`` maps a registry name to
that callable; modules are imported on first call, so a construction is added by one
line in the dict literal below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import import_module
from typing import Any

import numpy as np

from theory.constructions.result import ConstructionResult


class LazyConstruct:
    """A construction's ``construct`` function, imported from its module on first call.

    Parameters
    ----------
    module : str
        Dotted module path that defines ``construct``.
    """

    def __init__(self, module: str) -> None:
        self.module = module

    @property
    def function(self) -> Callable[..., ConstructionResult]:
        """The module's ``construct`` function (imports the module)."""
        return import_module(self.module).construct

    def __call__(
        self,
        target: Sequence[np.ndarray],
        eps: float,
        delta: float,
        rng: np.random.Generator,
        **overrides: Any,
    ) -> ConstructionResult:
        """Run the construction; see the module's ``construct`` for the parameters."""
        return self.function(target, eps, delta, rng, **overrides)

    def __repr__(self) -> str:
        return f"LazyConstruct({self.module!r})"


METHODS: dict[str, LazyConstruct] = {
    "pensia": LazyConstruct("theory.constructions.pensia"),
    "malach": LazyConstruct("theory.constructions.malach"),
    "mpt-binary": LazyConstruct("theory.constructions.mpt_binary"),
    "binary-depth": LazyConstruct("theory.constructions.binary_depth"),
    "orseau": LazyConstruct("theory.constructions.orseau"),
    "depth-plus-one": LazyConstruct("theory.constructions.depth_plus_one"),
}


def get_method(name: str) -> LazyConstruct:
    """Look a construction up by registry name.

    Parameters
    ----------
    name : str
        A key of ``METHODS``.

    Returns
    -------
    LazyConstruct
        The callable ``construct(target, eps, delta, rng, **overrides)``.
    """
    if name not in METHODS:
        raise ValueError(f"unknown construction {name!r}; choose one of {', '.join(METHODS)}")
    return METHODS[name]


__all__ = ["METHODS", "ConstructionResult", "LazyConstruct", "get_method"]
