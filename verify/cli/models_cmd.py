"""``tickets models``: every model name with its parameter counts at a dataset's shape."""

from __future__ import annotations

import argparse
from typing import Any

from verify.cli.common import add_json_flag, emit

COLUMNS = ["model", "dataset", "parameters", "prunable_weights"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``models`` to the ``tickets`` parser."""
    from empirical.data import DATASET_NAMES

    parser = subparsers.add_parser(
        "models",
        description="Every model --model accepts, with its number of parameters (dense, "
        "biases and BatchNorm included) and of prunable weights (the conv/linear weights that "
        "masks and scores act on) at the input shape and classes of --dataset. Models that do "
        "not take that input shape are left out. Nothing is allocated: the models are built on "
        "torch's meta device.")
    parser.add_argument("--dataset", choices=DATASET_NAMES, default="cifar10",
                        help="input shape and classes to count at (default: %(default)s)")
    add_json_flag(parser)
    parser.set_defaults(func=run)


def model_rows(dataset: str) -> list[dict[str, Any]]:
    """One row per model that builds for ``dataset``: name, parameters, prunable weights."""
    import torch

    from empirical.config.hparams import ModelHparams
    from empirical.data import dataset_info
    from empirical.layers import LayerConfig, prunable_layers
    from empirical.memory import compile_stack_lent
    from empirical.models import MODEL_NAMES, build_model

    info = dataset_info(dataset)
    rows = []
    for name in MODEL_NAMES:
        with torch.device("meta"), compile_stack_lent():
            try:
                model = build_model(ModelHparams(name), info.num_classes, info.input_shape,
                                    LayerConfig())
            except ValueError:  # the model does not take this input shape
                continue
        rows.append({"model": name, "dataset": dataset,
                     "parameters": sum(p.numel() for p in model.parameters()),
                     "prunable_weights": sum(layer.weight.numel()
                                             for _, layer in prunable_layers(model))})
    return rows


def run(args: argparse.Namespace) -> int:
    """Print the table (or JSON lines)."""
    emit(model_rows(args.dataset), args.json, COLUMNS)
    return 0
