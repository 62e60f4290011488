"""Execute the notebooks headless at a scale and index what they wrote.

Notebooks live in ``notebooks/<name>.py`` (jupytext percent format). Each has one cell tagged
``parameters`` (papermill's convention) assigning ``SCALE``, ``OUT_DIR``, ``RUNS_DIR`` and
``DATA_DIR``; :func:`inject_parameters` has papermill add the cell tagged
``injected-parameters`` after it that re-assigns the values of this run, so the notebook file
itself always runs as it stands (``SCALE = "smoke"``). The cells are then executed with nbclient
(the library papermill itself drives) rather than ``papermill.execute_notebook``: a progress bar
counts cells over all notebooks of a ``tickets figures`` call, a failure is reported in one line
naming the cell as numbered in the ``.py`` file, the kernel's start-up chatter on stderr is
dropped, and the kernel gets the environment below, none of which papermill's executor offers.

``tickets figures`` authorises its output directory through
:data:`verify.notebook_paths.PUBLISH_ENV` in the kernel's environment: only then does a notebook
write into ``paper_figures/<scale>/`` (any other run writes ``paper_figures/scratch/<scale>/``).
The notebook writes its figures and tables through :class:`verify.plotting.Outputs`, which leaves
a manifest ``<out>/<scale>/<name>.manifest.json``; :func:`write_index` gathers every manifest
into ``<out>/README.md``: each figure and table, the notebook and scale that made it, its seeds,
data and the number of run-store runs behind it (their hashes stay in the manifest, which the
index links).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from empirical import instruction_set
from empirical.data import dataset_spec
from empirical.errors import InputError
from empirical.progress import progress_bar
from verify.notebook_paths import FIGURES_ROOT, PUBLISH_ENV
from verify.notebook_paths import runs_dir as resolve_runs_dir
from verify.plotting import (
    MANIFEST_SUFFIX,
    atomic_write,
    format_seeds,
    markdown_table,
    read_manifest,
)
from verify.scales import SCALES, STUDIES, check_scale, datasets_of

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
#: Order in which ``tickets figures`` runs the notebooks (theory first; others follow by name).
ORDER = ("subset_sum", "constructions", "mpt", "lth", "width_depth")
PARAMETERS_TAG = "parameters"
#: Intra-op threads of every notebook kernel, and the variables that set them.
FIGURE_THREADS = 1
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
INJECTED_TAG = "injected-parameters"
KERNEL_NAME = "python3"
LANGUAGE = "python"


class NotebookError(RuntimeError):
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
    """Have papermill insert the cell assigning ``params`` right after the ``parameters`` cell.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The notebook.
    params : mapping
        Variable name -> value (str, numbers, None, lists; papermill's Python translator writes
        them). Every name must be assigned in the parameters cell (catches typos; papermill only
        warns).

    Returns
    -------
    nbformat.NotebookNode
        The notebook with a cell tagged ``injected-parameters`` (replacing an earlier one).
    """
    import nbformat
    from papermill.parameterize import parameterize_notebook
    from papermill.translators import papermill_translators

    index = _parameters_cell(nb)
    translator = papermill_translators.find_translator(KERNEL_NAME, LANGUAGE)
    assigned = {p.name for p in translator.inspect(nb.cells[index])}
    unknown = sorted(set(params) - assigned)
    if unknown:
        raise ValueError(f"its parameters cell does not define {', '.join(unknown)}")
    if "papermill" not in nb.metadata:
        nb.metadata["papermill"] = nbformat.from_dict({"parameters": {}})
    for cell in nb.cells:  # papermill reads every cell's tags (as its own notebook loader adds)
        cell.metadata.setdefault("tags", [])
    return parameterize_notebook(nb, dict(params), kernel_name=KERNEL_NAME, language=LANGUAGE,
                                 comment="Parameters injected by tickets figures")


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
                     on_cell: Callable[[], Any] | None = None, timeout: int | None = None,
                     env: Mapping[str, str] | None = None) -> Any:
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
    env : mapping, optional
        Extra environment variables of the kernel (``tickets figures`` passes
        :data:`verify.notebook_paths.PUBLISH_ENV`).

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
    client = NotebookClient(nb, timeout=timeout, kernel_name=KERNEL_NAME,
                            resources={"metadata": {"path": str(path.parent)}})
    # The kernel's own stderr carries only start-up chatter; cell output comes over iopub.
    # One intra-op thread: the numbers of the committed figures must not depend on the core
    # count of the machine that regenerates them (see verify.plotting.compute_threads).
    # The pinned instruction sets (empirical.instruction_set) come with os.environ.
    kernel_env = {**os.environ, **{v: str(FIGURE_THREADS) for v in THREAD_VARIABLES},
                  **instruction_set.DETERMINISTIC_CUDA, **(env or {})}
    with client.setup_kernel(stderr=subprocess.DEVNULL, env=kernel_env):
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


def chosen_notebooks(names: Sequence[str] | None, notebook_dir: str | os.PathLike = NOTEBOOK_DIR
                     ) -> list[str]:
    """``names`` as a list, or every notebook of ``notebook_dir`` if empty; InputError for a name
    that is no notebook there."""
    available = notebook_names(notebook_dir)
    chosen = list(names) if names else available
    unknown = [n for n in chosen if n not in available]
    if unknown:
        raise InputError("unknown notebook {got!r}; choose one of {choices}", got=unknown[0],
                         choices=", ".join(available))
    return chosen


def check_data(names: Sequence[str], scale: str, data_dir: str | os.PathLike | None) -> None:
    """Raise :class:`InputError` if a notebook needs on-disk data at ``scale`` and none is there.

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
        needed = [d for d in datasets_of(name, scale) if dataset_spec(d).on_disk]
        if needed and (data_dir is None or not Path(data_dir).is_dir()):
            where = ("{data_dir} {path} does not exist" if data_dir else
                     "no {data_dir} was given (the directory holding the datasets)")
            raise InputError("notebook {name} at scale {scale} needs {needed} on disk, but "
                             + where, name=name, scale=scale, needed=", ".join(needed),
                             path=data_dir)


