"""Strong-ticket constructions held against their bounds: single runs, sweeps, the default checks.

Every function returns tidy rows (``list[dict]``, one per run) that ``tickets verify`` prints and
the notebooks plot.  A run draws a target (:func:`theory.networks.random_target`), constructs a
subnetwork of a random source (a construction of the ``gadget`` or ``depth`` family of
:mod:`theory.constructions.registry`) and measures its sup error on
the unit ball (or the cube ``[-1, 1]^d0``) against ``eps``.

Every success claim says what it rests on (the ``evidence`` column): ``exact`` (the supremum
itself, :func:`theory.sup_error.orthant_sup_error`), ``certified`` (the construction's
``certified_error``, an upper bound) or ``sampled`` (a lower estimate from
:func:`theory.sup_error.sup_error`: the run may still exceed ``eps``; used only when the
construction offers no certificate).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

import numpy as np

from theory.constructions import get_method
from theory.networks import forward, random_target
from theory.sup_error import ORTHANT_MAX_D0, SupErrorResult, orthant_sup_error, sup_error

SMOKE = {"target_width": 2, "depth": 2, "eps": 0.1, "delta": 0.1, "seed": 0}
SUBSET_SUM_SMOKE = {"n_values": [8, 16], "eps_values": [1e-2], "seeds": 20}
SWEEP_PARAMS = ("width", "eps", "depth", "target-width")
EVIDENCE = ("sampled", "certified", "exact")
"""What a pass rests on, weakest first."""


def target_size(widths: Sequence[int]) -> str:
    """``"8x8x8"``: the target's layer widths joined by ``x``."""
    return "x".join(str(w) for w in widths)


def run_construction(
    method: str,
    width: int,
    depth: int,
    eps: float,
    delta: float = 0.1,
    seed: int = 0,
    input_dim: int | None = None,
    block_size: int | None = None,
    rescale: bool = False,
    n_samples: int | None = None,
    target_scale: float = 1.0,
    domain: str = "ball",
) -> dict[str, Any]:
    """Build a target of width ``width`` and depth ``depth``, construct a ticket and measure it.

    Parameters
    ----------
    method : str
        A registered construction of the ``gadget`` or ``depth`` family.
    width, depth : int
        Target width ``d`` (every layer) and depth ``l``.
    eps, delta : float
        Accuracy and failure probability.
    seed : int
        Seeds the target, the source and the sup-error search.
    input_dim : int, optional
        Target input size ``d_0`` (default ``width``).
    block_size : int, optional
        Block size override passed to the construction (default: its bound).
    rescale : bool
        Let the construction rescale a target violating its assumption.
    n_samples : int, optional
        Points the sup-error search samples (default: grows with ``d_0``).
    target_scale : float
        Multiplies the drawn target (above 1 it may violate the theorem's assumption, which the
        construction rejects unless ``rescale``).
    domain : {"ball", "cube"}
        Input domain of the sup: the unit l2 ball, or ``[-1, 1]^d0``.

    Returns
    -------
    dict
        theorem, construction, target_size, domain, eps, delta, seed, source_width,
        source_depth, kept_fraction, bound_width, sup_error (exact or sampled lower estimate),
        sup_method (``exact`` or ``sampled``), certified_error (upper bound, on the domain),
        error_bound and evidence (what ``pass`` rests on, see :func:`claim`), target_sup
        (``sup ||target(x)||``: the error of the empty ticket, so any ``eps`` above it is met
        trivially), predicted_error, success (the construction's own flag), summands_capped
        (depth-plus-one: the solver took fewer summands than the width bound's Lueker form
        asks, so the bound's success probability is measured, not proven), pass, seconds.
    """
    if width < 1 or depth < 1:
        raise ValueError(f"width and depth must be >= 1, got width={width}, depth={depth}")
    construct = get_method(method)
    rng = np.random.default_rng(seed)
    widths = [input_dim or width] + [width] * depth
    target = [target_scale * w for w in random_target(widths, rng, constraint="both")]
    start = time.perf_counter()
    overrides: dict[str, Any] = {"rescale": rescale}
    if block_size is not None:
        overrides["block_size"] = block_size
    result = construct(target, eps, delta, rng, **overrides)
    seconds = time.perf_counter() - start
    result.subnetwork.check_genuine()
    measured = measure_sup_error(target, result.subnetwork.evaluator(), rng, n_samples, domain)
    target_sup = measure_sup_error(target, partial(empty_ticket, target[-1].shape[0]), rng,
                                   n_samples, domain)
    certified = domain_certificate(result.certified_error, widths[0], domain)
    bound, evidence = claim(measured, certified)
    return {
        "theorem": construct.theorem,
        "construction": method,
        "target_size": target_size(widths),
        "domain": domain,
        "eps": float(eps),
        "delta": float(delta),
        "seed": int(seed),
        "block_size": block_size,
        "source_width": result.source_width,
        "source_depth": result.source_depth,
        "kept_fraction": result.kept_fraction,
        "bound_width": result.bound_width,
        "sup_error": measured.value,
        "sup_method": "exact" if measured.exact else "sampled",
        "certified_error": certified,
        "error_bound": bound,
        "evidence": evidence,
        "target_sup": target_sup.value,
        "predicted_error": float(result.predicted_error),
        "success": bool(result.success),
        "summands_capped": bool(result.plan.get("summands_capped", False)),
        "pass": bool(bound <= eps),
        "seconds": seconds,
    }


