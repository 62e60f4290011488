"""User mistakes the CLI refuses: one line naming the flag, exit status 2, nothing written or run.

Each row is a command line and a fragment its error line must hold. Commands that would train get
``--runs-dir runs --device cpu --epochs 1`` so that any work done would leave files behind.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from empirical.data import DATASET_NAMES
from verify.cli.main import main

TRAIN = ["--runs-dir", "runs", "--device", "cpu", "--epochs", "1"]
README = Path(__file__).resolve().parents[2] / "README.md"
CASES: dict[str, tuple[list[str], str]] = {
    # memory guards: the estimate is in the message
    "construct width": (["verify", "construct", "--method", "pensia", "--width", "1000000000"],
                        "--width 1000000000 --depth 2 --eps 0.1 needs about "),
    "mpt-binary eps": (["verify", "construct", "--method", "mpt-binary", "--eps", "1e-12"],
                       "--method mpt-binary with --width 2 --depth 2 --eps 1e-12 needs about "),
    "subset-sum n eps": (["verify", "subset-sum", "--n", "60", "--eps", "1e-12"],
                         "--n 60 --eps 1e-12 --seeds 50 needs about "),
    "subset-sum seeds": (["verify", "subset-sum", "--seeds", "1000000000000"],
                         "--seeds 1000000000000 needs about "),
    "train widths": (["train", "dense", "--widths", "1000000000", *TRAIN],
                     "training fc (--model, --widths, --width-mult, --batch-size) needs about "),
    "train width-mult": (["train", "dense", "--model", "conv4", "--dataset", "mnist1d",
                          "--width-mult", "1e9", *TRAIN], "--width-mult, --batch-size) needs "),
    "lth widths": (["train", "lth", "--widths", "1000000000", *TRAIN], "--widths, --width-mult"),
    "bench subset-sum": (["bench", "subset-sum", "--n-weights", "1e12"],
                         "--n-weights 1000000000000 with --summands 21 needs about "),
    "bench train": (["bench", "train", "--model", "conv4", "--batch-size", "1000000"],
                    "--model conv4 with --batch-size 1000000 needs about "),
    # outputs checked first
    "sweep out dir": (["verify", "sweep", "--method", "pensia", "--vary", "width", "--out",
                       "existing"], "argument --out: existing is a directory"),
    "sweep out proc": (["verify", "sweep", "--method", "pensia", "--vary", "width", "--out",
                        "/proc/x.csv"], "argument --out: cannot write in /proc"),
    "export out dot": (["export", "abc", "--out", "."], "argument --out: . is a directory"),
    "export out empty": (["export", "abc", "--out", ""], "argument --out: empty path"),
    "export out proc": (["export", "abc", "--out", "/proc/x.safetensors"],
                        "argument --out: cannot write in /proc"),
    "figures out proc": (["figures", "--out", "/proc/x"], "argument --out: cannot write in /proc"),
    "eval not a ticket": (["eval", str(README)], "README.md is not a ticket file"),
    "eval directory": (["eval", "existing"], "existing is a directory: no ticket file"),
    "bench subset-sum memory": (["bench", "subset-sum", "--n-weights", "100000000"],
                                "--n-weights 100000000 with --summands 21 needs about "),
    "adam nesterov": (["train", "dense", "--optimizer", "adam", "--nesterov", *TRAIN],
                      "--nesterov applies to --optimizer sgd only, not adam"),
    "lth levels": (["train", "lth", "--levels", "100000", *TRAIN],
                   "--levels 100000: from level 43 on no level prunes a weight"),
    "absent cuda": (["train", "dense", "--device", "cuda:7", "--runs-dir", "runs"],
                    "requested but"),
    "absent cuda lth": (["train", "lth", "--device", "cuda:7", "--runs-dir", "runs"],
                        "requested but"),
    # refused before the run's lock file is made (it was left behind)
    "val size": (["train", "biprop", "--val-size", "100000", *TRAIN],
                 "--val-size must lie in [0, 1438): the training split has 1438 examples"),
    "lth val size": (["train", "lth", "--val-size", "100000", "--levels", "1", *TRAIN],
                     "--val-size must lie in [0, 1438)"),
    # accepted silently before
    "depth values": (["verify", "sweep", "--method", "pensia", "--vary", "depth", "--values",
                      "2.5"], "--values: depth values must be integers, got 2.5"),
    "width values": (["verify", "sweep", "--method", "pensia", "--vary", "width", "--values",
                      "2"], "--values is not used with --vary width"),
    "empty width": (["train", "dense", "--widths", "32,,32", *TRAIN],
                    "argument --widths: empty item in '32,,32'"),
    "momentum": (["train", "dense", "--momentum", "5", *TRAIN],
                 "argument --momentum: must lie in [0, 1), got 5"),
    "workers": (["train", "dense", "--num-workers", "-1", *TRAIN],
                "argument --num-workers: must be >= 0, got -1"),
    "empty runs dir": (["train", "dense", "--runs-dir=", "--device", "cpu"],
                       "argument --runs-dir: empty path"),
    "one-shot levels": (["train", "lth", "--one-shot", "0.5", "--levels", "3", *TRAIN],
                        "--one-shot prunes once: it takes no --levels"),
    "figures timeout": (["figures", "--timeout", "-5"], "argument --timeout: must be >= 1"),
    # refused only after level 0 trained before
    "rate levels": (["train", "lth", "--rate", "1", "--levels", "2", *TRAIN],
                    "prune rate 1.0 with --levels 2 leaves 0 weights in layers.1 at level 1"),
    "rewind": (["train", "lth", "--rewind", "1000ep", "--levels", "1", *TRAIN],
               "--rewind 1000ep (step 11000) lies beyond the 11 training steps"),
    # unclear before
    "negative train seed": (["train", "dense", "--seed", "-1", *TRAIN],
                            "argument --seed: must be >= 0, got -1"),
    "negative verify seed": (["verify", "construct", "--method", "pensia", "--seed", "-1"],
                             "argument --seed: must be >= 0, got -1"),
    "23-digit seed": (["train", "dense", "--seed", "12345678901234567890123", *TRAIN],
                      "argument --seed: must be < 2**63"),
    "long runs dir": (["train", "dense", "--runs-dir", "x" * 300, "--device", "cpu"],
                      "argument --runs-dir: the name xxxxxxxxxxxxxxxxxxxx... has 300 bytes"),
    "control seed": (["train", "lth", "--control-seed", "-3", *TRAIN],
                     "argument --control-seed: must be >= 0"),
    "tensorboard": (["train", "dense", "--tensorboard", *TRAIN],
                    "--tensorboard needs the tensorboard package"),
    "lth tensorboard": (["train", "lth", "--tensorboard", "--levels", "1", *TRAIN],
                        "--tensorboard needs the tensorboard package"),
    **{f"data dir {name}": (["train", "dense", "--dataset", name, "--data-dir", "/nonexistent",
                             *TRAIN], "argument --data-dir: /nonexistent is not an existing "
                                      "directory")
       for name in DATASET_NAMES},
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_one_line_exit_2_nothing_written(case: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture) -> None:
    argv, fragment = CASES[case]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TICKETS_MEMORY_LIMIT", "16G")
    monkeypatch.delenv("TICKETS_RUNS", raising=False)
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # not installed
    (tmp_path / "existing").mkdir()
    assert not Path("/nonexistent").exists()
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse
        code = exit_.code
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert fragment in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing"]
    assert not list((tmp_path / "existing").iterdir())


def test_integer_flags_take_scientific_notation() -> None:
    from verify.cli.common import positive_int

    assert positive_int("1e3") == 1000 and positive_int("12") == 12
    for text in ("2.5", "1e-3", "nan", "inf", "x"):
        with pytest.raises(Exception, match="is not an integer"):
            positive_int(text)


@given(st.integers())
def test_seed_flag_accepts_exactly_the_signed_64_bit_range(value: int) -> None:
    from verify.cli.common import seed

    if 0 <= value < 2**63:
        assert seed(str(value)) == value
    else:
        with pytest.raises(argparse.ArgumentTypeError, match="must be"):
            seed(str(value))


@given(st.integers(min_value=0, max_value=30), st.integers(min_value=1, max_value=9))
def test_integral_scientific_notation(exponent: int, mantissa: int) -> None:
    from verify.cli.common import nonnegative_int

    assert nonnegative_int(f"{mantissa}e{exponent}") == mantissa * 10**exponent


def test_a_run_directory_is_no_ticket_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "hparams.json").write_text("{}")
    with pytest.raises(SystemExit) as exit_:
        main(["eval", str(tmp_path)])
    assert exit_.value.code == 2
    assert "is a run directory; write its ticket file with tickets export" in \
        capsys.readouterr().err
