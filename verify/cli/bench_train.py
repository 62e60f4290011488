"""``tickets bench train``: score-training throughput vs a sort-every-forward baseline and dense."""

from __future__ import annotations

import argparse

from verify.cli.common import add_json_flag, add_timing_flags, emit, fraction, list_of

COLUMNS = ["model", "mode", "variant", "batch_size", "samples_per_s", "step_ms", "cpu_step_ms",
           "peak_mem_mb", "ratio_to_ours", "ratio_to_dense", "cpu_ratio_to_dense"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train`` to ``tickets bench``."""
    parser = subparsers.add_parser(
        "train", help="training throughput of score masks (ours, reference sort, dense)",
        description="Samples/s and peak memory of one training step at CIFAR-10 shape on "
        "synthetic tensors: our top-k score layers, the reference's full sort on every forward, "
        "and dense training. ratio_to_ours = step time / our step time; ratio_to_dense and "
        "cpu_ratio_to_dense (CPU seconds, steadier on a shared machine) = step time / the dense "
        "step's, the score-mask overhead.")
    parser.add_argument("--model", type=list_of(str), default=["conv4", "conv6", "vgg-small",
                                                               "resnet18"],
                        help="models, comma separated (default: conv4,conv6,vgg-small,resnet18)")
    parser.add_argument("--mode", choices=("biprop", "edge-popup"), default="biprop",
                        help="score mode to measure (default: %(default)s)")
    parser.add_argument("--keep", type=fraction, default=0.5,
                        help="kept fraction k (default: %(default)s)")
    add_timing_flags(parser, batch_size=16, steps=3, warmup=1)
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print a table (or JSON lines)."""
    from empirical.bench.train import CIFAR_SHAPE, bench_model
    from empirical.config.hparams import ModelHparams
    from empirical.layers import LayerConfig
    from empirical.memory import check_memory, training_bytes
    from empirical.models import MODEL_NAMES, build_model

    unknown = [m for m in args.model if m not in MODEL_NAMES]
    if unknown:
        raise ValueError(f"--model: unknown model {unknown[0]!r}; choose from "
                         f"{', '.join(MODEL_NAMES)}")
    for model in args.model:
        check_memory(training_bytes(
            lambda m=model: build_model(ModelHparams(m), 10, CIFAR_SHAPE,
                                        LayerConfig(mode=args.mode, keep=args.keep)),
            CIFAR_SHAPE, args.batch_size), f"--model {model} with --batch-size {args.batch_size}")
    from empirical.progress import tracked

    rows = []
    for model in tracked(args.model, "bench train", "model"):
        rows.extend(bench_model(model, args.mode, args.keep, args.batch_size, args.steps,
                                args.warmup, args.device))
    emit(rows, args.json, COLUMNS)
    return 0
