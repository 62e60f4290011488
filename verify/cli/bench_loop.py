"""``tickets bench loop``: the project's training loop against a minimal PyTorch loop."""

from __future__ import annotations

import argparse
from typing import Any

from verify.cli.common import add_json_flag, emit, list_of, nonnegative_int, positive_int

COLUMNS = ["model", "variant", "batch", "steps", "evaluations", "project_ms", "minimal_ms",
           "ratio", "cpu_ratio", "project_gflops", "minimal_gflops", "peak_gflops"]
#: Row models: dataset, model section, and the dense, biprop and LTH presets of its recipes.
MODELS: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {
    "mnist1d-mlp": ("mnist1d", {"name": "fc", "widths": (100, 100), "bias": True},
                    {"dense": "mnist1d-dense", "biprop": "mnist1d-biprop", "lth": "mnist1d-lth"}),
    "mnist1d-cnn": ("mnist1d", {"name": "mnist1d-cnn", "widths": None, "bias": True},
                    {"dense": "mnist1d-cnn-dense", "biprop": "mnist1d-biprop",
                     "lth": "mnist1d-lth"}),
    "lenet-300-100": ("mnist5k", {"name": "lenet-300-100", "widths": None},
                      {"dense": "mnist5k-dense", "biprop": "mnist5k-biprop",
                       "lth": "mnist5k-lth"}),
    "mlp-2048": ("mnist5k", {"name": "fc", "widths": (2048, 2048, 2048)},
                 {"dense": "mnist5k-dense", "biprop": "mnist5k-biprop", "lth": "mnist5k-lth"}),
}
#: ``LTH``: level 1 of IMP (the preset's rate pruned from the initial weights by magnitude).
VARIANTS = ("dense", "MPT-1/32", "MPT-1/1", "LTH")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``loop`` to ``tickets bench``."""
    parser = subparsers.add_parser(
        "loop", help="the project's training loop vs a minimal PyTorch loop (ms/step, GFLOP/s)",
        description="Milliseconds per training step of the project's loop (fit, layer factory, "
        "run store) and of a minimal PyTorch loop of the same model, batch, steps and "
        "evaluation cadence, in one process; ratio = project / minimal (goal <= 1.2), cpu_ratio "
        "the same in CPU seconds (steadier on a shared machine). GFLOP/s of both against the "
        "fp32 matmul peak measured first. Rows: MNIST-1D MLP and CNN, "
        "LeNet-300-100 and an MLP 2048-2048-2048 on mnist5k, each dense, MPT-1/32, MPT-1/1 and "
        "one LTH level.")
    parser.add_argument("--model", type=list_of(str), default=list(MODELS),
                        help=f"models, comma separated (default: {','.join(MODELS)})")
    parser.add_argument("--variant", type=list_of(str), default=list(VARIANTS),
                        help=f"variants, comma separated (default: {','.join(VARIANTS)})")
    parser.add_argument("--steps", type=nonnegative_int, default=0,
                        help="training steps per round (default 0: one evaluation period of "
                        "the recipe, eval_every or one epoch)")
    parser.add_argument("--rounds", type=positive_int, default=2,
                        help="alternating rounds, the fastest of each loop is kept "
                        "(default: %(default)s)")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="torch CPU threads (default: %(default)s)")
    parser.add_argument("--device", default="cpu",
                        help="auto, cpu, cuda, mps (default: %(default)s)")
    add_json_flag(parser)
    parser.set_defaults(func=run)


def _check(values: list[str], known: tuple[str, ...] | list[str], flag: str) -> None:
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ValueError(f"{flag}: unknown {unknown[0]!r}; choose from {', '.join(known)}")


def run_hparams(model: str, variant: str) -> Any:
    """The run of one row: the recipe's preset with the row's dataset and model."""
    from empirical.config.lth_hparams import from_preset
    from verify.mpt_study import VARIANT_MODEL, preset_hparams

    dataset, section, presets = MODELS[model]
    if variant == "LTH":
        return from_preset(presets["lth"], model=section)
    if variant == "dense":
        return preset_hparams(presets["dense"], {"dataset": {"name": dataset},
                                                 "model": section})
    return preset_hparams(presets["biprop"], {"dataset": {"name": dataset},
                                              "model": {**section, **VARIANT_MODEL[variant]}})


def run(args: argparse.Namespace) -> int:
    """Check the flags, then time every row and print a table (or JSON lines)."""
    _check(args.model, list(MODELS), "--model")
    _check(args.variant, VARIANTS, "--variant")
    from empirical.bench.loop import bench_run, matmul_peak_gflops
    from empirical.device import select_device, set_threads

    rows = [(m, v, run_hparams(m, v)) for m in args.model for v in args.variant]
    set_threads(args.threads)
    peak = matmul_peak_gflops(select_device(args.device))
    results = [bench_run(m, v, h, steps=args.steps, rounds=args.rounds, device=args.device,
                         peak_gflops=peak).as_dict() for m, v, h in rows]
    emit(results, args.json, COLUMNS)
    return 0
