"""``tickets bench export``: packed-ticket file sizes and packed vs dense fp32 inference speed."""

from __future__ import annotations

import argparse

from verify.cli.common import add_json_flag, emit, fraction, list_of, positive_int

SIZE_COLUMNS = ["model", "layout", "keep", "weights", "bytes", "bits_per_weight",
                "mask_bits_per_weight", "entropy_floor", "excess_over_floor", "fp32_ratio",
                "checkpoint_ratio"]
SPEED_COLUMNS = ["model", "activations", "threads", "dense_baseline", "dense_ms_b1", "packed_ms_b1",
                 "latency_ratio", "dense_samples_per_s", "packed_samples_per_s", "speedup",
                 "paper_speedup", "load_average"]
LAYER_COLUMNS = ["model", "node", "module", "dense_ms", "packed_ms", "share_of_packed"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``export`` to ``tickets bench``."""
    parser = subparsers.add_parser(
        "export", help="packed tickets: bits per weight per layout, packed vs dense fp32 speed",
        description="Bits per weight of the self-contained and seed-only layouts against fp32 "
        "and the entropy floor H(k); file size against the score model's fp32 state dict; "
        "latency at batch 1 and throughput at --batch-size of the bit-packed kernels against "
        "dense fp32 torch (same CPU, same threads), for real (MPT-1/32) and binary (MPT-1/1) "
        "activations. fp32_ratio = 32 / bits_per_weight; latency_ratio and speedup = dense time "
        "/ packed time, dense_baseline the dense network it is measured against (for binary "
        "tickets the faster of the exact fp32 ticket and the same weights with ReLU) (the MPT "
        "paper's claims: 32x smaller, up to 58x faster; load_average: the machine's load while "
        "measuring); the last table gives, per graph node of the binary "
        "ticket, the dense module's and the packed engine's time (a sign node holds the fused "
        "layer before it).")
    parser.add_argument("--model", type=list_of(str), default=["fc", "conv4", "resnet18"],
                        help="architectures, comma separated (fc, conv4, resnet18)")
    parser.add_argument("--keep", type=fraction, default=0.2, help="kept fraction k")
    parser.add_argument("--batch-size", type=positive_int, default=256,
                        help="throughput batch size")
    parser.add_argument("--repeats", type=positive_int, default=5,
                        help="timed batch-1 passes (median)")
    parser.add_argument("--rounds", type=positive_int, default=3,
                        help="timed throughput passes (best)")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="threads of both engines (torch and the numba kernels)")
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print two tables (or JSON lines)."""
    from empirical.export.bench import SHAPES, bench_export
    from empirical.progress import tracked

    unknown = [m for m in args.model if m not in SHAPES]
    if unknown:  # before the first model is measured
        raise ValueError(f"--model: unknown {unknown[0]!r}; choose from {', '.join(SHAPES)}")
    sizes, speeds, layers = [], [], []
    for model in tracked(args.model, "bench export", "model"):
        for rows, more in zip((sizes, speeds, layers), bench_export(
                [model], args.keep, args.batch_size, args.repeats, args.rounds, args.threads),
                              strict=True):
            rows.extend(more)
    if args.json:
        emit(sizes + speeds + layers, True)
        return 0
    emit(sizes, False, SIZE_COLUMNS)
    print()
    emit(speeds, False, SPEED_COLUMNS)
    print()
    emit(layers, False, LAYER_COLUMNS)
    return 0
