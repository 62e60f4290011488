"""``tickets bench lth``: IMP overhead (pruned vs dense training step, time to prune a level)."""

from __future__ import annotations

import argparse

from verify.cli.common import (
    add_json_flag,
    add_timing_flags,
    emit,
    fraction,
    list_of,
    positive_int,
)

COLUMNS = ["model", "device", "batch", "density", "weights", "dense_step_ms", "pruned_step_ms",
           "unfolded_step_ms", "step_ratio", "unfolded_ratio", "prune_level_ms",
           "prune_global_ms"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``lth`` to ``tickets bench``."""
    parser = subparsers.add_parser(
        "lth", help="IMP overhead: pruned vs dense training step, time to prune one level",
        description="Time of one training step with fixed masks (masks folded into the weights "
        "+ enforce_masks_ after the SGD step, as IMP trains) against the dense step (step_ratio "
        "= pruned / dense, target <= 1.05) and the previous unfolded step (W*m every forward: "
        "unfolded_ratio), and of pruning one level (20% layerwise / global, masks written into "
        "the model), on synthetic tensors: LeNet-300-100 at MNIST shape, ResNet-20 at CIFAR-10 "
        "shape.")
    parser.add_argument("--model", type=list_of(str), default=["lenet-300-100", "resnet20"],
                        help="models, comma separated (default: lenet-300-100,resnet20)")
    parser.add_argument("--density", type=fraction, default=0.2,
                        help="density of the pruned model's masks (default: %(default)s)")
    parser.add_argument("--rounds", type=positive_int, default=3,
                        help="alternating timed blocks per variant, the fastest is kept "
                        "(default: %(default)s)")
    add_timing_flags(parser, batch_size=60, steps=10, warmup=3)
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print a table (or JSON lines)."""
    from empirical.bench.lth import bench_lth
    from empirical.progress import tracked

    rows = [row for model in tracked(args.model, "bench lth", "model")
            for row in bench_lth([model], batch=args.batch_size, steps=args.steps,
                                 warmup=args.warmup, rounds=args.rounds, density=args.density,
                                 device=args.device)]
    emit([r.as_dict() for r in rows], args.json, COLUMNS)
    return 0
