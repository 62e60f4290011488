"""``tickets figures --check``: regenerate into scratch and report every number that moved.

:func:`check_figures` executes the notebooks of a scale into a scratch figures root with a fresh
run store (every run is trained again, nothing is read back), then compares each table the
notebooks wrote with the committed one (:func:`table_differences`): cell by cell, as the CSV
files spell them, so a change in the last bit of a float is reported. A committed figure is
drawn from its tables; its PNG/PDF bytes are not compared.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from verify.figures import NOTEBOOK_DIR, run_notebooks
from verify.notebook_paths import FIGURES_ROOT
from verify.plotting import read_manifest


def _read(path: Path) -> list[list[str]]:
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def table_differences(name: str, committed: Path, regenerated: Path) -> list[str]:
    """Every cell of CSV table ``regenerated`` that differs from ``committed``, one line each.

    Parameters
    ----------
    name : str
        The table's name (printed).
    committed, regenerated : Path
        The two CSV files.

    Returns
    -------
    list of str
        ``table NAME: row R (KEY), column C: committed X, regenerated Y`` for each differing
        cell, where ``KEY`` is the row's first cell; a changed header or row count is one line.
        Empty when the tables are equal.
    """
    if not committed.exists():
        return [f"table {name}: not committed ({committed})"]
    old, new = _read(committed), _read(regenerated)
    if not old or not new or old[0] != new[0]:
        return [f"table {name}: columns changed: committed {old[0] if old else []}, "
                f"regenerated {new[0] if new else []}"]
    header = old[0]
    lines = []
    for row, (before, after) in enumerate(zip(old[1:], new[1:], strict=False), start=1):
        for column, x, y in zip(header, before, after, strict=False):
            if x != y:
                lines.append(f"table {name}: row {row} ({before[0]}), column {column}: "
                             f"committed {x}, regenerated {y}")
    if len(old) != len(new):
        lines.append(f"table {name}: committed {len(old) - 1} rows, regenerated {len(new) - 1}")
    return lines


def check_figures(scale: str, names: Sequence[str] | None = None,
                  committed_root: str | os.PathLike | None = None,
                  scratch_root: str | os.PathLike | None = None,
                  runs_dir: str | os.PathLike | None = None,
                  data_dir: str | os.PathLike | None = None,
                  notebook_dir: str | os.PathLike = NOTEBOOK_DIR, progress: bool = True,
                  timeout: int | None = None) -> list[str]:
    """Regenerate ``scale`` into scratch and list every table number that differs.

    Parameters
    ----------
    scale : str
        The scale.
    names : sequence of str, optional
        Notebooks to check (default: all).
    committed_root : path, optional
        The committed figures root (default: the repository's ``paper_figures``).
    scratch_root : path, optional
        Where to regenerate (default: a temporary directory, removed afterwards).
    runs_dir : path, optional
        Run store (default: a fresh temporary one, so that every run is trained again).
    data_dir : path, optional
        Dataset directory.
    notebook_dir : path
        Where the ``.py`` notebooks are.
    progress : bool
        Show the notebooks' progress bar.
    timeout : int, optional
        Seconds per cell.

    Returns
    -------
    list of str
        One line per differing number (:func:`table_differences`), table by table; empty when
        every regenerated table equals the committed one.
    """
    committed = Path(committed_root) if committed_root is not None else FIGURES_ROOT
    with tempfile.TemporaryDirectory(prefix="tickets-check-") as temporary:
        scratch = Path(scratch_root) if scratch_root is not None else Path(temporary) / "figures"
        runs = runs_dir if runs_dir is not None else Path(temporary) / "runs"
        manifests = run_notebooks(scale, scratch, names=names, runs_dir=runs, data_dir=data_dir,
                                  notebook_dir=notebook_dir, progress=progress, timeout=timeout)
        lines = []
        for manifest in manifests:
            for output in read_manifest(manifest)["outputs"]:
                if output["kind"] != "table":
                    continue
                csv_name = next(f for f in output["files"] if f.endswith(".csv"))
                lines += table_differences(output["name"], committed / scale / csv_name,
                                           manifest.parent / csv_name)
    return lines
