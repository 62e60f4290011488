"""``tickets export --out``: an output that cannot be written is refused before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from verify.cli.main import main


@pytest.mark.parametrize(("out", "problem"), [
    (".", "argument --out: . is a directory; name a file"),
    ("", "argument --out: empty path"),
    ("/proc/x.safetensors", "argument --out: cannot write in /proc"),
    ("{tmp}/missing/x.safetensors", "argument --out: folder {tmp}/missing does not exist"),
])
def test_unwritable_out_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture,
                                           out: str, problem: str) -> None:
    out, problem = out.format(tmp=tmp_path), problem.format(tmp=tmp_path)
    # the run does not exist either: --out is checked first, before the run is looked up
    with pytest.raises(SystemExit) as exit_:
        main(["export", "0123456789abcdef", "--runs-dir", str(tmp_path), "--out", out])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"tickets export: error: {problem}")
    assert list(tmp_path.iterdir()) == []
