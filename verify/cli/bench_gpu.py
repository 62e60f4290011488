"""``tickets bench gpu``: the device check, every layer mode's throughput and memory per setting,
the input pipeline with and without device-resident data, and DDP scaling."""

from __future__ import annotations

import argparse
import contextlib
import math
import sys

from verify.cli.common import (
    add_json_flag,
    add_timing_flags,
    emit,
    fraction,
    list_of,
    nonnegative_int,
    positive_float,
    positive_int,
)

COLUMNS = ["model", "variant", "precision", "memory_format", "compiled", "batch", "steps_per_s",
           "samples_per_s", "step_ms", "peak_mem_mb", "overhead_vs_dense"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``gpu`` to ``tickets bench``."""
    parser = subparsers.add_parser(
        "gpu", help="device check: steps/s, peak memory and mask overhead of every layer mode",
        description="Steps/s, samples/s and peak memory of dense, edge-popup, biprop (layerwise, "
        "global) and masked (LTH) training on synthetic CIFAR-10-shaped tensors, for each model, "
        "precision (fp32, bf16 autocast) and memory format, optionally compiled; "
        "overhead_vs_dense = step time / the dense step's; then the projected wall time of the "
        "published MPT-1/32 ResNet-18 run (250 epochs x 50,000 images at batch 256); then the "
        "input pipeline (dense training with CIFAR-10 augmentation on the device vs torchvision "
        "in loader workers) and, with more than one GPU or --world-sizes, torchrun DDP scaling "
        "(steps/s per world size, efficiency = per-process samples/s over the smallest world "
        "size's). Runs on any device (on a CPU only at a tiny size: --width-mult 0.125 "
        "--batch-size 2).")
    parser.add_argument("--model", type=list_of(str), default=None,
                        help="models, comma separated (default: conv4, vgg-small, resnet18, "
                        "wrn50-2)")
    parser.add_argument("--variant", type=list_of(str), default=None,
                        help="variants, comma separated (default: dense, edge-popup, "
                        "biprop-layerwise, biprop-global, masked)")
    parser.add_argument("--precision", type=list_of(str), default=None,
                        help="precisions, comma separated (default: fp32, bf16)")
    parser.add_argument("--memory-format", type=list_of(str), default=None,
                        help="memory formats, comma separated (default: channels_last, "
                        "contiguous)")
    parser.add_argument("--compile", action="store_true", help="torch.compile every model")
    add_timing_flags(parser, batch_size=256, steps=10, warmup=3)
    parser.add_argument("--keep", type=fraction, default=0.2,
                        help="kept fraction of score modes and LTH density (published: 0.2)")
    parser.add_argument("--width-mult", type=positive_float, default=1.0,
                        help="width multiplier of every model (tiny CPU checks)")
    parser.add_argument("--no-data", action="store_true",
                        help="skip the input pipeline rows (device-resident vs loader)")
    parser.add_argument("--workers", type=nonnegative_int, default=4,
                        help="loader workers of the input pipeline's torchvision path")
    parser.add_argument("--world-sizes", type=list_of(positive_int), default=None,
                        help="DDP world sizes, comma separated (default: 1, 2, 4, ... up to the "
                        "GPU count when there are several GPUs, else no DDP rows; on a CPU "
                        "gloo processes)")
    parser.add_argument("--ddp-variant", default="biprop-layerwise",
                        help="variant of the DDP rows (model: the first --model)")
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the check, print the table (or JSON lines), the projected MPT-1/32 run, the input
    pipeline rows and the DDP scaling rows."""
    from empirical.bench.ddp import bench_ddp, check_world_sizes, default_world_sizes
    from empirical.bench.gpu import GPU_MODELS, VARIANTS, bench_data, bench_gpu, projected_run

    chosen = {key: value for key, value in (
        ("models", args.model), ("variants", args.variant), ("precisions", args.precision),
        ("memory_formats", args.memory_format)) if value is not None}
    world_sizes = (default_world_sizes() if args.world_sizes is None
                   else check_world_sizes(args.world_sizes, args.device))
    if args.ddp_variant not in VARIANTS:
        raise ValueError(f"--ddp-variant: unknown {args.ddp_variant!r}; choose from "
                         f"{', '.join(VARIANTS)}")
    from empirical.bench.gpu import MEMORY_FORMATS, PRECISIONS
    from empirical.device import select_device
    from empirical.progress import progress_bar

    device = select_device(args.device)
    if device.type != "cuda":
        print(f"note: no CUDA GPU here: measuring on {device.type} (bench gpu is the GPU check; "
              "on a CPU use a tiny size: --width-mult 0.125 --batch-size 2)", file=sys.stderr)
    total = math.prod(len(chosen.get(key, default)) for key, default in (
        ("models", GPU_MODELS), ("variants", VARIANTS), ("precisions", PRECISIONS),
        ("memory_formats", MEMORY_FORMATS)))
    bar = progress_bar(total, desc="bench gpu", unit="setting")
    with contextlib.closing(bar):
        rows = bench_gpu(**chosen, compile_model=args.compile, batch=args.batch_size,
                         steps=args.steps, warmup=args.warmup, keep=args.keep,
                         width_mult=args.width_mult, device=args.device,
                         on_row=lambda row: bar.update())
    emit([r.as_dict() for r in rows], args.json, COLUMNS)
    projection = projected_run(rows)
    tables = [[projection]] if projection is not None else []
    models = chosen.get("models", GPU_MODELS)
    if not args.no_data:
        tables.append([r.as_dict() for r in bench_data(
            models, args.batch_size, args.steps, args.warmup, args.workers, args.width_mult,
            args.device)])
    if world_sizes:
        tables.append([r.as_dict() for r in bench_ddp(
            world_sizes, models[0], args.ddp_variant, args.batch_size, args.steps, args.warmup,
            args.keep, args.width_mult, args.device)])
    for table in tables:
        if not args.json:
            print()
        emit(table, args.json, list(table[0]))
    return 0
