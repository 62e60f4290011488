"""Width and depth bounds of the strong-lottery-ticket theorems, as sympy expressions.

Symbols: ``d`` target width (square layers ``d x d``), ``n`` number of summands, ``l`` target
depth, ``eps`` accuracy, ``delta`` failure probability, ``C`` an unspecified constant.  Each
:class:`Bound` has a name, a sympy expression, ``latex()``, ``evaluate(**values)`` (lambdified)
and ``has_unknown_constant``.  A theorem whose constant is not known keeps the symbol ``C`` and is
never given a number in its place.  :data:`BOUNDS` holds the theorems' bounds; OUR
explicit-constant bounds (``ours-*``), which mirror a construction's width bound for square
targets, are declared in the construction's own module beside its derivation and added here when
it registers (:mod:`theory.constructions.registry`; ``theory.constructions.our_bounds()`` loads
them all).  Those resting on the calibrated subset-sum constant ``C_P`` say so
(``calibrated=True``).

References: Lueker (1998) random subset sum; Pensia et al. (NeurIPS 2020); Malach et al.
(ICML 2020) [restated]; Diffenderfer & Kailkhura (ICLR 2021) [restated]; Sreenivasan et al.
(AISTATS 2022); Orseau, Hutter & Rivasplata (NeurIPS 2020) (abstract and Figure 1 only);
Burkholz (NeurIPS 2022: depth l + 1; ICML 2022: convolutional and residual targets) and
da Cunha, Natale & Viennot (ICLR 2022) [restated].
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import sympy as sp

d, n, l, eps, delta, C = sp.symbols("d n l epsilon delta C", positive=True)  # noqa: E741

_LAMBDIFY_MODULES = [{"ceiling": math.ceil, "Min": min, "Max": max}, "math"]


@dataclass(frozen=True)
class Bound:
    """One bound as a sympy expression.

    Parameters
    ----------
    name : str
        Registry name.
    expr : sympy.Expr
        The bound's value (a width, depth or number of summands).
    statement : str
        What the expression bounds, and where it comes from.
    has_unknown_constant : bool
        True if ``expr`` contains the unspecified constant ``C``.
    kind : str
        ``"upper"`` (sufficient size), ``"lower"`` (necessary size) or ``"ours"`` (our
        explicit-constant bound for an implemented construction).
    calibrated : bool
        True if an explicit constant in ``expr`` is empirical rather than proven.
    """

    name: str
    expr: sp.Expr
    statement: str
    has_unknown_constant: bool
    kind: str
    calibrated: bool = False
    _function: Callable[..., float] | None = field(default=None, repr=False, compare=False)

    @property
    def symbols(self) -> tuple[str, ...]:
        """Names of the free symbols ``evaluate`` needs, sorted."""
        return tuple(sorted(s.name for s in self.expr.free_symbols))

    def latex(self) -> str:
        """LaTeX of the expression."""
        return sp.latex(self.expr)

    def evaluate(self, **values: float) -> float:
        """Numerical value of the bound.

        Parameters
        ----------
        **values : float
            One value per free symbol (names as in ``symbols``: ``d``, ``n``, ``l``,
            ``epsilon``, ``delta``, ``C``).

        Returns
        -------
        float
        """
        missing = set(self.symbols) - set(values)
        extra = set(values) - set(self.symbols)
        if missing or extra:
            raise ValueError(
                f"bound {self.name!r} needs exactly {', '.join(self.symbols)}; "
                f"missing {sorted(missing)}, unexpected {sorted(extra)}"
            )
        function = self._function or sp.lambdify(
            [sp.Symbol(s, positive=True) for s in self.symbols], self.expr, _LAMBDIFY_MODULES
        )
        object.__setattr__(self, "_function", function)
        return float(function(*(values[s] for s in self.symbols)))


def weight_tolerance() -> sp.Expr:
    """Our per-weight tolerance ``ln(1+eps) / (l sqrt(2) d)`` for ``d x d`` layers
    (:func:`theory.constructions.blocks.layer_tolerances`)."""
    return sp.log(1 + eps) / (l * sp.sqrt(2) * d)


def hoeffding_block(count: sp.Expr, p: sp.Expr, log_inv_fail: sp.Expr) -> sp.Expr:
    """``ceil(((sqrt(L/2) + sqrt(L/2 + 4 p c)) / (2 p))^2)``: ``Bin(n, p) >= c`` w.p. ``1-e^-L``
    (:func:`theory.constructions.blocks.hoeffding_block_size`)."""
    half = sp.sqrt(log_inv_fail / 2)
    return sp.ceiling(((half + sp.sqrt(log_inv_fail / 2 + 4 * p * count)) / (2 * p)) ** 2)


BOUNDS: dict[str, Bound] = {
    b.name: b
    for b in (
        Bound(
            "lueker-subset-sum",
            C * sp.log(2 / sp.Min(eps, delta)),
            "Lueker (1998): n >= C log(2/min(eps, delta)) i.i.d. U[-1,1] summands eps-cover "
            "[-1, 1] with probability >= 1 - delta.",
            True,
            "upper",
        ),
        Bound(
            "subset-sum-counting",
            sp.log(1 / eps, 2),
            "Counting: 2^n subset sums eps-cover an interval of length 2 only if n >= log2(1/eps).",
            False,
            "lower",
        ),
        Bound(
            "pensia-width",
            C * d * sp.log(d**2 * l / sp.Min(eps, delta)),
            "Pensia et al. (2020): hidden width d'_i = C d_{i-1} log(d_{i-1} d_i l / "
            "min(eps, delta)) of the depth-2l uniform source.",
            True,
            "upper",
        ),
        Bound(
            "pensia-lower",
            C * d * sp.log(1 / eps),
            "Pensia et al. (2020): width Omega(d log(1/eps)) is necessary for a 2-layer network "
            "that prunes to every d x d linear map with ||W|| <= 1.",
            True,
            "lower",
        ),
        Bound(
            "malach-width",
            C * d**5 * l**2,
            "Malach et al. (2020) [restated]: source width a factor O(d^4 l^2) wider than the "
            "width-d target (the 1/eps, log(1/delta) dependence is polynomial and not quoted).",
            True,
            "upper",
        ),
        Bound(
            "mpt-1-32-width",
            C * (l * d ** sp.Rational(3, 2) / eps + l * d * sp.log(l * d / delta)),
            "Diffenderfer & Kailkhura (2021) [restated]: MPT-1/32 width "
            "O(l n^{3/2}/eps + l n log(l n/delta)) at depth 2l.",
            True,
            "upper",
        ),
        Bound(
            "sreenivasan-depth",
            C * l * sp.log(d * l / eps),
            "Sreenivasan et al. (2022): depth Theta(l log(d l/eps)) of the +-1 source.",
            True,
            "upper",
        ),
        Bound(
            "sreenivasan-width",
            C * d * sp.log(d * l / eps) ** 2,
            "Sreenivasan et al. (2022): width Theta(d log^2(d l/eps)) of the +-1 source.",
            True,
            "upper",
        ),
        Bound(
            "orseau-kept-per-weight",
            2 * sp.log(1 / eps, 2),
            "Orseau et al. (2020), Figure 1: a target weight is simulated by 2 log 1/eps "
            "intermediate neurons (a 'binary' decomposition; base 2 assumed) of a source with "
            "hyperbolic weights. Only the abstract and this caption were checked.",
            False,
            "upper",
        ),
        Bound(
            "orseau-sampled-per-weight",
            C * sp.log(1 / eps),
            "Orseau et al. (2020), Figure 1 and abstract: O(log 1/eps) sampled neurons per target "
            "weight, logarithmic in all variables but depth (constants not checked).",
            True,
            "upper",
        ),
        Bound(
            "depth-plus-one-depth",
            l + 1,
            "Burkholz (2022); da Cunha et al. (2022) [restated]: a source of depth l + 1 instead "
            "of 2l suffices (several copies of each target neuron per source layer).",
            False,
            "upper",
        ),
        Bound(
            "depth-plus-one-width",
            C * d * sp.log(d * l / sp.Min(eps, delta)),
            "Burkholz (2022); da Cunha et al. (2022) [restated]: logarithmic over-"
            "parameterisation at depth l + 1; only the order is quoted, not checked against "
            "the papers.",
            True,
            "upper",
        ),
    )
}


def register_bound(bound: Bound) -> Bound:
    """Add ``bound`` to :data:`BOUNDS` (a construction's registration does this for its own).

    Raises ``ValueError`` if another bound of that name with another expression is registered.
    """
    known = BOUNDS.get(bound.name)
    if known is not None and known.expr != bound.expr:
        raise ValueError(f"a different bound named {bound.name!r} is already registered")
    BOUNDS[bound.name] = bound
    return bound


def get_bound(name: str) -> Bound:
    """Look a bound up by name (a construction's own bound once its module is imported).

    Parameters
    ----------
    name : str
        A key of ``BOUNDS``.

    Returns
    -------
    Bound
    """
    if name not in BOUNDS:
        raise ValueError(f"unknown bound {name!r}; choose one of {', '.join(BOUNDS)}")
    return BOUNDS[name]