def run_notebooks(scale: str, out_root: str | os.PathLike | None = None,
                  names: Sequence[str] | None = None, runs_dir: str | os.PathLike | None = None,
                  data_dir: str | os.PathLike | None = None,
                  notebook_dir: str | os.PathLike = NOTEBOOK_DIR, progress: bool = True,
                  timeout: int | None = None) -> list[Path]:
    """Execute notebooks at ``scale`` into ``out_root/<scale>/`` and rewrite the index.

    Parameters
    ----------
    scale : str
        ``smoke``, ``cpu`` or ``paper``.
    out_root : path, optional
        The figures root (default: the repository's ``paper_figures``); ``out_root/<scale>`` is
        the one directory the notebooks are authorised to write.
    names : sequence of str, optional
        Notebooks to run (default: all in ``notebook_dir``).
    runs_dir, data_dir : path, optional
        Run store root (default :func:`verify.notebook_paths.runs_dir`: ``$TICKETS_RUNS`` or the
        repository's ``runs/``, the store a notebook opened by hand uses too; finished runs are
        reused) and dataset directory.
    notebook_dir : path
        Where the ``.py`` notebooks are.
    progress : bool
        Show progress over all code cells on stderr (:func:`empirical.progress.progress_bar`:
        a bar on a terminal, a line per interval in a log).
    timeout : int, optional
        Seconds per cell.

    Returns
    -------
    list of Path
        The manifests written, one per notebook.
    """
    check_scale(scale)
    chosen = chosen_notebooks(names, notebook_dir)
    check_data(chosen, scale, data_dir)
    out_root = Path(out_root).resolve() if out_root is not None else FIGURES_ROOT
    if out_root == FIGURES_ROOT and instruction_set.MODE in ("native", "late"):
        raise InputError(f"the committed figures are made with pinned instruction sets; unset "
                         f"{instruction_set.NATIVE_ENV} (or give --out DIR to explore)")
    out_dir = out_root / scale
    # resolved here: the kernel runs in notebook_dir, relative paths are the caller's
    params = {"SCALE": scale, "OUT_DIR": str(out_dir), "RUNS_DIR": str(resolve_runs_dir(runs_dir)),
              "DATA_DIR": str(Path(data_dir).resolve()) if data_dir else None}
    paths = [Path(notebook_dir) / f"{n}.py" for n in chosen]
    total = sum(sum(c.cell_type == "code" for c in load_notebook(p).cells) + 1 for p in paths)
    manifests = []
    bar = progress_bar(total, desc="notebooks", unit="cell", enabled=progress)
    with contextlib.closing(bar) if bar is not None else contextlib.nullcontext():
        for path in paths:
            if bar is not None:
                bar.set_description(f"{path.stem} ({scale})")
            execute_notebook(path, params, on_cell=bar.update if bar is not None else None,
                             timeout=timeout, env={PUBLISH_ENV: str(out_dir)})
            manifest = out_dir / f"{path.stem}{MANIFEST_SUFFIX}"
            if not manifest.exists():
                raise NotebookError(f"notebook {path.stem} finished without writing {manifest} "
                                    "(call outputs.finish() in its last cell)")
            manifests.append(manifest)
    write_index(out_root)
    return manifests


def made_on(manifests: Sequence[Mapping[str, Any]]) -> str:
    """``Made on`` lines of a scale: each distinct machine and software
    (:func:`empirical.instruction_set.describe` of the manifests' ``environment``) with the
    notebooks made there."""
    made: dict[str, list[str]] = {}
    for manifest in manifests:
        line = instruction_set.describe(manifest.get("environment"))
        made.setdefault(line, []).append(f"`{manifest['notebook']}`")
    return "\n".join(f"Made on {line}: {', '.join(names)}." for line, names in made.items()
                     ) + "\n"


