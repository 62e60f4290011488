"""Every ``tickets`` command of the README runs, and its example output is what the command prints.

The README's ``bash`` blocks are read line by line (continuations joined, comments dropped); each
``tickets ...`` command (or ``torchrun ... -m verify.cli.main ...``) must be in exactly one class:

- ``QUICK``: run as written, in-process, with a temporary run store (default suite);
- ``NEEDS_DATA``: read MNIST or CIFAR-10 from ``~/data``; run as written with ``~/data`` an empty
  directory: exit 2 and one error line naming the dataset directory, before any training;
- ``SLOW``: run as written under ``-m slow`` (``figures`` with ``--out`` a temporary folder, the
  only change);
- ``EXPORT``: the packed-ticket block, run in order under ``-m slow`` with ``RUN_HASH`` the hash
  of the README's quick biprop run;
- ``PARSE_ONLY``: the paper-scale regeneration (GPUs and every dataset on disk).

Every command, whatever its class, is parsed by the real parser in the default suite, so a
missing required flag or a renamed one fails at once. A command added to the README fails
:func:`test_every_command_is_classified` until it is put in a class.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Sequence
from pathlib import Path

import pytest

from theory.constructions import FULLY_CONNECTED, constructions
from verify.cli.main import build_parser, main
from verify.cli.verify_cmd import DEFAULT_COLUMNS

README = Path(__file__).resolve().parents[2] / "README.md"
QUICK_TRAIN = "tickets train biprop --model fc --widths 256 --dataset digits --epochs 5"
QUICK = {
    "tickets verify",
    "tickets verify subset-sum --n 4..16 --seeds 50 --eps 1e-2,1e-3",
    "tickets verify construct --method pensia --width 4 --depth 2 --eps 0.1 --seed 0",
    "tickets verify construct --method depth-plus-one --depth 3",
    "tickets verify sweep --method pensia --vary width --json",
    "tickets verify planted --planted pensia --search edge-popup,imp --keep planted,0.5 "
    "--epochs 3",
    QUICK_TRAIN,
    "tickets train biprop --preset mnist1d-biprop --show-config",
    "tickets --version",
}
NEEDS_DATA = {
    "tickets train lth --model lenet-300-100 --dataset mnist --data-dir ~/data",
    "tickets train lth --model resnet20 --dataset cifar10 --data-dir ~/data --rewind 500it",
    "torchrun --nproc_per_node 8 -m verify.cli.main train biprop --preset resnet18-mpt-1/32 "
    "--data-dir ~/data",
}
SLOW = {
    "tickets figures --scale smoke",
    "tickets figures --scale smoke --only trained_tickets --only planted_tickets",
    "tickets verify trained --dataset mnist5k --widths 500 --optimizer adam --lr 1e-3 --schedule "
    "constant --epochs 20 --block-size 42 --max-summands 21",
    "tickets train biprop --model conv4 --dataset mnist1d --keep 0.2 --epochs 20",
    "tickets train edge-popup --preset mnist1d-edge-popup",
    "tickets train dense --model fc --widths 512,512 --dataset digits",
    "tickets train lth --preset mnist1d-lth --levels 10 --rate 0.2 --control reinit",
    "tickets train dense --preset mnist1d-cnn-dense",
    "tickets train lth --preset mnist5k-lth --levels 15 --control reinit,random-prune",
    "tickets train pai --preset mnist5k-lth --criterion synflow --density 0.05 --ablation "
    "shuffle,invert",
    "tickets train lth --preset digits-lth --levels 3 --rewind 2it --schedule cosine --control "
    "lr-rewind,finetune,invert",
    "tickets train stability --preset mnist5k-lth --level 3 --points 31",
    "tickets bench subset-sum",
    "tickets bench train --model conv4,resnet18",
    "tickets bench lth",
    "tickets bench gpu",
    "tickets figures --scale cpu --only mpt",
    "tickets models --dataset cifar10",
}
EXPORT = [
    "tickets export RUN_HASH --out ticket.safetensors",
    "tickets export RUN_HASH --out ticket.safetensors --layout seed-only",
    "tickets export RUN_HASH --out ticket.onnx --layout onnx",
    "tickets eval ticket.safetensors",
    "tickets bench export",
]
PARSE_ONLY = {"tickets figures --scale paper --data-dir ~/data"}
FLOAT_COLUMNS = ("sup_error", "error_bound")


def readme_commands(text: str) -> list[list[str]]:
    """The command lines (as tokens) of the ``bash`` blocks of ``text``, in order.

    Continuation lines are joined, ``#`` comments dropped, ``a && b`` split; only ``tickets`` and
    ``torchrun`` lines are kept (``pip`` and ``pytest`` are not ours to run).
    """
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            for part in line.split("&&"):
                tokens = shlex.split(part, comments=True)
                if tokens and tokens[0] in ("tickets", "torchrun"):
                    commands.append(tokens)
    return commands


def cli_argv(tokens: Sequence[str]) -> list[str]:
    """The ``tickets`` arguments of a README command (after ``-m verify.cli.main`` for torchrun),
    with ``~`` expanded."""
    start = 1 if tokens[0] == "tickets" else list(tokens).index("verify.cli.main") + 1
    return [os.path.expanduser(t) if t.startswith("~") else t for t in tokens[start:]]


def output_block(text: str, command: str) -> str:
    """The ``text`` block that follows the README's mention of ``command`` in a section title."""
    section = text.split(f"## The main command: `{command}`", 1)[1]
    return re.search(r"```text\n(.*?)```", section, flags=re.S).group(1)


