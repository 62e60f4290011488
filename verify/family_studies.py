"""Which study runs a construction, by its family (:mod:`theory.constructions.registry`).

Every family has one study that builds a target, runs a registered construction and measures it
(one row): the fully connected families ``gadget`` and ``depth``
(:func:`verify.construction_study.run_construction`), ``conv``
(:func:`verify.conv_study.run_conv_construction`) and ``sign``
(:func:`verify.sign_study.run_sign_construction`).  :class:`FamilyStudy` records what the
command line needs of it: the runner, the columns of its table, the names its flags are shown
under, whether it can be swept and whether a row fails.  ``tickets verify construct`` and
``sweep`` read them through :func:`study_of`, so a new construction of a known family needs
nothing here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from verify import construction_study, conv_study, sign_study

CONSTRUCT_COLUMNS = ("construction", "target_size", "domain", "eps", "source_width",
                     "source_depth", "kept_fraction", "bound_width", "sup_error", "sup_method",
                     "certified_error", "tolerances_met", "error_bound", "evidence", "within_eps")
"""Table columns of one fully connected or convolutional run (after the flags are renamed)."""
SIGN_COLUMNS = ("construction", "target_size", "margin", "source_width", "source_depth",
                "certified_margin", "agreement_rate", "outside_margin", "disagreements_outside",
                "bound_width", "evidence", "tolerances_met", "agrees_outside_margin")
"""Table columns of one sign-activation run."""
SIGN_COLUMN_NAMES = {"success": "tolerances_met", "pass": "agrees_outside_margin"}
"""The names of a sign-activation row's flags: ``agrees_outside_margin`` is the tolerances met
and no sampled input outside the margin classified differently."""


@dataclass(frozen=True)
class FamilyStudy:
    """The study of one construction family.

    Parameters
    ----------
    run : callable
        ``run(method, width, depth, eps, delta, seed, block_size=, rescale=, target_scale=,
        domain=) -> row``.
    columns : tuple of str
        Columns of its table.
    column_names : mapping, optional
        Names the row's flags are shown under (``None``: the command line's defaults).
    sweeps : bool
        Whether ``tickets verify sweep`` supports the family.
    failed : callable
        ``failed(row) -> bool``: the row makes ``tickets verify construct`` exit 1.
    """

    run: Callable[..., dict[str, Any]]
    columns: tuple[str, ...]
    column_names: Mapping[str, str] | None = None
    sweeps: bool = False
    failed: Callable[[dict[str, Any]], bool] = lambda row: False


def _run_sign(method: str, width: int, depth: int, eps: float, delta: float, seed: int,
              domain: str = "ball", **options: Any) -> dict[str, Any]:
    """:func:`verify.sign_study.run_sign_construction` with ``eps`` as the margin (the sign
    family's agreement does not depend on the input's length, so ``domain`` is not used)."""
    return sign_study.run_sign_construction(width, depth, eps, delta, seed, **options)


_FULLY_CONNECTED = FamilyStudy(construction_study.run_construction, CONSTRUCT_COLUMNS,
                               sweeps=True)
STUDIES: dict[str, FamilyStudy] = {
    "gadget": _FULLY_CONNECTED,
    "depth": _FULLY_CONNECTED,
    "conv": FamilyStudy(conv_study.run_conv_construction, CONSTRUCT_COLUMNS),
    "sign": FamilyStudy(_run_sign, SIGN_COLUMNS, SIGN_COLUMN_NAMES,
                        failed=lambda row: row["disagreements_outside"] != 0),
}
"""The study of every family of :data:`theory.constructions.registry.FAMILIES`."""


def study_of(method: str) -> FamilyStudy:
    """The study that runs the registered construction ``method``."""
    from theory.constructions import get_method

    return STUDIES[get_method(method).family]
