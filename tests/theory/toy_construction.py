"""A toy construction registered from outside :mod:`theory.constructions` (one registration).

Malach's per-layer selection under another name, with a made-up bound: ``tests/
test_construction_registry.py`` imports it and checks that it appears wherever constructions are
listed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from theory import bounds
from theory.constructions import Construction, ConstructionResult, register
from theory.constructions.blocks import gadget_ticket, validate_inputs
from theory.constructions.malach import block_sizes_bound, select_layer
from theory.networks import layer_widths


def construct(target: Sequence[np.ndarray], eps: float, delta: float, rng: np.random.Generator,
              block_size: int | Sequence[int] | None = None,
              rescale: bool = False) -> ConstructionResult:
    """Malach's gadget, registered as ``toy``."""
    weights = validate_inputs(target, eps, delta, "both", rescale)
    widths = layer_widths(weights)
    return gadget_ticket("toy", weights, eps, delta, rng, block_size,
                         block_sizes_bound(widths, eps, delta), select_layer, {})


register(Construction(
    name="toy", construct=construct, family="gadget", theorem="Toy et al. 2026",
    bound=bounds.Bound("ours-toy", 7 * bounds.d, "Ours: a toy width.", False, "ours"),
    theorem_bound=bounds.Bound("toy-width", bounds.C * bounds.d, "Toy: C d.", True, "upper"),
    slow=True, success_blocks=(8,), block_sizes_bound=block_sizes_bound))