def parse_table(table: str) -> tuple[list[str], list[dict[str, str]]]:
    """Columns and rows of a :func:`verify.cli.common.format_table` table, cut at the dashes."""
    lines = table.strip("\n").splitlines()
    spans = [m.span() for m in re.finditer(r"-+", lines[1])]
    cut = [[line[a:b].strip() for a, b in spans] for line in lines]
    return cut[0], [dict(zip(cut[0], row, strict=True)) for row in cut[2:]]


def run(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``tickets argv`` in-process: exit status, stdout, stderr."""
    try:
        code = main(list(argv))
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh run store, an empty ``~/data`` and a scratch working directory."""
    monkeypatch.setenv("TICKETS_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TICKETS_DATA", raising=False)
    (tmp_path / "home" / "data").mkdir(parents=True)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    return tmp_path


COMMANDS = [" ".join(t) for t in readme_commands(README.read_text())]


def test_python_example_runs(sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The README's Python block runs as written: a model, a trained ticket, its masks."""
    [block] = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("test accuracy 0.") and str(sandbox / "runs" / "biprop") in out[0]
    assert [line.split()[0] for line in out[1:]] == ["layers.1", "layers.4", "layers.7"]
    assert all(line.endswith("0.50 kept") for line in out[1:])


def test_every_command_is_classified() -> None:
    classes = [QUICK, NEEDS_DATA, SLOW, set(EXPORT), PARSE_ONLY]
    assert sum(map(len, classes)) == len(set().union(*classes))  # no command in two classes
    assert set(COMMANDS) == set().union(*classes)
    assert [c for c in COMMANDS if c in EXPORT] == EXPORT  # in the order they run


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_parses(command: str, sandbox: Path) -> None:
    argv = cli_argv(shlex.split(command.replace("RUN_HASH", "0123456789abcdef")))
    if argv == ["--version"]:
        return  # argparse's version action exits while parsing; run in test_quick_commands
    # the parser checks that a ticket FILE has a safetensors header: an empty one (no tensors)
    Path("ticket.safetensors").write_bytes((2).to_bytes(8, "little") + b"{}")
    args = build_parser().parse_args(argv)
    assert callable(args.func)


@pytest.mark.parametrize("command", sorted(QUICK))
def test_quick_commands_run_as_written(command: str, sandbox: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(cli_argv(shlex.split(command)), capsys)
    assert code == 0, err
    if command == "tickets verify":
        check_main_output(out)
    elif command.endswith("--json"):
        rows = [json.loads(line) for line in out.splitlines()]
        assert rows and all(r["within_eps"] == (r["error_bound"] <= r["eps"]) for r in rows)
    elif command == QUICK_TRAIN:
        assert "kept overall 50.00%" in out  # k = 0.5 without --keep
        assert len([p for p in (sandbox / "runs" / "biprop").iterdir() if p.is_dir()]) == 1
    else:
        assert out.strip()


def check_main_output(out: str) -> None:
    """``tickets verify`` prints the README's table: same columns, rows and verdicts."""
    shown_columns, shown = parse_table(output_block(README.read_text(), "tickets verify"))
    columns, rows = parse_table(out)
    assert columns == shown_columns == list(DEFAULT_COLUMNS)
    checked = [c.name for c in constructions(*FULLY_CONNECTED) if c.default_check]
    assert [r["construction"] for r in rows] == [*checked, "subset-sum"]
    assert len(rows) == len(shown)
    for row, readme_row in zip(rows, shown, strict=True):
        for column in columns:
            if column in FLOAT_COLUMNS:
                assert float(row[column]) == pytest.approx(float(readme_row[column]), rel=1e-3)
            else:
                assert row[column] == readme_row[column], (row["construction"], column)


@pytest.mark.parametrize("command", sorted(NEEDS_DATA))
def test_commands_needing_data_name_the_missing_directory(
        command: str, sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(cli_argv(shlex.split(command)), capsys)
    assert code == 2 and out == ""
    error = [line for line in err.splitlines() if not line.startswith("note:")]
    assert len(error) == 1 and "dataset directory" in error[0]
    assert str(sandbox / "home" / "data") in error[0]
    written = [p for p in (sandbox / "runs").rglob("*") if p.is_file()]
    assert written == []  # refused before the run's lock file, let alone training


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(SLOW))
def test_slow_commands_run_as_written(command: str, sandbox: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    argv = cli_argv(shlex.split(command))
    if argv[0] == "figures":
        argv += ["--out", str(sandbox / "figures")]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert out.strip()


@pytest.mark.slow
def test_export_block_runs_on_the_quick_run(sandbox: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([*cli_argv(shlex.split(QUICK_TRAIN)), "--json"], capsys)
    assert code == 0, err
    run_hash = json.loads(out)["hash"]
    for command in EXPORT:
        code, out, err = run(cli_argv(shlex.split(command.replace("RUN_HASH", run_hash))), capsys)
        assert code == 0, (command, err)
    assert {"ticket.safetensors", "ticket.onnx"} <= {p.name for p in Path.cwd().iterdir()}
