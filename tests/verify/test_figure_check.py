"""``tickets figures --check`` (verify/figure_check.py): every moved number is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from verify.cli.main import main
from verify.figure_check import check_figures, table_differences

NOTEBOOK = '''\
# %% tags=["parameters"]
SCALE = "smoke"
OUT_DIR = None
RUNS_DIR = None
DATA_DIR = None

# %%
import pandas as pd
from verify.plotting import Outputs
outputs = Outputs("tiny", SCALE, OUT_DIR, figures=[], tables={"t": ["name", "value"]})
outputs.table(pd.DataFrame({"name": ["x", "y"], "value": [0.1 + 0.2, 2.5]}), "t", "cap", [0])
outputs.finish()
'''


def test_planted_difference_is_reported(tmp_path: Path) -> None:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "tiny.py").write_text(NOTEBOOK)
    committed = tmp_path / "committed" / "smoke"
    committed.mkdir(parents=True)
    table = committed / "tiny_t.csv"
    # the regenerated table holds 0.30000000000000004: the committed one differs in its last bit
    table.write_text("name,value\nx,0.3\ny,2.5\n")
    lines = check_figures("smoke", committed_root=tmp_path / "committed",
                          notebook_dir=tmp_path / "notebooks", progress=False)
    assert lines == ["table tiny_t: row 1 (x), column value: committed 0.3, "
                     "regenerated 0.30000000000000004"]
    table.write_text("name,value\nx,0.30000000000000004\ny,2.5\n")
    assert check_figures("smoke", committed_root=tmp_path / "committed",
                         notebook_dir=tmp_path / "notebooks", progress=False) == []


def test_table_differences_names_shape_changes(tmp_path: Path) -> None:
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    old.write_text("a,b\n1,2\n")
    new.write_text("a,b\n1,2\n3,4\n")
    assert table_differences("t", old, new) == ["table t: committed 1 rows, regenerated 2"]
    new.write_text("a,c\n1,2\n")
    assert table_differences("t", old, new)[0].startswith("table t: columns changed")
    assert table_differences("t", tmp_path / "none.csv", new)[0].startswith(
        "table t: not committed")


def test_check_with_an_executor_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["figures", "--check", "--executor", "local"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "drop --executor" in err
