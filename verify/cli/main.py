"""Entry point of the ``tickets`` console script."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from verify.cli.common import Parser, UserError, report_error

# One module per subcommand, each exposing ``register(subparsers)``; its parser sets
# ``func=run`` where ``run(args) -> int``.
SUBCOMMANDS = ("verify", "train", "bench", "figures", "models", "export", "eval")


def package_version() -> str:
    """The installed version of the ``lottery-tickets`` distribution (or "unknown")."""
    try:
        return importlib.metadata.version("lottery-tickets")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> Parser:
    """The full ``tickets`` parser (every subcommand and flag, with help)."""
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
    for name in SUBCOMMANDS:
        importlib.import_module(f"verify.cli.{name}_cmd").register(subparsers)
    return parser


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
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        return int(args.func(args) or 0)
    except (UserError, ValueError, FileNotFoundError, NotADirectoryError, PermissionError) as err:
        if os.environ.get("TICKETS_DEBUG"):
            raise
        return report_error(f"tickets {args.command}", err)
    except KeyboardInterrupt as err:
        print("interrupted; finished work is kept and a rerun resumes", file=sys.stderr)
        return 128 + (signal.SIGTERM if isinstance(err, Terminated) else signal.SIGINT)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
