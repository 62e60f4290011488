"""Every notebook runs at smoke scale and writes each output its manifest declares."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from verify.figures import notebook_names, run_notebooks
from verify.plotting import MANIFEST_SUFFIX, read_manifest

NAMES = notebook_names()


@pytest.fixture(scope="module")
def smoke_outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Execute all notebooks once at smoke scale into a temporary figures root."""
    root = tmp_path_factory.mktemp("figures")
    run_notebooks("smoke", root, runs_dir=root / "runs", progress=False, timeout=600)
    return root


@pytest.mark.parametrize("name", NAMES)
def test_notebook_writes_its_declared_outputs(smoke_outputs: Path, name: str) -> None:
    out = smoke_outputs / "smoke"
    manifest = read_manifest(out / f"{name}{MANIFEST_SUFFIX}")
    assert manifest["notebook"] == name and manifest["scale"] == "smoke"
    kinds = {o["kind"] for o in manifest["outputs"]}
    assert kinds == {"figure", "table"}
    for output in manifest["outputs"]:
        expected = {"figure": ["png", "pdf"], "table": ["csv", "md"]}[output["kind"]]
        assert output["files"] == [f"{output['name']}.{ext}" for ext in expected]
        for file in output["files"]:
            assert (out / file).stat().st_size > 0, file
        assert output["caption"] and output["seeds"]
        if output["kind"] == "table":
            frame = pd.read_csv(out / f"{output['name']}.csv")
            assert set(output["columns"]) <= set(frame.columns)
            assert len(frame) > 0
        if "hash" in output["columns"]:
            assert output["run_hashes"] == sorted(set(frame["hash"].astype(str)))


def test_index_names_every_output(smoke_outputs: Path) -> None:
    readme = (smoke_outputs / "README.md").read_text()
    for path in (smoke_outputs / "smoke").glob(f"*{MANIFEST_SUFFIX}"):
        assert f"[smoke/{path.name}](smoke/{path.name})" in readme  # the runs' hashes are there
        for output in read_manifest(path)["outputs"]:
            assert f"(smoke/{output['files'][0]})" in readme
            assert not any(h in readme for h in output["run_hashes"])


def test_sweep_footers_name_the_varied_setting(smoke_outputs: Path) -> None:
    manifest = read_manifest(smoke_outputs / "smoke" / f"constructions{MANIFEST_SUFFIX}")
    data = {o["name"]: o["data"] for o in manifest["outputs"]}
    assert data["constructions_width_vs_eps"].endswith("; eps varied")
    assert "eps=" not in data["constructions_width_vs_eps"]
    assert re.search(r"depth \d", data["constructions_width_vs_eps"])
    assert not re.search(r"depth \d", data["constructions_width_vs_depth"])
    assert "-wide" not in data["constructions_width_vs_target_width"]


STUDY_FIGURES = ("mpt_depth", "mpt_width", "mpt_mnist5k", "lth_accuracy", "lth_early_stop",
                 "width_depth_accuracy_grid")
INTERVAL_TABLES = {"mpt_best_vs_dense": "gap", "mpt_mnist5k_best_vs_dense": "gap",
                   "lth_summary": "difference", "width_depth_vs_dense": "gap"}


def test_study_figures_and_tables_are_readable(smoke_outputs: Path) -> None:
    """The study figures are at most about 2:1 (mpt_width.png was 4.8:1); the comparative
    tables give each run's test-set size, and at smoke scale (one seed) say that there is no
    interval instead of printing one."""
    from PIL import Image

    from verify.comparisons import NO_INTERVAL

    out = smoke_outputs / "smoke"
    for name in STUDY_FIGURES:
        width, height = Image.open(out / f"{name}.png").size
        assert width / height <= 2.1, (name, width, height)
    for name, stem in INTERVAL_TABLES.items():
        frame = pd.read_csv(out / f"{name}.csv")
        paired = frame[frame[stem].notna()]
        assert len(paired) and (paired[f"{stem}_ci95"] == NO_INTERVAL).all(), name
        assert (frame["test_size"] > 0).all() and paired["mcnemar_p"].between(0, 1).all()
