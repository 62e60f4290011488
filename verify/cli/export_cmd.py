"""``tickets export RUN --out FILE``: write a run's ticket as a packed file (or as ONNX)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from verify.cli.common import add_json_flag, emit, output_file

COLUMNS = ["file", "layout", "kind", "run_hash", "bytes", "weights", "kept", "bits_per_weight",
           "checkpoint_bytes", "size_ratio"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``export`` to the ``tickets`` parser."""
    from empirical.export.header import LAYOUTS, VALUE_DTYPE_NAMES

    parser = subparsers.add_parser(
        "export",
        description="Write the ticket of a finished biprop, edge-popup or LTH run as a "
        "self-describing safetensors file: self-contained (mask and sign bits packed 8 per byte, "
        "one gain per layer), seed-only (entropy-coded masks; the weights are regenerated from "
        "the run's seed and checked against a hash) or lth (mask bits, kept weights, rewind "
        "weights). --layout onnx writes the float simulation as ONNX and checks it with "
        "onnxruntime. size_ratio = checkpoint bytes / file bytes.")
    parser.add_argument("run", metavar="RUN", help="run directory, or run hash (searched under "
                        "every kind of --runs-dir)")
    parser.add_argument("--out", required=True, type=output_file, help="file to write")
    parser.add_argument("--layout", choices=(*LAYOUTS, "onnx"), default=None,
                        help="self-contained (biprop/edge-popup default), seed-only, lth (LTH "
                        "default), onnx")
    parser.add_argument("--values-dtype", choices=VALUE_DTYPE_NAMES, default="float32",
                        help="storage of real kept weights (edge-popup, LTH); float16/bfloat16 "
                        "are smaller but no longer reproduce the run exactly")
    parser.add_argument("--runs-dir", help="root of the run store (default: $TICKETS_RUNS or "
                        "./runs)")
    parser.add_argument("--data-dir", help="the run's dataset, to record its test predictions "
                        "(digits, synthetic and mnist1d need none)")
    add_json_flag(parser, one_object=True)
    parser.set_defaults(func=run)


def check_out(out: str) -> None:
    """Refuse an ``--out`` that cannot be written, before any work: empty, a directory, or in a
    folder that is missing or where no file can be created (tried with a temporary file)."""
    path = Path(out)
    if not out.strip() or path.is_dir():
        raise ValueError(f"--out {out!r}: give a file name, not a directory")
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"--out {out}: folder {folder} does not exist")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise ValueError(f"--out {out}: cannot write in {folder} "
                         f"({err.strerror or type(err).__name__})") from None


def run(args: argparse.Namespace) -> int:
    """Export the run and print the file's size against the run's checkpoint."""
    from empirical.algorithms.run_reader import locate_run

    check_out(args.out)
    run_dir = locate_run(args.run, args.runs_dir)
    if args.layout == "onnx":
        from empirical.export.onnx_export import export_run_onnx

        summary = export_run_onnx(run_dir, args.out, data_dir=args.data_dir)
        columns = ["file", "kind", "run_hash", "bytes", "max_abs_diff", "tied_inputs",
                   "identical_predictions"]
    else:
        from empirical.export.ticket_file import export_run

        summary = export_run(run_dir, args.out, args.layout, args.values_dtype, args.data_dir)
        summary["size_ratio"] = summary["checkpoint_bytes"] / summary["bytes"]
        columns = COLUMNS
    if args.json:
        emit([summary], True, one_object=True)
        return 0
    print(f"wrote {summary['file']}", file=sys.stderr)
    emit([summary], False, columns)
    return 0
