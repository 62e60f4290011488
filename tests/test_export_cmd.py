"""``tickets export --out``: an output that cannot be written is refused before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from verify.cli.main import main


@pytest.mark.parametrize(("out", "problem"), [
    (".", "--out '.': give a file name, not a directory"),
    ("", "--out '': give a file name, not a directory"),
    ("/proc/x.safetensors", "--out /proc/x.safetensors: cannot write in /proc ("),
    ("{tmp}/missing/x.safetensors", "--out {tmp}/missing/x.safetensors: folder {tmp}/missing "
                                    "does not exist"),
])
def test_unwritable_out_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture,
                                           out: str, problem: str) -> None:
    out, problem = out.format(tmp=tmp_path), problem.format(tmp=tmp_path)
    # the run does not exist either: --out is checked first, before the run is looked up
    assert main(["export", "0123456789abcdef", "--runs-dir", str(tmp_path), "--out", out]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"tickets export: error: {problem}")
    assert list(tmp_path.iterdir()) == []
