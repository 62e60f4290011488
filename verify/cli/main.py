"""Entry point of the ``tickets`` console script.

Only the subcommand named on the command line is registered with its flags (its module imported):
``tickets --version`` and ``tickets --help`` load neither torch nor any subcommand, and answer in
a fraction of a second.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

from verify.cli.args import flag_of
from verify.cli.common import Parser, report_error

COMMANDS = {
    "verify": "check strong-ticket bounds numerically",
    "train": "train a ticket: biprop (MPT), edge-popup, dense, or lth (IMP)",
    "bench": "benchmarks: subset-sum solver, score-mask training throughput, IMP overhead, packed "
             "tickets, device check, training loop, instruction-set pinning",
    "figures": "regenerate the paper figures and tables by executing the notebooks",
    "models": "list the model names with their parameter counts",
    "export": "write a found ticket as a packed file (safetensors) or as ONNX",
    "eval": "rebuild a packed ticket from its file and measure its test accuracy",
}
"""Subcommands and their one-line help. Each lives in ``verify.cli.<name>_cmd``, exposing
``register(subparsers)``, which adds the parser ``name`` with ``func=run``, ``run(args) -> int``."""


def package_version() -> str:
    """The installed version of the ``lottery-tickets`` distribution (or "unknown")."""
    try:
        return importlib.metadata.version("lottery-tickets")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def chosen_command(argv: Sequence[str] | None) -> str | None:
    """The subcommand ``argv`` names (its first word that is no option), or None."""
    words = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    return words[0] if words and words[0] in COMMANDS else None


def build_parser(argv: Sequence[str] | None = None, everything: bool = True) -> Parser:
    """The ``tickets`` parser: every subcommand listed with its help.

    Parameters
    ----------
    argv
        The arguments to be parsed (default ``sys.argv[1:]``).
    everything
        Register every subcommand with its flags; if False, only the one ``argv`` names.
    """
    parser = Parser(
        prog="tickets",
        description=(
            "Lottery tickets: check strong-ticket existence bounds numerically (verify), train "
            "multi-prize tickets and IMP lottery tickets (train), measure speed (bench), and "
            "regenerate every paper figure (figures); list the models (models)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    chosen = chosen_command(argv)
    for name in COMMANDS:
        if everything or name == chosen:
            importlib.import_module(f"verify.cli.{name}_cmd").register(_Listed(subparsers))
        else:
            _Listed(subparsers).add_parser(name)
    return parser


class _Listed:
    """``subparsers`` whose ``add_parser(name, ...)`` gives the parser its help of
    :data:`COMMANDS`, the line ``tickets --help`` lists."""

    def __init__(self, subparsers: argparse._SubParsersAction) -> None:
        self.subparsers = subparsers

    def add_parser(self, name: str, **kwargs: Any) -> Parser:
        """Add the subcommand ``name`` (``kwargs`` as ``argparse``'s, without ``help``)."""
        return self.subparsers.add_parser(name, help=COMMANDS[name], **kwargs)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread as Ctrl-C raises ``KeyboardInterrupt``: the atomic
    writes in progress remove their temporary files and the command ends as after Ctrl-C."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; user mistakes exit with status 2.

    Ctrl-C (SIGINT) and SIGTERM end the command with one line on stderr and status 130 or 143
    (128 + the signal number); finished work is kept and a rerun resumes.
    """
    parser = build_parser(argv, everything=False)
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, NotADirectoryError, PermissionError) as err:
        if os.environ.get("TICKETS_DEBUG"):
            raise
        return report_error(f"tickets {args.command}", err, flag_of)
    except KeyboardInterrupt as err:
        print("interrupted; finished work is kept and a rerun resumes", file=sys.stderr)
        return 128 + (signal.SIGTERM if isinstance(err, Terminated) else signal.SIGINT)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
