"""``tickets bench subset-sum``: our exact solver on Pensia et al.'s 397,000-weight experiment.

Pensia et al. (2020) approximated every weight of a 784-500-10 MNIST network (784*500 + 500*10 =
397,000 weights) by a subset sum of 21 fresh ``U[-1, 1]`` coefficients at ``eps = 0.01`` with a
mixed-integer solver: about 21.5 hours on 36 cores.  We solve the same number of instances exactly
by meet-in-the-middle (:func:`theory.subset_sum.solve_subset_sum`): the chosen backend (``auto``:
the compiled numba kernel when installed) against the previous solver, the pure-numpy path, on
the same instances in the same process; both must reach identical optimal errors.
"""

from __future__ import annotations

import argparse
import itertools
from typing import Any

from theory.subset_sum import BACKENDS, MAX_SUMMANDS
from verify.cli.common import add_json_flag, emit, positive_float, positive_int, seed

PUBLISHED_SECONDS = 21.5 * 3600.0
"""Pensia et al.'s reported wall time (21.5 hours on 36 cores)."""
PUBLISHED_CORES = 36
LAYER_WIDTHS = (784, 500, 10)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``subset-sum`` to ``tickets bench``."""
    n_weights = sum(a * b for a, b in itertools.pairwise(LAYER_WIDTHS))
    parser = subparsers.add_parser(
        "subset-sum", help="exact subset-sum solver vs Pensia et al.'s 21.5 h MIP run",
        description="Approximate every weight of a 784-500-10 network by a subset sum of fresh "
        "U[-1,1] coefficients, solved exactly by vectorised meet-in-the-middle; prints time, "
        "peak memory, errors and the speed-up over the published 21.5 hours on 36 cores.")
    parser.add_argument("--n-weights", type=positive_int, default=n_weights,
                        help=f"number of target weights (default {n_weights} = 784*500+500*10)")
    parser.add_argument("--summands", type=positive_int, default=21,
                        help="U[-1,1] coefficients per weight (default 21, at most 30)")
    parser.add_argument("--eps", type=positive_float, default=0.01,
                        help="accuracy a weight must reach (default 0.01)")
    parser.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    parser.add_argument("--backend", choices=BACKENDS, default="auto",
                        help="solver to measure: auto (numba for large batches when installed), "
                        "numba, numpy")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the previous solver (pure numpy) and the ratio to it")
    add_json_flag(parser, one_object=True)
    parser.set_defaults(func=run)


def _peak_rss_mb() -> float:
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _timed_solve(summands: Any, weights: Any, backend: str) -> tuple[Any, float, float, float]:
    """Solve once untimed on four instances (compilation), then time the whole batch.

    Returns the result, the wall seconds, the CPU seconds of all threads (the fairer figure on
    a shared machine) and the growth of the peak resident set size in MB.
    """
    import time

    from theory.subset_sum import solve_subset_sum

    solve_subset_sum(summands[:4], weights[:4], backend=backend)
    rss_before = _peak_rss_mb()
    start, cpu_start = time.perf_counter(), time.process_time()
    result = solve_subset_sum(summands, weights, backend=backend)
    return (result, time.perf_counter() - start, time.process_time() - cpu_start,
            _peak_rss_mb() - rss_before)


def run(args: argparse.Namespace) -> int:
    """Draw the targets and coefficients, solve, print the figures; returns the exit status."""
    import numpy as np

    from empirical.memory import check_memory
    from empirical.progress import tracked
    from theory.networks import random_target
    from theory.subset_sum import choose_backend, numba_available
    from verify.footprints import subset_sum_bench_bytes

    if args.summands > MAX_SUMMANDS:
        raise ValueError(f"--summands {args.summands}: the exact solver takes at most "
                         f"{MAX_SUMMANDS}")
    check_memory(subset_sum_bench_bytes(args.n_weights, args.summands),
                 f"--n-weights {args.n_weights} with --summands {args.summands}")
    if args.backend == "numba" and not numba_available():
        raise ValueError("--backend numba: numba is not installed")
    backend = choose_backend(args.backend, args.n_weights, args.summands)
    rng = np.random.default_rng(args.seed)
    target = random_target(list(LAYER_WIDTHS), rng, constraint="both")
    weights = np.concatenate([w.ravel() for w in target])
    weights = np.resize(weights, args.n_weights)
    summands = rng.uniform(-1.0, 1.0, (args.n_weights, args.summands))
    solved = {name: _timed_solve(summands, weights, name) for name in tracked(
        [backend] + ([] if args.no_baseline else ["numpy"]), "bench subset-sum", "solve")}
    result, seconds, cpu_seconds, growth = solved[backend]
    row: dict[str, Any] = {
        "instances": args.n_weights,
        "summands": args.summands,
        "eps": args.eps,
        "backend": backend,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "peak_rss_growth_mb": growth,
        "max_error": float(result.errors.max()),
        "mean_error": float(result.errors.mean()),
        "instances_within_eps": int(np.count_nonzero(result.errors <= args.eps)),
        "fraction_within_eps": float(np.mean(result.errors <= args.eps)),
    }
    if not args.no_baseline:
        previous, previous_seconds, previous_cpu, previous_growth = solved["numpy"]
        row.update({
            "previous_seconds": previous_seconds,
            "previous_cpu_seconds": previous_cpu,
            "previous_peak_rss_growth_mb": previous_growth,
            "speedup_vs_previous": previous_seconds / seconds,
            "cpu_speedup_vs_previous": previous_cpu / cpu_seconds,
            "same_errors_as_previous": bool(np.array_equal(previous.errors, result.errors)),
        })
    row.update({
        "peak_rss_mb": _peak_rss_mb(),
        "published_seconds": PUBLISHED_SECONDS,
        "published_cores": PUBLISHED_CORES,
        "speedup_vs_published": PUBLISHED_SECONDS / seconds,
    })
    emit([row], args.json, one_object=True)
    return 0
