"""Width and depth bounds of the strong-lottery-ticket theorems, as sympy expressions.

Symbols: ``d`` target width (square layers ``d x d``), ``n`` number of summands, ``l`` target
depth, ``eps`` accuracy, ``delta`` failure probability, ``C`` an unspecified constant.  Each
:class:`Bound` has a name, a sympy expression, ``latex()``, ``evaluate(**values)`` (lambdified)
and ``has_unknown_constant``.  A theorem whose constant is not known keeps the symbol ``C`` and is
never given a number in its place; OUR explicit-constant bounds (``ours-*``) are the ones the
constructions pensia, malach, mpt-binary, binary-depth, orseau and depth-plus-one are held to,
and mirror their width bounds for square targets (their derivations are in those modules'
docstrings).  Four are derived; ``ours-pensia`` and ``ours-depth-plus-one-tolerance`` rest on
the calibrated subset-sum constant ``C_P`` and say so (``calibrated=True``).

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

from theory.constructions.pensia import CALIBRATED_C
from theory.networks import HYPERBOLIC_LOW

d, n, l, eps, delta, C = sp.symbols("d n l epsilon delta C", positive=True)  # noqa: E741

#: Calibrated constant of our Pensia bound (see :mod:`theory.constructions.pensia`).
PENSIA_CALIBRATED_C = sp.nsimplify(CALIBRATED_C)

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


def _tolerance() -> sp.Expr:
    """Our per-weight tolerance ``ln(1+eps) / (l sqrt(2) d)`` for ``d x d`` layers."""
    return sp.log(1 + eps) / (l * sp.sqrt(2) * d)


def _hoeffding_block(count: sp.Expr, p: sp.Expr, log_inv_fail: sp.Expr) -> sp.Expr:
    """``ceil(((sqrt(L/2) + sqrt(L/2 + 4 p c)) / (2 p))^2)``: ``Bin(n, p) >= c`` w.p. ``1-e^-L``."""
    half = sp.sqrt(log_inv_fail / 2)
    return sp.ceiling(((half + sp.sqrt(log_inv_fail / 2 + 4 * p * count)) / (2 * p)) ** 2)


def _ours_pensia() -> sp.Expr:
    subset_events = 2 * l * d**2
    count_events = 2 * l * d
    per_sign = sp.ceiling(
        PENSIA_CALIBRATED_C * sp.log(2 / sp.Min(_tolerance(), delta / (2 * subset_events)), 2)
    )
    return d * _hoeffding_block(per_sign, sp.Rational(1, 2), sp.log(2 * count_events / delta))


def _product_mass(z: sp.Expr) -> sp.Expr:
    """``F(z) = (z - z ln z)/2``: mass of the product density ``-ln|t|/2`` on ``[0, z]``."""
    return sp.Piecewise((0, z <= 0), ((z - z * sp.log(z)) / 2, True))


def _ours_malach() -> sp.Expr:
    tau, w_max = _tolerance(), 1 / sp.sqrt(d)
    window = (
        _product_mass(sp.Min(w_max + tau, 1))
        - _product_mass(sp.Max(w_max - tau, 0))
        + _product_mass(sp.Min(sp.Max(tau - w_max, 0), 1))
    )
    return d * sp.ceiling(2 / window * sp.log(2 * l * d**2 / delta))


def _ours_mpt() -> sp.Expr:
    count = sp.ceiling(1 / sp.sqrt(d) / (2 * _tolerance()))
    return d * _hoeffding_block(count, sp.Rational(1, 4), sp.log(2 * l * d**2 / delta))


def _ours_binary_depth() -> sp.Expr:
    bits = sp.Max(0, sp.ceiling(sp.log(1 / _tolerance(), 2)) - 1)
    digits = bits + 1
    slots = 2 * l * d * digits * (digits + 3) / 2
    fan_slots = 2 * l * d**2 * digits
    rate = sp.log(sp.Rational(4, 3))
    q = sp.ceiling(sp.log(2 * slots / delta) / rate)
    fan = sp.ceiling(sp.log(2 * fan_slots / delta) / rate)
    return 2 * d * sp.Max((digits + 1) * q, digits * fan)


def _log_product_cdf(t: sp.Expr) -> sp.Expr:
    """CDF of ``ln(1/|ab|)``, ``|a|, |b|`` log-uniform on ``[a_0, 1]`` (triangular, ``[0, 2Λ]``)."""
    span = sp.log(sp.nsimplify(1 / HYPERBOLIC_LOW))
    return sp.Piecewise(
        (0, t <= 0),
        (t**2 / (2 * span**2), t <= span),
        (1 - (2 * span - t) ** 2 / (2 * span**2), t <= 2 * span),
        (1, True),
    )


def _hyperbolic_window(r: sp.Expr) -> sp.Expr:
    """``h(r) = P(|ab| in [r/2, r])`` for independent hyperbolic ``a, b``."""
    return _log_product_cdf(sp.log(1 / r) + sp.log(2)) - _log_product_cdf(sp.log(1 / r))


def _ours_orseau() -> sp.Expr:
    tau, w_max = _tolerance(), 1 / sp.sqrt(d)
    steps = sp.Max(1, sp.ceiling(sp.log(w_max / tau, 2)))
    q = sp.Min(_hyperbolic_window(w_max), _hyperbolic_window(tau))
    group = sp.ceiling(sp.log(2 * 2 * l * d**2 * steps / delta) / -sp.log(1 - q / 2))
    return d * _hoeffding_block(steps * group, sp.Rational(1, 2), sp.log(2 * 2 * l * d / delta))


def _ours_depth_plus_one_tolerance() -> sp.Expr:
    """``eps / Gamma``, ``Gamma = d ((n d)^l - 1) / (n d - 1)`` with ``n`` summands per instance."""
    return eps * (n * d - 1) / (d * ((n * d) ** l - 1))


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
        Bound(
            "ours-pensia",
            _ours_pensia(),
            "Ours: hidden width of theory.constructions.pensia for d x d layers (calibrated "
            "subset-sum constant C_P = 4, Hoeffding sign counts, union bound).",
            False,
            "ours",
            calibrated=True,
        ),
        Bound(
            "ours-malach",
            _ours_malach(),
            "Ours: hidden width of theory.constructions.malach for d x d layers (product density "
            "-ln|z|/2, one unit per weight and sign, union bound).",
            False,
            "ours",
        ),
        Bound(
            "ours-mpt-binary",
            _ours_mpt(),
            "Ours: hidden width of theory.constructions.mpt_binary for d x d layers (counting "
            "with rounding error gamma/2, Hoeffding pattern counts, union bound).",
            False,
            "ours",
        ),
        Bound(
            "ours-binary-depth",
            _ours_binary_depth(),
            "Ours: widest hidden layer of theory.constructions.binary_depth for d x d layers "
            "(K fractional bits, candidate slots failing w.p. 3/4, union bound).",
            False,
            "ours",
        ),
        Bound(
            "ours-orseau",
            _ours_orseau(),
            "Ours: hidden width of theory.constructions.orseau for d x d layers (greedy halving "
            "in K = ceil(log2(w_max/tau)) groups, hyperbolic window probability, Hoeffding, "
            "union bound).",
            False,
            "ours",
        ),
        Bound(
            "ours-depth-plus-one-tolerance",
            _ours_depth_plus_one_tolerance(),
            "Ours: per-weight tolerance of theory.constructions.depth_plus_one for d x d layers "
            "with n summands per subset sum (amplification <= n d per layer); its width is the "
            "least fixed point of the Lueker-form count, computed in that module.",
            False,
            "ours",
            calibrated=True,
        ),
    )
}

#: Our explicit-constant bound for each construction in ``theory.constructions.METHODS``.
OUR_BOUNDS: dict[str, str] = {
    "pensia": "ours-pensia",
    "malach": "ours-malach",
    "mpt-binary": "ours-mpt-binary",
    "binary-depth": "ours-binary-depth",
    "orseau": "ours-orseau",
    "depth-plus-one": "ours-depth-plus-one-tolerance",
}


def get_bound(name: str) -> Bound:
    """Look a bound up by name.

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
