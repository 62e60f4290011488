"""Names of a package resolved from its torch modules on first use (PEP 562), so that importing
the package (the command line's ``--help``, its choices) loads no torch."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, modules: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``package.modules[name]`` on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    modules : mapping
        Exported name -> the submodule (relative to ``package``) that defines it.

    Returns
    -------
    callable
        The ``__getattr__``: it caches the resolved value in the package's namespace, and raises
        ``AttributeError`` for any other name.
    """
    def __getattr__(name: str) -> Any:
        if name not in modules:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{modules[name]}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
