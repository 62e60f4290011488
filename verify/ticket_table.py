"""Tickets against their controls level by level, with intervals over seeds.

Reads the rows that ``tickets train lth --json`` prints (one JSON object per run: level, source,
density, test_acc, run_dir), one file per seed, and gives per pruning level the mean test
accuracy of each arm (dense level 0, IMP ticket, ``reinit``, ``random-prune``) with its 95%
Student-t interval over seeds, and the paired differences ticket - control and ticket - dense
(same seed: same initialisation and data order) with theirs, and per seed the exact McNemar
p-value of the two arms' paired test predictions (:mod:`verify.stats`). Run as
``python -m verify.ticket_table ROWS.jsonl ...``; it prints a Markdown table.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from verify.stats import Interval, mcnemar, paired_difference, t_interval

ARMS = ("imp", "reinit", "random-prune")
PAIRS = (("imp", "random-prune"), ("imp", "reinit"), ("imp", "dense"))


def read_rows(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """The rows of ``tickets train lth --json`` output files, each with the ``seed`` of its run
    (read from the run store's checked ``result.json``) and ``correct``, which test examples its
    final predictions get right."""
    from empirical.storage.store import RunStore

    rows = []
    for path in paths:
        for line in Path(path).read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                store = RunStore(row["run_dir"])
                row["seed"] = store.read_result()["seed"]
                predictions = store.predictions()
                row["correct"] = (predictions.steps[max(predictions.steps)]
                                  == predictions.labels).numpy()
                rows.append(row)
    return rows


def _by_seed(rows: Sequence[Mapping[str, Any]], level: int, source: str,
             key: str = "test_acc") -> dict[int, Any]:
    return {r["seed"]: r[key] for r in rows
            if r["source"] == source and r["level"] == (0 if source == "dense" else level)}


def _cell(interval: Interval | None, signed: bool = False) -> str:
    return "" if interval is None else interval.format(100, 1, signed)


def table(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per level with at least one IMP ticket: weights remaining, each arm's mean test accuracy
    [95% t interval] in points, the paired differences of :data:`PAIRS` over the seeds both
    arms have (empty where fewer than two seeds), and, where the rows carry ``correct``, the
    McNemar p-values of each pair, seed by seed."""
    out = []
    for level in sorted({r["level"] for r in rows if r["source"] == "imp"}):
        density = next(r["density"] for r in rows if r["level"] == level and r["source"] == "imp")
        entry: dict[str, Any] = {"level": level, "weights remaining": f"{100 * density:.1f}%"}
        for arm in ("dense", *ARMS):
            accs = list(_by_seed(rows, level, arm).values())
            entry[arm] = _cell(t_interval(accs)) if len(accs) >= 2 else ""
            entry[f"{arm} seeds"] = len(accs)
        for a, b in PAIRS:
            first, second = _by_seed(rows, level, a), _by_seed(rows, level, b)
            seeds = sorted(set(first) & set(second))
            test = (paired_difference([first[s] for s in seeds], [second[s] for s in seeds])
                    if len(seeds) >= 2 else None)
            entry[f"{a} - {b}"] = _cell(None if test is None else test.difference, True)
            if all("correct" in r for r in rows):
                first, second = (_by_seed(rows, level, arm, "correct") for arm in (a, b))
                entry[f"{a} vs {b} McNemar p"] = " ".join(
                    f"{mcnemar(first[s], second[s]).pvalue:.2g}" for s in seeds)
        out.append(entry)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table of the given ``--json`` row files as Markdown."""
    from tabulate import tabulate

    paths = list(sys.argv[1:] if argv is None else argv)
    if not paths:
        print("usage: python -m verify.ticket_table ROWS.jsonl [ROWS.jsonl ...]", file=sys.stderr)
        return 2
    entries = table(read_rows(paths))
    print(tabulate(entries, headers="keys", tablefmt="github"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
