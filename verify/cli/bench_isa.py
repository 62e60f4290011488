"""``tickets bench isa``: training-step time with pinned instruction sets against native."""

from __future__ import annotations

import argparse

from verify.cli.common import add_json_flag, emit, list_of, positive_int

COLUMNS = ["model", "variant", "batch_size", "pinned_ms", "native_ms", "ratio", "pinned_cpu_ms",
           "native_cpu_ms", "cpu_ratio", "pinned_isa", "native_isa"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``isa`` to ``tickets bench``."""
    parser = subparsers.add_parser(
        "isa", help="what pinning the instruction sets costs (training steps, pinned vs native)",
        description="CPU training steps (SGD, synthetic CIFAR-10-shaped tensors) of each model, "
        "biprop score training (ours) and dense, each timed in a fresh interpreter with the "
        "pinned AVX2 code paths (the default) and with TICKETS_NATIVE_ISA=1 (each library's "
        "native choice). ratio and cpu_ratio (CPU seconds, steadier on a shared machine) = "
        "pinned step time / native step time.")
    parser.add_argument("--model", type=list_of(str), default=["fc", "conv4"],
                        help="models, comma separated (default: fc,conv4)")
    parser.add_argument("--batch-size", type=positive_int, default=16,
                        help="batch size (default: %(default)s)")
    parser.add_argument("--steps", type=positive_int, default=10,
                        help="timed steps per run (default: %(default)s)")
    parser.add_argument("--warmup", type=positive_int, default=2,
                        help="untimed steps first (default: %(default)s)")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="intra-op threads (default: %(default)s)")
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print a table (or JSON lines)."""
    from empirical.bench.isa import bench_isa
    from empirical.models import MODEL_NAMES

    unknown = [m for m in args.model if m not in MODEL_NAMES]
    if unknown:
        raise ValueError(f"--model: unknown model {unknown[0]!r}; choose from "
                         f"{', '.join(MODEL_NAMES)}")
    emit(bench_isa(args.model, args.batch_size, args.steps, args.warmup, args.threads),
         args.json, COLUMNS)
    return 0
