"""Execute the notebooks headless at a scale and index what they wrote.

Notebooks live in ``notebooks/<name>.py`` (jupytext percent format). Each has one cell tagged
``parameters`` (papermill's convention) assigning ``SCALE``, ``OUT_DIR``, ``RUNS_DIR`` and
``DATA_DIR``; :func:`inject_parameters` adds a cell right after it that re-assigns the values of
this run, so the notebook file itself always runs as it stands (``SCALE = "smoke"``). The notebook
writes its figures and tables through :class:`verify.plotting.Outputs`, which leaves a manifest
``<out>/<scale>/<name>.manifest.json``; :func:`write_index` gathers every manifest into
``<out>/README.md``: each figure and table, the notebook and scale that made it, its seeds, data and
the run-store hashes behind it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from verify.cli.common import UserError
from verify.plotting import MANIFEST_SUFFIX, atomic_write, markdown_table, read_manifest
from verify.scales import DISK_DATASETS, STUDIES, check_scale, datasets_of

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
#: Order in which ``tickets figures`` runs the notebooks (theory first; others follow by name).
ORDER = ("subset_sum", "constructions", "mpt", "lth", "width_depth")
PARAMETERS_TAG = "parameters"
#: Intra-op threads of every notebook kernel, and the variables that set them.
FIGURE_THREADS = 1
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
INJECTED_TAG = "injected-parameters"


class NotebookError(UserError):
    """A notebook failed; the message names the notebook and the failing cell in one line."""


def notebook_names(directory: str | os.PathLike = NOTEBOOK_DIR) -> list[str]:
    """Names (file stems) of the jupytext notebooks in ``directory``, in :data:`ORDER` first."""
    names = sorted(p.stem for p in Path(directory).glob("*.py") if not p.stem.startswith("_"))
    return [n for n in ORDER if n in names] + [n for n in names if n not in ORDER]


def load_notebook(path: str | os.PathLike) -> Any:
    """Read a jupytext percent-format ``.py`` file as an ``nbformat`` notebook."""
    import jupytext

    return jupytext.read(Path(path), fmt="py:percent")


def _parameters_cell(nb: Any) -> int:
    for index, cell in enumerate(nb.cells):
        if PARAMETERS_TAG in cell.get("metadata", {}).get("tags", []):
            return index
    raise ValueError("it has no cell tagged 'parameters' (add `# %% tags=[\"parameters\"]`)")


def inject_parameters(nb: Any, params: Mapping[str, Any]) -> Any:
    """Insert a cell assigning ``params`` right after the cell tagged ``parameters``.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The notebook (modified in place and returned).
    params : mapping
        Variable name -> value (written with ``repr``: str, numbers, None, lists).
        Every name must be assigned in the parameters cell (catches typos).

    Returns
    -------
    nbformat.NotebookNode
    """
    import nbformat

    index = _parameters_cell(nb)
    source = nb.cells[index].source
    assigned = {line.split("=")[0].strip() for line in source.splitlines() if "=" in line}
    unknown = sorted(set(params) - assigned)
    if unknown:
        raise ValueError(f"its parameters cell does not define {', '.join(unknown)}")
    lines = [f"{name} = {value!r}" for name, value in params.items()]
    cell = nbformat.v4.new_code_cell("# Injected by verify.figures\n" + "\n".join(lines),
                                     metadata={"tags": [INJECTED_TAG]})
    nb.cells.insert(index + 1, cell)
    return nb


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return lines[0] if lines else ""


def failure_message(name: str, nb: Any, index: int, ename: str, evalue: str) -> str:
    """``notebook NAME failed in cell N (`first line`): Error: message`` (one line).

    ``N`` counts the cells of the notebook file from 1, the injected parameters cell excluded.
    """
    injected = sum(1 for c in nb.cells[:index]
                   if INJECTED_TAG in c.get("metadata", {}).get("tags", []))
    source = _first_line(nb.cells[index].source)
    return (f"notebook {name} failed in cell {index + 1 - injected} (`{source}`): "
            f"{ename}: {_first_line(evalue)}")


def execute_notebook(path: str | os.PathLike, params: Mapping[str, Any],
                     on_cell: Callable[[], Any] | None = None, timeout: int | None = None) -> Any:
    """Execute a notebook file cell by cell in a fresh kernel, with ``params`` injected.

    Parameters
    ----------
    path : path
        ``notebooks/<name>.py``.
    params : mapping
        Values for the parameters cell.
    on_cell : callable, optional
        Called after each code cell (a progress bar's update).
    timeout : int, optional
        Seconds per cell (default: none).

    Returns
    -------
    nbformat.NotebookNode
        The executed notebook.

    Raises
    ------
    NotebookError
        One line naming the notebook, the failing cell and the error.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path = Path(path)
    name = path.stem
    try:
        nb = inject_parameters(load_notebook(path), params)
    except ValueError as err:
        raise NotebookError(f"notebook {name}: {err}") from None
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    # The kernel's own stderr carries only start-up chatter; cell output comes over iopub.
    # One intra-op thread: the numbers of the committed figures must not depend on the core
    # count of the machine that regenerates them (see verify.plotting.compute_threads).
    env = {**os.environ, **{v: str(FIGURE_THREADS) for v in THREAD_VARIABLES}}
    with client.setup_kernel(stderr=subprocess.DEVNULL, env=env):
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as err:
                raise NotebookError(failure_message(name, nb, index, err.ename, err.evalue)
                                    ) from None
            except (CellTimeoutError, DeadKernelError) as err:
                raise NotebookError(failure_message(name, nb, index, type(err).__name__,
                                                    str(err))) from None
            if on_cell is not None:
                on_cell()
    return nb


def check_data(names: Sequence[str], scale: str, data_dir: str | os.PathLike | None) -> None:
    """Raise :class:`UserError` if a notebook needs on-disk data at ``scale`` and none is there.

    Parameters
    ----------
    names : sequence of str
        Notebooks to run (a notebook named like a study of :data:`verify.scales.STUDIES` needs
        that study's datasets).
    scale : str
        The scale.
    data_dir : path or None
        The data directory.
    """
    for name in names:
        if name not in STUDIES:
            continue
        needed = [d for d in datasets_of(name, scale) if d in DISK_DATASETS]
        if needed and (data_dir is None or not Path(data_dir).is_dir()):
            where = f"{data_dir} does not exist" if data_dir else "no --data-dir was given"
            raise UserError(f"notebook {name} at scale {scale} needs {', '.join(needed)} on "
                            f"disk, but {where} (give --data-dir DIR holding the datasets)")


def run_notebooks(scale: str, out_root: str | os.PathLike = "paper_figures",
                  names: Sequence[str] | None = None, runs_dir: str | os.PathLike | None = None,
                  data_dir: str | os.PathLike | None = None,
                  notebook_dir: str | os.PathLike = NOTEBOOK_DIR, progress: bool = True,
                  timeout: int | None = None) -> list[Path]:
    """Execute notebooks at ``scale`` into ``out_root/<scale>/`` and rewrite the index.

    Parameters
    ----------
    scale : str
        ``smoke``, ``cpu`` or ``paper``.
    out_root : path
        The figures root (``paper_figures``).
    names : sequence of str, optional
        Notebooks to run (default: all in ``notebook_dir``).
    runs_dir, data_dir : path, optional
        Run store root (default ``$TICKETS_RUNS`` or ``./runs`` of the caller, the store
        ``tickets train`` uses; finished runs are reused) and dataset directory.
    notebook_dir : path
        Where the ``.py`` notebooks are.
    progress : bool
        Show a progress bar over all code cells (tqdm, on stderr).
    timeout : int, optional
        Seconds per cell.

    Returns
    -------
    list of Path
        The manifests written, one per notebook.
    """
    from tqdm.auto import tqdm

    from empirical.config.hparams import default_runs_dir

    check_scale(scale)
    available = notebook_names(notebook_dir)
    chosen = list(names) if names else available
    unknown = [n for n in chosen if n not in available]
    if unknown:
        raise UserError(f"unknown notebook {unknown[0]!r}; choose one of {', '.join(available)}")
    check_data(chosen, scale, data_dir)
    out_dir = Path(out_root).resolve() / scale
    params = {"SCALE": scale, "OUT_DIR": str(out_dir),
              # resolved here: the kernel runs in notebook_dir, the user's ./runs is the caller's
              "RUNS_DIR": str(default_runs_dir(runs_dir).resolve()),
              "DATA_DIR": str(Path(data_dir).resolve()) if data_dir else None}
    paths = [Path(notebook_dir) / f"{n}.py" for n in chosen]
    total = sum(sum(c.cell_type == "code" for c in load_notebook(p).cells) + 1 for p in paths)
    manifests = []
    with tqdm(total=total, desc="notebooks", unit="cell", disable=not progress) as bar:
        for path in paths:
            bar.set_description(f"{path.stem} ({scale})")
            execute_notebook(path, params, on_cell=bar.update, timeout=timeout)
            manifest = out_dir / f"{path.stem}{MANIFEST_SUFFIX}"
            if not manifest.exists():
                raise NotebookError(f"notebook {path.stem} finished without writing {manifest} "
                                    "(call outputs.finish() in its last cell)")
            manifests.append(manifest)
    write_index(out_root)
    return manifests


def _code_list(items: Sequence[Any]) -> str:
    return ", ".join(f"`{i}`" for i in items) if items else "-"


def write_index(out_root: str | os.PathLike = "paper_figures") -> Path:
    """Write ``out_root/README.md`` indexing every manifest under ``out_root/<scale>/``.

    Parameters
    ----------
    out_root : path
        The figures root.

    Returns
    -------
    Path
        The README written.
    """
    root = Path(out_root)
    sections = [
        "# Paper figures\n",
        "Generated by `tickets figures --scale SCALE` (or `--only NAME`), which executes the "
        "jupytext notebooks in `notebooks/` headless and reuses finished runs from the run store. "
        "Do not edit by hand: this index is rewritten from the manifests "
        "`SCALE/NAME.manifest.json` each notebook writes.\n",
    ]
    columns = ["output", "kind", "files", "notebook", "seeds", "data", "run hashes", "caption"]
    for scale_dir in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        manifests = sorted(scale_dir.glob(f"*{MANIFEST_SUFFIX}"))
        if not manifests:
            continue
        rows = []
        for path in manifests:
            manifest = read_manifest(path)
            for out in manifest["outputs"]:
                files = [f"[{f}]({scale_dir.name}/{f})" for f in out["files"]]
                rows.append([out["name"], out["kind"], ", ".join(files),
                             f"`notebooks/{manifest['notebook']}.py`",
                             ",".join(str(s) for s in out["seeds"]) or "-", out["data"] or "-",
                             _code_list(out["run_hashes"]), out["caption"].replace("\n", " ")])
        sections.append(f"## Scale `{scale_dir.name}`\n")
        sections.append(markdown_table(columns, rows))
    text = "\n".join(sections)
    atomic_write(root / "README.md", lambda h: h.write(text))
    return root / "README.md"
