"""``tickets eval FILE``: rebuild a packed ticket from the file alone and test it."""

from __future__ import annotations

import argparse

from verify.cli.common import add_json_flag, emit, ticket_file

COLUMNS = ["file", "layout", "kind", "dataset", "engine", "test_acc", "run_test_acc",
           "same_accuracy", "identical_predictions"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``eval`` to the ``tickets`` parser."""
    from empirical.data import DATASET_NAMES

    parser = subparsers.add_parser(
        "eval",
        description="Rebuild the network of a packed ticket file (tickets export) from the file "
        "alone and evaluate it on the test split. same_accuracy compares its accuracy with the "
        "run's recorded test accuracy, identical_predictions its predicted labels with those the "
        "run's own model made at export time. Exit status 1 when either differs.")
    parser.add_argument("file", metavar="FILE", type=ticket_file, help="a packed ticket file")
    parser.add_argument("--dataset", choices=DATASET_NAMES, default=None,
                        help="evaluate on another dataset of the same shape (default: the run's)")
    parser.add_argument("--data-dir", help="directory holding the dataset")
    parser.add_argument("--engine", choices=("float", "packed"), default="float",
                        help="float: the rebuilt network; packed: bit-packed kernels (biprop)")
    add_json_flag(parser, one_object=True)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate the file and print its accuracy next to the run's; 1 if either differs."""
    from pathlib import Path

    from empirical.export.ticket_file import evaluate_file
    from empirical.storage.store import HPARAMS

    if (Path(args.file) / HPARAMS).is_file():
        raise ValueError(f"{args.file} is a run directory, not a ticket file; write its ticket "
                         f"with: tickets export {args.file} --out FILE")
    row = evaluate_file(args.file, args.dataset, args.data_dir, args.engine)
    emit([row], args.json, COLUMNS, one_object=True)
    differs = row["same_accuracy"] is False or row["identical_predictions"] is False
    return 1 if differs else 0
