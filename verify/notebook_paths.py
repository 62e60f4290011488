"""Where a notebook writes its outputs and which run store it reads: one answer for every caller.

Two rules, so that opening a notebook by hand (Jupyter, jupytext) and ``tickets figures`` behave
alike and exploring never damages what is committed:

- **One run store.** :func:`runs_dir` resolves ``RUNS_DIR = None`` to ``$TICKETS_RUNS``, else to
  ``runs/`` at the repository root, whatever the working directory (a Jupyter kernel runs in
  ``notebooks/``, where a cwd-relative ``./runs`` would be a second, empty store).
  ``tickets figures`` resolves its default the same way.
- **Committed figures are written only by ``tickets figures``.** The committed outputs live in
  ``paper_figures/<scale>/`` and are indexed by ``paper_figures/README.md``. ``tickets figures``
  authorises exactly one output directory by setting :data:`PUBLISH_ENV` in the notebook kernel's
  environment; any other run that would write into ``paper_figures/`` (a notebook opened by hand,
  its widths changed, or executed with papermill) is redirected to
  ``paper_figures/scratch/<scale>/`` (git-ignored, never indexed) and prints where its files went.
  Directories outside ``paper_figures/`` (a temporary directory, ``tickets figures --out``) are
  written as given.

Only :func:`runs_dir` imports ``empirical`` (and so torch), when called: a theory notebook that
writes outputs stays free of torch (its manifest records ``threads: null``).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The committed figures root (``paper_figures/``).
FIGURES_ROOT = REPO_ROOT / "paper_figures"
#: Where exploration runs write (git-ignored; :func:`verify.figures.write_index` skips it).
SCRATCH_ROOT = FIGURES_ROOT / "scratch"
#: Environment variable through which ``tickets figures`` authorises one output directory.
PUBLISH_ENV = "TICKETS_FIGURES_OUT"


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def runs_dir(requested: str | os.PathLike | None = None) -> Path:
    """The run store a notebook or ``tickets figures`` uses, as an absolute path.

    Parameters
    ----------
    requested : path, optional
        An explicit store (``RUNS_DIR`` of a notebook, ``--runs-dir``); relative paths are taken
        from the current directory.

    Returns
    -------
    Path
        ``requested``, else ``$TICKETS_RUNS``, else ``<repository>/runs``: the resolution of
        :func:`empirical.config.hparams.default_runs_dir` with the repository root in place of
        the working directory.
    """
    from empirical.config.hparams import DEFAULT_RUNS_DIR, RUNS_ENV, default_runs_dir

    if requested or os.environ.get(RUNS_ENV):
        return default_runs_dir(requested or None).resolve()
    return REPO_ROOT / DEFAULT_RUNS_DIR


def committed_dir(scale: str) -> Path:
    """``paper_figures/<scale>``: the committed outputs of a scale."""
    return FIGURES_ROOT / scale


def scratch_dir(scale: str) -> Path:
    """``paper_figures/scratch/<scale>``: where exploration at ``scale`` writes."""
    return SCRATCH_ROOT / scale


def output_dir(scale: str, requested: str | os.PathLike | None = None) -> tuple[Path, bool]:
    """The directory a notebook writes into, and whether it is the scratch directory.

    Parameters
    ----------
    scale : str
        The notebook's scale.
    requested : path, optional
        ``OUT_DIR`` of the notebook (relative to the current directory); None means the committed
        ``paper_figures/<scale>``.

    Returns
    -------
    (Path, bool)
        ``requested`` (resolved) if it lies outside ``paper_figures/`` or is the directory that
        ``tickets figures`` authorised through :data:`PUBLISH_ENV`; else
        (``paper_figures/scratch/<scale>``, True).
    """
    target = Path(requested).resolve() if requested else committed_dir(scale)
    if not _inside(target, FIGURES_ROOT) or _inside(target, SCRATCH_ROOT):
        return target, False
    authorised = os.environ.get(PUBLISH_ENV)
    if authorised and Path(authorised).resolve() == target:
        return target, False
    return scratch_dir(scale), True
