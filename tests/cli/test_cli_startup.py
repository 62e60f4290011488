"""The command line answers --version, --help and argument errors without importing torch (where
its flags do not come from the torch-side registries)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from verify.cli.main import COMMANDS

PROBE = """
import sys
from verify.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit_:
    code = exit_.code
print("torch" in sys.modules, code, file=sys.stderr)
"""
CASES = {
    "version": (["--version"], 0),
    "help": (["--help"], 0),
    "bench help": (["bench", "lth", "--help"], 0),
    "figures help": (["figures", "--help"], 0),
    "models help": (["models", "--help"], 0),
    "eval help": (["eval", "--help"], 0),
    "bad command": (["trian"], 2),
    "bad bench flag": (["bench", "lth", "--steps", "0"], 2),
}
"""The commands that load no torch. ``train`` and ``verify`` build their flags from the
hyperparameter dataclasses, whose choices come from the torch-side registries of models, layers
and mask rules, so they load torch (2 s of CPU) before parsing."""

@pytest.mark.parametrize("case", list(CASES))
def test_no_torch_before_the_work(case: str) -> None:
    argv, code = CASES[case]
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True)
    assert done.stderr.split()[-2:] == ["False", str(code)], done.stderr


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture) -> None:
    from verify.cli.main import main

    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert all(f"{name} {help_}" in text for name, help_ in COMMANDS.items())
