"""Sign-activation tickets (MPT-1/1) held to the right property: exact agreement outside a margin,
and the agreement rate against width.

A run draws a random target (:func:`theory.networks.random_target`, used with ``sgn``
activations), builds the ticket of :mod:`theory.constructions.sign_activations` and evaluates
both on ``n_samples`` inputs uniform on the unit sphere (the outputs depend only on the direction
of ``x``).  It reports the agreement rate (sampled), the fraction of inputs outside the certified
margins, and the number of those on which the ticket disagrees, which the certificate says is 0.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from theory.constructions import get_method
from theory.constructions import sign_activations as sign
from theory.networks import random_target


def run_sign_construction(
    width: int, depth: int, margin: float, delta: float = 0.1, seed: int = 0,
    block_size: int | None = None, rescale: bool = False, target_scale: float = 1.0,
    n_samples: int = 4096,
) -> dict[str, Any]:
    """One sign-activation ticket, measured on random inputs.

    Parameters
    ----------
    width, depth : int
        Target width ``d`` (every layer) and depth ``l``.
    margin : float
        Requested margin ``gamma`` (in the place of ``eps``).
    delta, seed, block_size, rescale, target_scale
        As for :func:`verify.construction_study.run_construction`.
    n_samples : int
        Random inputs on the unit sphere.

    Returns
    -------
    dict
        theorem, construction, target_size, margin, delta, seed, block_size, source_width,
        source_depth, kept_fraction, bound_width, certified_margin (the largest ``gamma_i``),
        agreement_rate, outside_margin (fraction of inputs with every ``mu_i > gamma_i``),
        disagreements_outside (must be 0), evidence (``certified``: the pass rests on the
        certified margins, read off the pruned weights; the sampled inputs only check that no
        input outside them disagrees), success, pass, seconds.
    """
    if width < 1 or depth < 1:
        raise ValueError(f"width and depth must be >= 1, got width={width}, depth={depth}")
    rng = np.random.default_rng(seed)
    widths = [width] * (depth + 1)
    target = [target_scale * w for w in random_target(widths, rng, constraint="both")]
    start = time.perf_counter()
    result = sign.construct(target, margin, delta, rng, block_size=block_size, rescale=rescale)
    seconds = time.perf_counter() - start
    result.subnetwork.check_genuine()
    x = rng.standard_normal((int(n_samples), width))
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-300)
    agree = np.all(sign.ticket_forward(result.subnetwork, x) == sign.sign_forward(target, x),
                   axis=1)
    outside = np.all(sign.margins(target, x) > np.array(result.certified_margins), axis=1)
    disagreements = int(np.sum(outside & ~agree))
    return {
        "theorem": get_method(sign.METHOD).theorem,
        "construction": sign.METHOD,
        "target_size": "x".join(str(w) for w in widths),
        "margin": float(margin),
        "delta": float(delta),
        "seed": int(seed),
        "block_size": block_size,
        "source_width": result.source_width,
        "source_depth": result.source_depth,
        "kept_fraction": float(result.subnetwork.kept_fraction),
        "bound_width": result.bound_width,
        "certified_margin": float(max(result.certified_margins)),
        "agreement_rate": float(np.mean(agree)),
        "outside_margin": float(np.mean(outside)),
        "disagreements_outside": disagreements,
        "evidence": "certified",
        "success": bool(result.success),
        "pass": bool(result.success and disagreements == 0),
        "seconds": seconds,
    }


def sweep_agreement_vs_width(block_sizes: Sequence[int], width: int = 2, depth: int = 2,
                             margin: float = 0.1, delta: float = 0.1,
                             seeds: int = 3) -> list[dict[str, Any]]:
    """:func:`run_sign_construction` rows for every block size and seed (``param="width"``)."""
    return [{"param": "width", "value": int(b),
             **run_sign_construction(width, depth, margin, delta, s, block_size=int(b))}
            for b in block_sizes for s in range(seeds)]
