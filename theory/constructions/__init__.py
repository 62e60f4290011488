"""Strong-lottery-ticket constructions and their registry (:mod:`theory.constructions.registry`).

Every construction module registers itself: ``get_method(name)`` returns its record (callable
like its ``construct``), ``constructions(*families)`` all of them in table order.  Adding a
construction is its module plus its module and construction names in
:data:`~theory.constructions.registry.MODULES`.
"""

from __future__ import annotations

from theory.constructions.registry import (
    FAMILIES,
    FULLY_CONNECTED,
    Construction,
    Names,
    constructions,
    get_method,
    in_families,
    our_bounds,
    register,
)
from theory.constructions.result import ConstructionResult

__all__ = ["FAMILIES", "FULLY_CONNECTED", "Construction", "ConstructionResult", "Names",
           "constructions", "get_method", "in_families", "our_bounds", "register"]
