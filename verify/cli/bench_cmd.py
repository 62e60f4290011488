"""``tickets bench TARGET``: benchmarks that print figures and ratios (never timed tests)."""

from __future__ import annotations

import argparse

from verify.cli import (
    bench_export,
    bench_gpu,
    bench_isa,
    bench_loop,
    bench_lth,
    bench_subset_sum,
    bench_train,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``bench`` and its targets to the ``tickets`` parser."""
    parser = subparsers.add_parser(
        "bench",
        description="Benchmarks that print times, memory and ratios against a baseline.",
    )
    targets = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    bench_subset_sum.register(targets)
    bench_train.register(targets)
    bench_lth.register(targets)
    bench_export.register(targets)
    bench_gpu.register(targets)
    bench_isa.register(targets)
    bench_loop.register(targets)
