"""The command line answers --version, --help and argument errors without importing torch: the
names its flags offer come from torch-free places (:mod:`empirical.vocabulary`, the model registry,
the export header), each equal to the registry of the torch code that implements the names."""

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
print("torch" in sys.modules, "sympy" in sys.modules, code, file=sys.stderr)
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
    "train help": (["train", "--help"], 0),
    "biprop help": (["train", "biprop", "--help"], 0),
    "dense help": (["train", "dense", "--help"], 0),
    "lth help": (["train", "lth", "--help"], 0),
    "pai help": (["train", "pai", "--help"], 0),
    "stability help": (["train", "stability", "--help"], 0),
    "verify help": (["verify", "--help"], 0),
    "construct help": (["verify", "construct", "--help"], 0),
    "trained help": (["verify", "trained", "--help"], 0),
    "export help": (["export", "--help"], 0),
    "not a number": (["train", "biprop", "--lr", "abc"], 2),
    "unknown flag": (["train", "biprop", "--bogus"], 2),
    "unknown model": (["train", "biprop", "--model", "nope"], 2),
    "unknown mask rule": (["train", "edge-popup", "--mask-rule", "nope"], 2),
    "unknown init": (["train", "lth", "--init", "nope"], 2),
    "unknown criterion": (["train", "pai", "--criterion", "nope", "--density", "0.5"], 2),
    "unknown layout": (["export", "RUN", "--out", "x.safetensors", "--layout", "nope"], 2),
    "unknown construction": (["verify", "construct", "--method", "nope"], 2),
    "sweep help": (["verify", "sweep", "--help"], 0),
}


LOADS_THE_CONSTRUCTIONS = {"trained help"}
"""Cases that import the construction modules (and so scipy and sympy, 1 s of CPU): ``verify
trained`` offers the constructions of some families, which only their modules say; every other
``--method`` lists the names declared in ``theory.constructions.registry.MODULES``."""


@pytest.mark.parametrize("case", list(CASES))
def test_no_torch_before_the_work(case: str) -> None:
    argv, code = CASES[case]
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True)
    sympy = str(case in LOADS_THE_CONSTRUCTIONS)
    assert done.stderr.split()[-3:] == ["False", sympy, str(code)], done.stderr


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture) -> None:
    from verify.cli.main import main

    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert all(f"{name} {help_}" in text for name, help_ in COMMANDS.items())


def test_the_torch_free_names_are_the_registries() -> None:
    """Every torch-free list of names equals the registry of the classes or builders that
    implement them, in the same order."""
    import torch

    from empirical import init, layers, vocabulary
    from empirical.algorithms.criteria import criterion_names
    from empirical.export.header import LAYOUTS, VALUE_DTYPE_NAMES
    from empirical.export.layouts import VALUE_DTYPES
    from empirical.mask_rules import MASK_RULES
    from empirical.models import MODEL_NAMES, build
    from empirical.models.registry import MODELS
    from empirical.sparse_source import LAYOUT_DENSITIES

    assert tuple(MASK_RULES) == vocabulary.MASK_RULE_NAMES
    assert tuple(LAYOUT_DENSITIES) == vocabulary.SOURCE_LAYOUTS
    assert criterion_names() == tuple(vocabulary.CRITERION_SOURCES)
    assert all(isinstance(VALUE_DTYPES[n], torch.dtype) for n in VALUE_DTYPE_NAMES)
    assert tuple(VALUE_DTYPES) == VALUE_DTYPE_NAMES and len(LAYOUTS) == 3
    assert init.INITS is vocabulary.INITS and layers.SCORE_MODES is vocabulary.SCORE_MODES
    assert MODEL_NAMES == tuple(MODELS) and build.MODELS is MODELS
    assert all(callable(MODELS[name].build) for name in MODEL_NAMES)
