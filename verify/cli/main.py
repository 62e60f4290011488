"""Entry point of the ``tickets`` console script."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
from collections.abc import Sequence

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


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; user mistakes exit with status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (UserError, ValueError, FileNotFoundError, NotADirectoryError, PermissionError) as err:
        if os.environ.get("TICKETS_DEBUG"):
            raise
        return report_error(f"tickets {args.command}", err)
    except KeyboardInterrupt:
        print("interrupted; finished work is kept and a rerun resumes", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