def domain_certificate(certified_ball: float | None, d0: int, domain: str) -> float | None:
    """The construction's certified sup error (stated on the unit ball) on ``domain``.

    The cube ``[-1, 1]^d0`` lies in the ball of radius ``sqrt(d0)`` and the error of two
    bias-free ReLU networks is positively homogeneous, so the cube's sup is at most
    ``sqrt(d0)`` times the ball's.
    """
    if certified_ball is None:
        return None
    return float(certified_ball) * (math.sqrt(d0) if domain == "cube" else 1.0)


def claim(measured: SupErrorResult, certified: float | None) -> tuple[float, str]:
    """The error a success claim rests on, and what kind of evidence it is.

    The exact supremum where it was computed; otherwise the certified upper bound where the
    construction gives one; otherwise only the sampled lower estimate, labelled ``sampled``
    (the true error may be larger).

    Returns
    -------
    tuple of (float, str)
        The value and ``"exact"``, ``"certified"`` or ``"sampled"``.
    """
    if measured.exact:
        return measured.value, "exact"
    if certified is not None:
        return certified, "certified"
    return measured.value, "sampled"


def empty_ticket(d_out: int, x: np.ndarray) -> np.ndarray:
    """The subnetwork with every weight pruned: ``x -> 0`` in ``R^d_out``, batched."""
    return np.zeros((x.shape[0], d_out))


def measure_sup_error(target: Sequence[np.ndarray], subnetwork: Callable[[np.ndarray], np.ndarray],
                      rng: np.random.Generator, n_samples: int | None = None,
                      domain: str = "ball") -> SupErrorResult:
    """``sup_{x in X} ||target(x) - subnetwork(x)||``: exact where possible, else sampled.

    A one-layer target and a ticket whose difference from it is linear on every orthant (the
    two-layer gadgets of pensia, malach and mpt-binary, and the binary-depth blocks, whose
    units all read one coordinate through one sign) is measured exactly by
    :func:`theory.sup_error.orthant_sup_error` (it checks that property on random points and
    raises otherwise, and needs ``d0 <= ORTHANT_MAX_D0``); everything else is searched by
    :func:`theory.sup_error.sup_error` (sampling plus ascent, a lower estimate).

    Returns
    -------
    SupErrorResult
        ``exact`` says which of the two it is.
    """
    f = partial(forward, list(target))
    d0 = target[0].shape[1]
    if len(target) == 1 and d0 <= ORTHANT_MAX_D0:
        try:
            return orthant_sup_error(f, subnetwork, d0, rng, domain=domain)
        except ValueError:
            pass  # not linear on the orthants: search instead
    return sup_error(f, subnetwork, d0, rng, n_samples=n_samples, domain=domain)


