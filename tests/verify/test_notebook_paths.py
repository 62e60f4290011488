"""Where notebooks write and which run store they read (verify/notebook_paths.py), by hand and
from ``tickets figures``."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from empirical.config.hparams import RUNS_ENV
from verify import notebook_paths
from verify.figures import execute_notebook
from verify.notebook_paths import PUBLISH_ENV, output_dir, runs_dir
from verify.plotting import Outputs


@pytest.fixture
def figures_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in for the repository's paper_figures/ (and its scratch/)."""
    root = tmp_path / "repo" / "paper_figures"
    monkeypatch.setattr(notebook_paths, "FIGURES_ROOT", root)
    monkeypatch.setattr(notebook_paths, "SCRATCH_ROOT", root / "scratch")
    monkeypatch.delenv(PUBLISH_ENV, raising=False)
    return root


def test_by_hand_the_committed_directory_becomes_scratch(figures_root: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = figures_root / "scratch" / "cpu"
    assert output_dir("cpu") == (scratch, True)
    assert output_dir("cpu", figures_root / "cpu") == (scratch, True)
    # the old notebooks' default, relative to the kernel's cwd notebooks/
    (figures_root.parent / "notebooks").mkdir(parents=True)
    monkeypatch.chdir(figures_root.parent / "notebooks")
    assert output_dir("cpu", "../paper_figures/cpu") == (scratch, True)
    # another scale's directory, or the root itself, is protected as well
    assert output_dir("cpu", figures_root) == (scratch, True)


def test_only_the_authorised_directory_is_written(figures_root: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PUBLISH_ENV, str(figures_root / "smoke"))
    assert output_dir("smoke") == (figures_root / "smoke", False)
    assert output_dir("smoke", figures_root / "smoke") == (figures_root / "smoke", False)
    assert output_dir("cpu") == (figures_root / "scratch" / "cpu", True)


def test_directories_outside_paper_figures_are_written_as_given(figures_root: Path,
                                                                tmp_path: Path) -> None:
    assert output_dir("smoke", tmp_path / "mine") == (tmp_path / "mine", False)
    scratch = figures_root / "scratch" / "smoke"
    assert output_dir("smoke", scratch) == (scratch, False)


def test_outputs_prints_where_files_go(figures_root: Path, capsys) -> None:
    outputs = Outputs("nb", "smoke", None, figures=[], tables={"t": ["a"]})
    assert outputs.scratch and outputs.out_dir == figures_root / "scratch" / "smoke"
    line = capsys.readouterr().out
    assert line.count("\n") == 1 and "scratch" in line and "tickets figures --scale smoke" in line
    assert not (figures_root / "smoke").exists()


def test_one_run_store_whatever_the_working_directory(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RUNS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    repo_runs = Path(notebook_paths.__file__).resolve().parents[1] / "runs"
    assert runs_dir() == repo_runs
    monkeypatch.chdir(Path(notebook_paths.__file__).resolve().parents[1] / "notebooks")
    assert runs_dir(None) == repo_runs
    monkeypatch.setenv(RUNS_ENV, str(tmp_path / "store"))
    assert runs_dir() == tmp_path / "store"
    assert runs_dir("rel") == (Path.cwd() / "rel").resolve()


NOTEBOOK = '''\
# %% tags=["parameters"]
SCALE = "smoke"
OUT_DIR = None
RUNS_DIR = None
DATA_DIR = None

# %%
from verify.notebook_paths import runs_dir
from verify.plotting import Outputs
outputs = Outputs("{name}", SCALE, OUT_DIR, figures=[], tables={{}})
print("store", runs_dir(RUNS_DIR))
outputs.finish()
'''


def test_notebook_run_by_hand_writes_scratch_and_reads_the_repository_store(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end in a kernel: the defaults by hand, as Jupyter would run the notebook."""
    monkeypatch.delenv(RUNS_ENV, raising=False)
    monkeypatch.delenv(PUBLISH_ENV, raising=False)
    name = f"paths_probe_{tmp_path.name}"
    path = tmp_path / f"{name}.py"
    path.write_text(NOTEBOOK.format(name=name))
    scratch = notebook_paths.SCRATCH_ROOT / "smoke"
    committed = notebook_paths.FIGURES_ROOT / "smoke" / f"{name}.manifest.json"
    try:
        nb = execute_notebook(path, {"OUT_DIR": str(notebook_paths.FIGURES_ROOT / "smoke")})
        text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                       for o in c.get("outputs", []))
        assert f"-> {scratch} (scratch" in text
        assert f"store {notebook_paths.REPO_ROOT / 'runs'}" in text
        assert (scratch / f"{name}.manifest.json").exists() and not committed.exists()
    finally:
        (scratch / f"{name}.manifest.json").unlink(missing_ok=True)
        committed.unlink(missing_ok=True)


STORE_NOTEBOOK = '''\
# %% tags=["parameters"]
SCALE = "smoke"
OUT_DIR = None
RUNS_DIR = None
DATA_DIR = None

# %%
import os

import pandas as pd
from verify.plotting import Outputs
outputs = Outputs("store", SCALE, OUT_DIR, figures=[], tables={"t": ["runs", "publish"]})
outputs.table(pd.DataFrame({"runs": [RUNS_DIR], "publish": [os.environ["TICKETS_FIGURES_OUT"]]}),
              "t", "where", [0])
outputs.finish()
'''


def test_tickets_figures_injects_the_same_store_and_authorises_its_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    from verify.figures import run_notebooks

    monkeypatch.delenv(RUNS_ENV, raising=False)
    (tmp_path / "nbs").mkdir()
    (tmp_path / "nbs" / "store.py").write_text(STORE_NOTEBOOK)
    monkeypatch.chdir(tmp_path)  # a cwd-relative ./runs would be tmp_path/runs
    run_notebooks("smoke", "figs", notebook_dir=tmp_path / "nbs", progress=False)
    row = pd.read_csv(tmp_path / "figs" / "smoke" / "store_t.csv").iloc[0]
    assert row["runs"] == str(notebook_paths.REPO_ROOT / "runs")
    assert row["publish"] == str(tmp_path / "figs" / "smoke")


NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-.0123456789", min_size=1, max_size=8).filter(
    lambda n: n not in {".", ".."})


@given(st.lists(NAMES, min_size=0, max_size=3), st.sampled_from(["smoke", "cpu", "paper"]))
def test_every_path_is_protected_scratch_or_outside(parts: list[str], scale: str) -> None:
    """Unauthorised: any path under paper_figures/ but outside scratch/ is redirected; scratch/
    and siblings such as paper_figures_old/ are written as given."""
    root = notebook_paths.FIGURES_ROOT
    inside = root.joinpath(*parts)
    expected = (inside, False) if parts[:1] == ["scratch"] else (root / "scratch" / scale, True)
    sibling = root.parent / f"{root.name}{parts[0] if parts else '_old'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(PUBLISH_ENV, raising=False)
        assert output_dir(scale, inside) == expected
        if sibling != root:
            assert output_dir(scale, sibling) == (sibling, False)
