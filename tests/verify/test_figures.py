"""Tests of the notebook runner, the output writers and the README index (verify/figures.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from verify.cli.main import main
from verify.figures import (
    NotebookError,
    check_data,
    execute_notebook,
    failure_message,
    inject_parameters,
    load_notebook,
    notebook_names,
    sentences,
    write_index,
)
from verify.plotting import Outputs, format_seeds, markdown_table, read_manifest
from verify.scales import SCALES, STUDIES, get_scale

NOTEBOOK = '''\
# %% [markdown]
# # A tiny notebook

# %% tags=["parameters"]
SCALE = "smoke"
OUT_DIR = None
RUNS_DIR = None
DATA_DIR = None

# %%
import pandas as pd
from verify.plotting import Outputs
outputs = Outputs("tiny", SCALE, OUT_DIR, figures=[], tables={"t": ["a", "b"]})

# %%
frame = pd.DataFrame({"a": [1, 2], "b": [0.5, 0.25]})
{body}
outputs.finish()
'''


def write_notebook(directory: Path, body: str = "outputs.table(frame, 't', 'cap', [0])") -> Path:
    path = directory / "tiny.py"
    path.write_text(NOTEBOOK.replace("{body}", body))
    return path


def test_inject_parameters_after_the_tagged_cell(tmp_path: Path) -> None:
    nb = inject_parameters(load_notebook(write_notebook(tmp_path)), {"SCALE": "cpu",
                                                                    "OUT_DIR": "/x"})
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    injected = nb.cells[index + 1]
    assert injected.metadata["tags"] == ["injected-parameters"]
    assert 'SCALE = "cpu"' in injected.source and 'OUT_DIR = "/x"' in injected.source
    # injecting again replaces papermill's cell instead of adding a second one
    nb = inject_parameters(nb, {"SCALE": "paper"})
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata["tags"]]
    assert len(injected) == 1 and 'SCALE = "paper"' in injected[0].source
    assert "OUT_DIR" not in injected[0].source


def test_inject_rejects_unknown_names_and_missing_cell(tmp_path: Path) -> None:
    nb = load_notebook(write_notebook(tmp_path))
    with pytest.raises(ValueError, match="does not define SCALEE"):
        inject_parameters(nb, {"SCALEE": "cpu"})
    bare = tmp_path / "bare.py"
    bare.write_text("# %%\nx = 1\n")
    with pytest.raises(ValueError, match="tagged 'parameters'"):
        inject_parameters(load_notebook(bare), {"SCALE": "cpu"})


def test_failure_message_is_one_line_and_counts_file_cells(tmp_path: Path) -> None:
    nb = inject_parameters(load_notebook(write_notebook(tmp_path)), {"SCALE": "cpu"})
    last = len(nb.cells) - 1
    message = failure_message("tiny", nb, last, "ValueError", "bad value\nmore detail")
    assert message == ("notebook tiny failed in cell 4 (`frame = pd.DataFrame({\"a\": [1, 2], "
                       "\"b\": [0.5, 0.25]})`): ValueError: bad value")


def test_execute_writes_manifest_and_failing_cell_is_named(tmp_path: Path) -> None:
    path = write_notebook(tmp_path)
    ticks: list[int] = []
    execute_notebook(path, {"SCALE": "smoke", "OUT_DIR": str(tmp_path / "out")},
                     on_cell=lambda: ticks.append(1))
    assert len(ticks) == 4  # three code cells + the injected one
    manifest = read_manifest(tmp_path / "out" / "tiny.manifest.json")
    assert manifest["outputs"][0]["files"] == ["tiny_t.csv", "tiny_t.md"]
    assert pd.read_csv(tmp_path / "out" / "tiny_t.csv").columns.tolist() == ["a", "b"]
    broken = write_notebook(tmp_path, body="raise RuntimeError('boom')")
    expected = r"^notebook tiny failed in cell 4 .*RuntimeError: boom$"
    with pytest.raises(NotebookError, match=expected):
        execute_notebook(broken, {"SCALE": "smoke", "OUT_DIR": str(tmp_path / "out")})


def test_outputs_check_declarations(tmp_path: Path) -> None:
    outputs = Outputs("nb", "smoke", tmp_path, figures=["f"], tables={"t": ["a"]})
    with pytest.raises(ValueError, match="was not declared"):
        outputs.table(pd.DataFrame({"a": [1]}), "other", "cap", [0])
    with pytest.raises(ValueError, match="lacks columns"):
        outputs.table(pd.DataFrame({"b": [1]}), "t", "cap", [0])
    outputs.table(pd.DataFrame({"a": [1.23456]}), "t", "cap", [0], run_hashes=["h2", "h1"])
    with pytest.raises(ValueError, match=r"did not write \['f'\]"):
        outputs.finish()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    outputs.figure(fig, "f", "a line", [1, 0], run_hashes=["abc"], data="synthetic")
    manifest = read_manifest(outputs.finish())
    by_name = {o["name"]: o for o in manifest["outputs"]}
    assert by_name["nb_f"]["seeds"] == [0, 1] and by_name["nb_t"]["run_hashes"] == ["h1", "h2"]
    for name in ("nb_f.png", "nb_f.pdf", "nb_t.csv", "nb_t.md"):
        assert (tmp_path / name).stat().st_size > 0
    assert "| 1.235 |" in (tmp_path / "nb_t.md").read_text()


def test_markdown_table() -> None:
    frame = pd.DataFrame({"x": [1, 2.345678], "y": [None, True], "z": ["a|b", "c"]})
    assert markdown_table(frame) == (
        "| x     | y   | z    |\n"
        "|:------|:----|:-----|\n"
        "| 1     | -   | a\\|b |\n"
        "| 2.346 | yes | c    |\n")


def test_index_counts_runs_and_links_the_manifest_with_their_hashes(tmp_path: Path) -> None:
    for scale in ("smoke", "cpu"):
        outputs = Outputs("nb", scale, tmp_path / scale, figures=[], tables={"t": ["a"]})
        outputs.table(pd.DataFrame({"a": [1]}), "t", f"caption {scale}", [3],
                      run_hashes=["0123456789abcdef", "fedcba9876543210"], data="digits")
        outputs.finish()
    text = write_index(tmp_path).read_text()
    assert "## Scale `cpu`" in text and "## Scale `smoke`" in text
    assert "[nb_t.csv](smoke/nb_t.csv)" in text and "0123456789abcdef" not in text
    assert "| digits | 2      |" in text  # the runs column
    assert "are in [smoke/nb.manifest.json](smoke/nb.manifest.json)." in text
    assert "0123456789abcdef" in (tmp_path / "smoke" / "nb.manifest.json").read_text()
    assert "`notebooks/nb.py`" in text and "caption cpu" in text


def test_a_long_sentence_shared_by_captions_is_one_note(tmp_path: Path) -> None:
    shared = "Bounds: " + "x" * 200 + "."
    outputs = Outputs("nb", "smoke", tmp_path / "smoke", figures=[],
                      tables={"a": ["v"], "b": ["v"], "c": ["v"]})
    for name, caption in (("a", f"First of a. {shared}"), ("b", f"{shared} Last of b."),
                          ("c", "Short. Short.")):
        outputs.table(pd.DataFrame({"v": [1]}), name, caption, [0])
    outputs.finish()
    text = write_index(tmp_path).read_text()
    assert text.count(shared) == 1
    assert "- **nb_a**: First of a. See note 1." in text
    assert "- **nb_b**: Last of b. See note 1." in text
    assert f"1. (nb_a, nb_b) {shared}" in text
    assert "- **nb_c**: Short. Short." in text  # a short repeat stays in place
    assert sentences("One (a.b). Two: x? (Three.)") == ["One (a.b).", "Two: x?", "(Three.)"]


def test_scales_cover_every_study() -> None:
    for study in STUDIES:
        assert all(get_scale(study, s) is not None for s in SCALES)
    with pytest.raises(ValueError, match="unknown scale"):
        get_scale("mpt", "huge")


def test_paper_scale_without_data_is_one_line_exit_2(tmp_path: Path, capsys) -> None:
    with pytest.raises(Exception, match="needs cifar10 on disk"):
        check_data(["mpt"], "paper", tmp_path / "missing")
    check_data(["subset_sum"], "paper", None)
    try:
        code = main(["figures", "--scale", "paper", "--only", "mpt", "--data-dir",
                     str(tmp_path / "missing"), "--out", str(tmp_path)])
    except SystemExit as exit_:  # argparse refuses the missing --data-dir itself
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("tickets figures: error:")


def test_cli_unknown_notebook_and_failing_notebook(tmp_path: Path, capsys) -> None:
    assert main(["figures", "--only", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown notebook 'nope'" in capsys.readouterr().err


def test_repository_notebooks_are_listed() -> None:
    names = notebook_names()
    assert names[:5] == ["subset_sum", "constructions", "mpt", "lth", "width_depth"]
    for name in names:
        text = (Path(__file__).parents[2] / "notebooks" / f"{name}.py").read_text()
        assert 'tags=["parameters"]' in text and "outputs.finish()" in text
        assert json.dumps(name) in text  # the notebook names itself in its Outputs


def test_format_seeds_compacts_ranges() -> None:
    assert format_seeds([3, 0, 1, 2, 7, 9, 8]) == "0-3,7-9"
    assert format_seeds([5]) == "5"
    assert format_seeds([]) == "-"


FIGURE_NOTEBOOK = '''\
# %% tags=["parameters"]
SCALE = "smoke"
OUT_DIR = None
RUNS_DIR = None
DATA_DIR = None

# %%
import matplotlib.pyplot as plt
from verify.plotting import Outputs
outputs = Outputs("pic", SCALE, OUT_DIR, figures=["f"], tables={})
fig, ax = plt.subplots()
ax.plot([0, 1], [1, 0])
outputs.figure(fig, "f", "a line", [0])
outputs.finish()
'''


def test_figures_show_inline_in_a_kernel(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MPLBACKEND", raising=False)  # a Jupyter kernel's default backend
    path = tmp_path / "pic.py"
    path.write_text(FIGURE_NOTEBOOK)
    nb = execute_notebook(path, {"OUT_DIR": str(tmp_path / "out")})
    shown = [o for o in nb.cells[-1].outputs if o.output_type == "display_data"]
    assert len(shown) == 1 and "image/png" in shown[0].data  # once: the figure is closed after
    assert (tmp_path / "out" / "pic_f.png").stat().st_size > 0


def test_index_skips_scratch_and_lists_captions(tmp_path: Path) -> None:
    for where in ("smoke", "scratch/smoke", "scratch"):  # OUT_DIR=paper_figures/scratch too
        outputs = Outputs("nb", "smoke", tmp_path / where, figures=[], tables={"t": ["a"]})
        outputs.table(pd.DataFrame({"a": [1]}), "t", f"caption in {where}", [0, 1, 2, 5],
                      run_hashes=["feedbeef"])
        outputs.finish()
    text = write_index(tmp_path).read_text()
    assert "caption in smoke" in text and "caption in scratch" not in text
    assert "- **nb_t**: caption in smoke" in text and "feedbeef" not in text
    assert "| 0-2,5 " in text and "### `notebooks/nb.py` at scale `smoke`" in text


def test_selection_controls_call_back_with_the_selection() -> None:
    from verify.notebook_controls import selection_controls

    calls = []
    box = selection_controls({"depths": [2, 3, 4], "widths": [16, 64]},
                             {"depths": [3], "widths": [64, 16]},
                             lambda **chosen: calls.append(chosen))
    lists, button, _ = box.children
    assert calls == []  # nothing runs until the button is pressed (headless runs stay as they are)
    lists.children[0].value = (4, 2)
    button.click()
    assert calls == [{"depths": [2, 4], "widths": [16, 64]}]


def test_selection_controls_without_ipywidgets(monkeypatch, capsys) -> None:
    import sys

    from verify.notebook_controls import MISSING_LINE, selection_controls

    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import fails as if not installed
    assert selection_controls({"depths": [2]}, {"depths": [2]}, print) is None
    assert capsys.readouterr().out == MISSING_LINE + "\n"