def _seeded(
    values: Iterable[Any], seeds: int, run: Callable[[Any, int], dict[str, Any]], param: str,
    progress: Callable[[int], Any] | None,
) -> list[dict[str, Any]]:
    """Run ``run(value, seed)`` for every value and seed, tagging rows with ``param``/``value``."""
    rows = []
    for value in values:
        for seed in range(seeds):
            row = run(value, seed)
            rows.append({"param": param, "value": value, **row})
            if progress is not None:
                progress(1)
    return rows


def sweep_error_vs_width(
    method: str,
    block_sizes: Sequence[int],
    width: int = 2,
    depth: int = 2,
    eps: float = 0.1,
    delta: float = 0.1,
    seeds: int = 3,
    progress: Callable[[int], Any] | None = None,
    domain: str = "ball",
) -> list[dict[str, Any]]:
    """Measured and predicted sup error vs the block size (source width), one row per run.

    Parameters
    ----------
    method : str
        Construction name.
    block_sizes : sequence of int
        Block sizes to try.
    width, depth, eps, delta : see :func:`run_construction`.
    seeds : int
        Seeds ``0 ... seeds-1`` per block size.
    progress : callable, optional
        Called with ``1`` after each run (a progress bar's ``update``).
    domain : {"ball", "cube"}
        Input domain of the sup error (see :func:`run_construction`).

    Returns
    -------
    list of dict
        :func:`run_construction` rows with ``param="width"`` and ``value`` the block size.
    """
    def run(block: int, seed: int) -> dict[str, Any]:
        return run_construction(method, width, depth, eps, delta, seed, block_size=block,
                                domain=domain)

    return _seeded(block_sizes, seeds, run, "width", progress)


