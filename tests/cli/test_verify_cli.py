"""End-to-end tests of ``tickets verify`` through ``verify.cli.main.main``."""

from __future__ import annotations

import csv
import json

import pytest

from verify.cli.main import main
from verify.family_studies import CONSTRUCT_COLUMNS

CONSTRUCT = ["verify", "construct", "--method", "binary-depth", "--width", "2", "--depth", "2",
             "--eps", "0.1", "--seed", "0"]


def test_construct_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(CONSTRUCT) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == list(CONSTRUCT_COLUMNS)
    assert main([*CONSTRUCT, "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert set(CONSTRUCT_COLUMNS) <= set(row)
    assert row["construction"] == "binary-depth" and row["target_size"] == "2x2x2"
    assert row["tolerances_met"] and row["sup_error"] <= 0.1


def test_sweep_json_lines_and_csv(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sweep.csv"
    argv = ["verify", "sweep", "--method", "binary-depth", "--vary", "width", "--block-sizes",
            "4,32", "--seeds", "1", "--json", "--out", str(out)]
    assert main(argv) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["value"] for r in rows] == [4, 32]
    assert rows[1]["sup_error"] <= rows[0]["sup_error"]
    with out.open() as handle:
        saved = list(csv.DictReader(handle))
    assert [int(r["value"]) for r in saved] == [4, 32]
    assert list(tmp_path.iterdir()) == [out]


def test_rescale_accepts_violating_target(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*CONSTRUCT, "--target-scale", "5", "--rescale", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["construction"] == "binary-depth"


def test_sweep_vs_eps(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["verify", "sweep", "--method", "binary-depth", "--vary", "eps", "--values", "0.2",
            "--block-sizes", "16,32", "--seeds", "1", "--json"]
    assert main(argv) == 0
    row = json.loads(capsys.readouterr().out)
    assert {"value", "block_size", "source_width", "fraction_within_eps", "bound_width"} <= set(row)


def test_subset_sum_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "subset-sum", "--n", "4..6", "--seeds", "5", "--eps", "1e-2",
                 "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 3


@pytest.mark.parametrize(
    "argv",
    [
        ["--eps", "0"],
        ["--eps", "-1"],
        ["--delta", "1.5"],
        ["--width", "0"],
        ["--method", "nope"],
        ["--target-scale", "5"],
    ],
)
def test_bad_input_one_line_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    base = dict(zip(CONSTRUCT[2::2], CONSTRUCT[3::2], strict=True))
    base.update(dict(zip(argv[::2], argv[1::2], strict=True)))
    full = ["verify", "construct", *[x for kv in base.items() for x in kv]]
    try:
        code = main(full)
    except SystemExit as exit_info:
        code = exit_info.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error" in err


@pytest.mark.parametrize(
    "argv,flags",
    [
        (["verify"], ["--json"]),
        (["verify", "subset-sum"], ["--n", "--seeds", "--eps", "--seed", "--json"]),
        (["verify", "construct"], ["--method", "--width", "--depth", "--eps", "--delta",
                                   "--seed", "--block-size", "--rescale", "--target-scale",
                                   "--json"]),
        (["verify", "sweep"], ["--method", "--vary", "--values", "--block-sizes", "--seeds",
                               "--fraction", "--out", "--json"]),
    ],
)
def test_help_mentions_every_flag(
    argv: list[str], flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in flags:
        assert flag in text


def test_construct_on_the_cube_says_what_its_pass_rests_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["verify", "construct", "--method", "pensia", "--width", "2", "--depth", "1",
            "--eps", "0.2", "--domain", "cube", "--json"]
    assert main(argv) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["domain"] == "cube" and row["evidence"] == "exact"
    assert row["within_eps"] == (row["error_bound"] <= 0.2)
    with pytest.raises(SystemExit) as bad:
        main([*argv[:-2], "--domain", "sphere"])
    assert bad.value.code == 2


def test_sweep_row_names_say_what_they_check(capsys: pytest.CaptureFixture[str]) -> None:
    """A sampled sup error below eps with a certified bound above it is not within eps."""
    argv = ["verify", "sweep", "--method", "pensia", "--vary", "width", "--block-sizes", "16",
            "--seeds", "1", "--json"]
    assert main(argv) == 0
    row = json.loads(capsys.readouterr().out)
    assert "pass" not in row and "success" not in row
    assert row["sup_method"] == "sampled" and row["evidence"] == "certified"
    assert row["sup_error"] < 0.1 < row["error_bound"] and row["within_eps"] is False


@pytest.mark.parametrize("value, shown", [(0.9999975, "0.999997"), (0.99995, "0.99995"),
                                          (1.0, "1"), (0.0126, "0.0126"), (3.249e-9, "3.249e-09"),
                                          (1234.5, "1234"), (999.96, "999.96")])
def test_table_never_rounds_a_fraction_to_a_whole_number(value: float, shown: str) -> None:
    from verify.cli.common import format_table

    assert format_table([{"x": value}]).splitlines()[2].strip() == shown
