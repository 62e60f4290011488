"""The result object every construction returns (in the style of ``scipy.optimize.OptimizeResult``).

A construction turns a target network, an accuracy ``eps`` and a failure probability ``delta`` into
masks (and, for binarised tickets, per-layer gains) over an explicit random source network.  The
:class:`ConstructionResult` carries everything a caller may inspect: the subnetwork itself (which is
evaluated as an ordinary network, so nothing about the target leaks into evaluation), the widths and
depth it used, our explicit-constant width bound, the paper's width formula where it has no unknown
constant, the per-weight errors, the error predicted from them by error propagation, and the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from theory.subnetwork import Subnetwork


@dataclass(frozen=True)
class ConstructionResult:
    """Outcome of one strong-lottery-ticket construction.

    Parameters
    ----------
    method : str
        Registry name of the construction (:func:`theory.constructions.get_method`).
    subnetwork : Subnetwork
        The source network with the masks (and gains) the construction chose.
    target_widths : tuple of int
        Widths ``[d_0, ..., d_l]`` of the target network.
    source_widths : tuple of int
        Widths of the source network, input first.
    source_depth : int
        Number of weight layers of the source network.
    eps, delta : float
        Requested sup-norm accuracy and failure probability.
    bound_width : int
        Our explicit-constant bound on the widest hidden source layer the construction needs to
        succeed with probability at least ``1 - delta`` (stated symbolically in
        :mod:`theory.bounds`).  Derived in the construction's docstring for malach, mpt-binary
        and binary-depth; for pensia it rests on a CALIBRATED subset-sum constant (Monte Carlo,
        not proven; see :mod:`theory.constructions.pensia`).
    theorem_width : float or None
        The paper's width formula evaluated at these sizes, or ``None`` when that formula carries an
        unknown constant (its symbolic form is in :mod:`theory.bounds`).
    per_weight_errors : numpy.ndarray
        ``|W_hat - W|`` for every target weight, layers concatenated in order (flattened).
    predicted_error : float
        Upper bound on ``sup_{||x|| <= 1} ||f(x) - g(x)||_2`` from the per-layer errors by error
        propagation (see :func:`theory.constructions.blocks.propagated_error`).
    success : bool
        Every sub-problem met its tolerance and the certified error (where the construction
        gives one) is at most ``eps``.
    certified_error : float or None
        An exact upper bound on the sup error when the construction provides one, else ``None``.
    layer_errors : tuple of float
        Per-layer error constants used by the prediction (for the gadget constructions the
        Frobenius norm of the layer's per-weight errors, an upper bound on its spectral norm).
    plan : dict
        Block sizes, per-weight tolerances, gains and other choices the construction made.
    """

    method: str
    subnetwork: Subnetwork
    target_widths: tuple[int, ...]
    source_widths: tuple[int, ...]
    source_depth: int
    eps: float
    delta: float
    bound_width: int
    theorem_width: float | None
    per_weight_errors: np.ndarray
    predicted_error: float
    success: bool
    certified_error: float | None = None
    layer_errors: tuple[float, ...] = ()
    plan: dict[str, Any] = field(default_factory=dict)

    @property
    def kept_fraction(self) -> float:
        """Fraction of the source network's weights the subnetwork keeps."""
        return float(self.subnetwork.kept_fraction)

    @property
    def source_width(self) -> int:
        """Widest hidden layer of the source network (the quantity the width bounds speak about)."""
        hidden = self.source_widths[1:-1]
        return int(max(hidden)) if hidden else int(self.source_widths[0])

    @property
    def max_weight_error(self) -> float:
        """Largest per-weight error ``max |W_hat - W|``."""
        return float(np.max(self.per_weight_errors)) if self.per_weight_errors.size else 0.0

    def summary(self) -> dict[str, Any]:
        """Scalar fields for tables and JSON.

        Returns
        -------
        dict
            Method, sizes, bounds, errors, success and the scalar entries of ``plan``.
        """
        row: dict[str, Any] = {
            "method": self.method,
            "target_widths": "-".join(str(w) for w in self.target_widths),
            "source_widths": "-".join(str(w) for w in self.source_widths),
            "source_depth": self.source_depth,
            "source_width": self.source_width,
            "eps": self.eps,
            "delta": self.delta,
            "bound_width": self.bound_width,
            "theorem_width": self.theorem_width,
            "max_weight_error": self.max_weight_error,
            "predicted_error": self.predicted_error,
            "certified_error": self.certified_error,
            "success": self.success,
            "kept_fraction": self.kept_fraction,
            "n_kept": int(self.subnetwork.n_kept),
            "n_source": int(self.subnetwork.n_source),
        }
        for key, value in self.plan.items():
            if isinstance(value, bool | int | float | str | np.integer | np.floating | np.bool_):
                row[f"plan_{key}"] = value.item() if isinstance(value, np.generic) else value
        return row