def smallest_block(
    method: str,
    block_sizes: Sequence[int],
    width: int,
    depth: int,
    eps: float,
    delta: float,
    seeds: int,
    fraction: float,
    domain: str = "ball",
) -> dict[str, Any]:
    """Smallest block size whose measured sup error is ``<= eps`` in ``fraction`` of seeds.

    The candidates are tried in increasing order; once one passes, the integers between it and
    the last failing candidate are bisected, so the answer does not depend on the grid's spacing
    (assuming, as the constructions' error bounds do, that success is monotone in the block size
    between two candidates).  A seed counts as a success when its run passes
    (:func:`run_construction`): its exact sup error, else its certified upper bound, is at most
    ``eps``; only a construction without a certificate falls back on the sampled lower estimate,
    and the row's ``evidence`` then says ``sampled``.  The width found is the one at which the
    success can be proven, to compare with the width the bound prescribes.

    Parameters
    ----------
    method : str
        Construction name.
    block_sizes : sequence of int
        Candidates.
    width, depth, eps, delta : see :func:`run_construction`.
    seeds : int
        Seeds per block size.
    fraction : float
        Required success fraction in (0, 1].
    domain : {"ball", "cube"}
        Input domain of the sup error (see :func:`run_construction`).

    Returns
    -------
    dict
        The smallest passing block size (``None`` if no candidate passes), its source width and
        depth, success rate, the weakest evidence among its runs (``sampled`` < ``certified``
        < ``exact``), the bound's width (of the largest candidate when none passes), the median
        ``target_sup`` over seeds and ``trivial``: the empty ticket alone would pass
        (``target_sup <= eps`` in ``fraction`` of seeds), so the width found says nothing.
    """
    def attempt(block: int) -> dict[str, Any]:
        rows = [
            run_construction(method, width, depth, eps, delta, s, block_size=block,
                             domain=domain)
            for s in range(seeds)
        ]
        rate = float(np.mean([r["pass"] for r in rows]))
        sups = np.array([r["target_sup"] for r in rows])
        return {
            "block_size": block,
            "source_width": rows[0]["source_width"],
            "source_depth": rows[0]["source_depth"],
            "success_rate": rate,
            "evidence": min((r["evidence"] for r in rows), key=EVIDENCE.index),
            "bound_width": rows[0]["bound_width"],
            "target_sup": float(np.median(sups)),
            "trivial": bool(np.mean(sups <= eps) >= fraction),
            "found": rate >= fraction,
        }

    if not block_sizes or min(block_sizes) < 1:
        raise ValueError(f"block sizes must be a non-empty list of integers >= 1, "
                         f"got {list(block_sizes)}")
    failed, passed = 0, None
    for block in sorted(block_sizes):
        result = attempt(block)
        if result["found"]:
            passed = result
            break
        failed = block
    if passed is None:
        return {**result, "block_size": None}
    while passed["block_size"] - failed > 1:
        middle = attempt((failed + passed["block_size"]) // 2)
        if middle["found"]:
            passed = middle
        else:
            failed = middle["block_size"]
    return passed


def sweep_width_vs_eps(
    method: str,
    vary: str,
    values: Sequence[float],
    block_sizes: Sequence[int],
    width: int = 2,
    depth: int = 2,
    eps: float = 0.1,
    delta: float = 0.1,
    seeds: int = 3,
    fraction: float = 0.5,
    progress: Callable[[int], Any] | None = None,
    domain: str = "ball",
) -> list[dict[str, Any]]:
    """Smallest sufficient block size vs ``eps``, depth or target width, against the bound.

    Parameters
    ----------
    method : str
        Construction name.
    vary : str
        ``"eps"``, ``"depth"`` or ``"target-width"``.
    values : sequence
        Values of the varied parameter.
    block_sizes : sequence of int
        Candidate block sizes.
    width, depth, eps, delta : see :func:`run_construction` (the fixed ones).
    seeds : int
        Seeds per block size.
    fraction : float
        Success fraction required.
    progress : callable, optional
        Called with ``1`` after each value.
    domain : {"ball", "cube"}
        Input domain of the sup error (see :func:`run_construction`).

    Returns
    -------
    list of dict
        One row per value: method, param, value, the smallest block size, its source width,
        success rate and the bound's width.
    """
    if vary not in ("eps", "depth", "target-width"):
        raise ValueError(f"vary must be one of eps, depth, target-width, got {vary!r}")
    rows = []
    for value in values:
        setting = {"width": width, "depth": depth, "eps": eps}
        setting[{"target-width": "width"}.get(vary, vary)] = value
        found = smallest_block(method, block_sizes, int(setting["width"]), int(setting["depth"]),
                               float(setting["eps"]), delta, seeds, fraction, domain)
        rows.append({"construction": method, "param": vary, "value": value, "domain": domain,
                     **found})
        if progress is not None:
            progress(1)
    return rows


def default_checks(scale: str = "smoke") -> list[dict[str, Any]]:
    """Rows of ``tickets verify``: every registered construction with ``default_check`` (in
    registry order) and the subset-sum check, at smoke scale.

    Parameters
    ----------
    scale : str
        Only ``"smoke"`` (seconds on a laptop).

    Returns
    -------
    list of dict
        theorem, construction, target_size, eps, width_used, depth_used, bound_width,
        bound_kind, sup_error, error_bound, evidence, pass.
    """
    if scale != "smoke":
        raise ValueError(f"scale must be 'smoke', got {scale!r}")
    from theory.constructions import FULLY_CONNECTED, constructions
    from verify.subset_sum_study import subset_sum_table

    rows = []
    for construction in constructions(*FULLY_CONNECTED):
        if not construction.default_check:
            continue
        row = run_construction(
            construction.name, SMOKE["target_width"], SMOKE["depth"], SMOKE["eps"],
            SMOKE["delta"], SMOKE["seed"],
        )
        bound = construction.bound
        rows.append({
            "theorem": row["theorem"],
            "construction": construction.name,
            "target_size": row["target_size"],
            "eps": row["eps"],
            "width_used": row["source_width"],
            "depth_used": row["source_depth"],
            "bound_width": row["bound_width"],
            "bound_kind": bound_kind(bound.calibrated if bound is not None else False,
                                     row["summands_capped"]),
            "sup_error": row["sup_error"],
            "error_bound": row["error_bound"],
            "evidence": row["evidence"],
            "pass": row["pass"],
        })
    rows.append(subset_sum_row(subset_sum_table(
        SUBSET_SUM_SMOKE["n_values"], SUBSET_SUM_SMOKE["eps_values"], SUBSET_SUM_SMOKE["seeds"],
        delta=SMOKE["delta"],
    ), SMOKE["delta"]))
    return rows


def bounds_table(methods: Iterable[str]) -> list[dict[str, Any]]:
    """The bounds each construction is held to, one row per (construction, bound).

    Our explicit-constant bound where the construction registers one, then the paper's own
    (with its unknown constant ``C`` where it has one), as the registration declares them.

    Parameters
    ----------
    methods : iterable of str
        Registered construction names.

    Returns
    -------
    list of dict
        construction, bound (its name), kind, latex (``$...$``), statement.
    """
    from theory.constructions import get_method

    rows = []
    for method in methods:
        construction = get_method(method)
        pair = (construction.bound, construction.theorem_bound)
        rows += [{"construction": method, "bound": b.name, "kind": b.kind,
                  "latex": f"${b.latex()}$", "statement": b.statement}
                 for b in dict.fromkeys(b for b in pair if b is not None)]
    return rows


def bound_kind(calibrated: bool, summands_capped: bool) -> str:
    """What the ``bound_width`` of a construction's default-check row is.

    An upper bound on the width needed (``upper, calibrated`` when it rests on the calibrated
    constant ``C_P``), except where the construction capped the summands below what the bound's
    Lueker form asks (depth-plus-one's ``summands_capped``): the width then comes with a
    success rate that is only sampled.
    """
    if summands_capped:
        return "sampled (summands capped)"
    return "upper, calibrated" if calibrated else "upper"


def subset_sum_row(table: Sequence[dict[str, Any]], delta: float) -> dict[str, Any]:
    """Summarise a subset-sum table as one default-check row (Lueker 1998).

    Lueker's theorem is a statement with probability ``1 - delta``, so the row passes when the
    fraction of instances whose exact covering radius is ``<= eps`` at the largest ``n`` is at
    least ``1 - delta``, and is at least the fraction at the smallest ``n`` (covering improves
    with ``n``).  The ``sup_error`` column is the ``(1 - delta)``-quantile of the covering radius
    at the largest ``n``; the bound column holds the counting bound ``n >= log2(1/eps)``, a
    LOWER bound on the summands needed (``bound_kind`` says so): Lueker's sufficient ``n`` has
    an unknown constant.  The evidence is ``sampled``: exact radii, but a success probability
    estimated from a finite number of random instances.

    Parameters
    ----------
    table : sequence of dict
        Rows of :func:`verify.subset_sum_study.subset_sum_table` for one ``eps`` (keys ``n``,
        ``eps``, ``success_prob``, ``quantile_radius``).
    delta : float
        Failure probability allowed.

    Returns
    -------
    dict
        A row with the default-check columns.
    """
    ordered = sorted(table, key=lambda r: r["n"])
    first, last = ordered[0], ordered[-1]
    return {
        "theorem": "Lueker 1998",
        "construction": "subset-sum",
        "target_size": f"n={first['n']}..{last['n']}",
        "eps": last["eps"],
        "width_used": last["n"],
        "depth_used": 1,
        "bound_width": math.ceil(math.log2(1.0 / last["eps"])),
        "bound_kind": "lower",
        "sup_error": last["quantile_radius"],
        "error_bound": last["quantile_radius"],
        "evidence": "sampled",
        "pass": bool(
            last["success_prob"] >= first["success_prob"]
            and last["success_prob"] >= 1.0 - delta
        ),
    }