SHARED_SENTENCE_CHARS = 160
"""A caption sentence at least this long that recurs in several captions of one notebook is
stated once, as a note of its section; a shorter one reads better in place."""
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")


def sentences(caption: str) -> list[str]:
    """The sentences of ``caption`` (split where ``.``, ``!`` or ``?`` is followed by space and a
    capital or an opening parenthesis), whitespace collapsed."""
    return [" ".join(part.split()) for part in _SENTENCE_END.split(caption.strip()) if part]


def shared_notes(captions: Mapping[str, str]) -> dict[str, list[str]]:
    """The long sentences (:data:`SHARED_SENTENCE_CHARS`) found in two or more of ``captions``
    (output name -> caption), each with the outputs whose captions hold it, in order of first
    appearance."""
    notes: dict[str, list[str]] = {}
    for name, caption in captions.items():
        for sentence in dict.fromkeys(sentences(caption)):
            if len(sentence) >= SHARED_SENTENCE_CHARS:
                notes.setdefault(sentence, []).append(name)
    return {sentence: names for sentence, names in notes.items() if len(names) > 1}


def notebook_section(manifest_path: Path, manifest: Mapping[str, Any]) -> list[str]:
    """The index section of one notebook's manifest: a table of its outputs (files, seeds, data,
    the number of run-store runs behind each), the link to the manifest holding the runs' hashes,
    each output's caption, and each long sentence several captions share stated once as a
    numbered note that those captions cite (:func:`shared_notes`)."""
    import pandas as pd

    scale = manifest_path.parent.name
    outputs = manifest["outputs"]
    rows = [[out["name"], out["kind"],
             ", ".join(f"[{f}]({scale}/{f})" for f in out["files"]),
             format_seeds(out["seeds"]), out["data"] or "-", len(out["run_hashes"])]
            for out in outputs]
    table = pd.DataFrame(rows, columns=["output", "kind", "files", "seeds", "data", "runs"])
    notes = shared_notes({out["name"]: out["caption"] for out in outputs})
    number = {sentence: i for i, sentence in enumerate(notes, 1)}
    lines = []
    for out in outputs:
        own = [t for t in sentences(out["caption"]) if t not in number]
        cited = [str(number[t]) for t in dict.fromkeys(sentences(out["caption"])) if t in number]
        see = f"See note{'s' * (len(cited) > 1)} {', '.join(cited)}." if cited else ""
        lines.append(f"- **{out['name']}**: {' '.join([*own, see]).strip()}")
    if notes:
        lines += ["", "Notes shared by several captions:", ""]
        lines += [f"{number[t]}. ({', '.join(names)}) {t}" for t, names in notes.items()]
    runs = ("The run-store hashes behind each output (column runs) are in "
            f"[{scale}/{manifest_path.name}]({scale}/{manifest_path.name}).\n")
    return [f"### `notebooks/{manifest['notebook']}.py` at scale `{scale}`\n",
            markdown_table(table), runs, "\n".join(lines) + "\n"]


def write_index(out_root: str | os.PathLike | None = None) -> Path:
    """Write ``out_root/README.md`` indexing every manifest under ``out_root/<scale>/``, from the
    manifests alone (no notebook runs): ``write_index()`` rewrites the repository's index.

    Per scale: the machines and software its manifests were made on (:func:`made_on`); per
    notebook: :func:`notebook_section` (outputs, run counts, the manifest's link, captions and
    their shared notes; the run hashes stay in the manifests). Only directories named after a
    scale (:data:`verify.scales.SCALES`) are indexed; the scratch directory of exploration runs
    is not.

    Parameters
    ----------
    out_root : path, optional
        The figures root (default: the repository's ``paper_figures``).

    Returns
    -------
    Path
        The README written.
    """
    root = Path(out_root) if out_root is not None else FIGURES_ROOT
    sections = [
        "# Paper figures\n",
        "Generated by `tickets figures --scale SCALE` (or `--only NAME`), which executes the "
        "jupytext notebooks in `notebooks/` headless and reuses finished runs from the run store. "
        "Do not edit by hand: this index is rewritten from the manifests "
        "`SCALE/NAME.manifest.json` each notebook writes. A notebook opened by hand writes "
        "`scratch/SCALE/` instead (git-ignored, not indexed; see `docs/notebooks.md`).\n",
    ]
    for scale_dir in [root / s for s in sorted(SCALES) if (root / s).is_dir()]:
        manifests = sorted(scale_dir.glob(f"*{MANIFEST_SUFFIX}"))
        if manifests:
            sections.append(f"## Scale `{scale_dir.name}`\n")
            sections.append(made_on([read_manifest(p) for p in manifests]))
        for path in manifests:
            sections += notebook_section(path, read_manifest(path))
    text = "\n".join(sections)
    atomic_write(root / "README.md", lambda h: h.write(text))
    return root / "README.md"
