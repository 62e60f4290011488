"""``tickets train ALGORITHM``: multi-prize tickets (biprop), edge-popup, dense, and LTH (IMP)."""

from __future__ import annotations

import argparse

from verify.cli import train_lth, train_mpt, train_pai


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train`` and its algorithms to the ``tickets`` parser."""
    parser = subparsers.add_parser(
        "train",
        description="Train a ticket. Each algorithm's run is hashed into the run store: a "
        "finished run is never recomputed and a killed run resumes.",
    )
    algorithms = parser.add_subparsers(dest="algorithm", metavar="ALGORITHM", required=True)
    train_mpt.register(algorithms)
    train_lth.register(algorithms)
    train_pai.register(algorithms)
