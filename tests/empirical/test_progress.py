"""Progress off a terminal: one stderr line per interval, training lines show loss and accuracy."""

from __future__ import annotations

import io

import pytest

from empirical.progress import LineProgress


def test_line_progress_exact_lines() -> None:
    now = [0.0]
    out = io.StringIO()
    bar = LineProgress(100, initial=20, desc="train", interval=10.0, file=out,
                       clock=lambda: now[0])
    bar.set_postfix(loss="0.500")
    for _ in range(10):
        now[0] += 2.0
        bar.update(4)
    bar.close()
    assert out.getvalue().splitlines() == [
        "train: 40/100 steps (40%), 10 s, eta 30 s, loss=0.500",
        "train: 60/100 steps (60%), 20 s, eta 20 s, loss=0.500",
    ]


def test_short_work_prints_nothing() -> None:
    out = io.StringIO()
    bar = LineProgress(5, interval=30.0, file=out)
    bar.update(5)
    bar.close()
    assert out.getvalue() == ""


def test_train_cli_progress_lines_on_a_pipe(tmp_path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture) -> None:
    from verify.cli.main import main

    monkeypatch.setenv("TICKETS_PROGRESS_INTERVAL", "0")
    code = main(["train", "dense", "--dataset", "digits", "--widths", "8", "--epochs", "1",
                 "--batch-size", "256", "--runs-dir", str(tmp_path), "--device", "cpu",
                 "--json"])
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.startswith("train: ")]
    assert code == 0 and out.startswith("{")
    assert lines[0].startswith("train: 1/5 steps (20%)") and "loss=" in lines[0]
    assert " acc=" in lines[-1] and lines[-1].startswith("train: 5/5 steps (100%)")


def test_bench_progress_lines_on_a_pipe(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture) -> None:
    """A benchmark off a terminal prints one line per finished unit at interval 0."""
    from verify.cli.main import main

    monkeypatch.setenv("TICKETS_PROGRESS_INTERVAL", "0")
    assert main(["bench", "lth", "--model", "lenet-300-100", "--batch-size", "2", "--steps", "1",
                 "--warmup", "0", "--rounds", "1", "--device", "cpu", "--json"]) == 0
    err = capsys.readouterr().err
    assert "bench lth: 1/1 models (100%)" in err and "\r" not in err


def test_tracked_counts_each_item_and_takes_a_description() -> None:
    from empirical.progress import tracked

    assert list(tracked(["a", "b"], "work", "item")) == ["a", "b"]
    now = [0.0]
    out = io.StringIO()
    bar = LineProgress(2, desc="first", interval=1.0, file=out, clock=lambda: now[0])
    now[0] = 1.0
    bar.set_description("second")
    bar.update()
    assert out.getvalue().startswith("second: 1/2 steps")


def test_tracked_prints_a_line_every_interval_while_a_unit_is_under_way(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import time

    from empirical.progress import INTERVAL_ENV, tracked

    monkeypatch.setenv(INTERVAL_ENV, "0.05")
    for _ in tracked(["slow"], "bench", "model"):
        time.sleep(0.5)  # one unit, ten intervals long
        during = capsys.readouterr().err
    assert during.count("bench: 0/1 models (0%)") >= 3, during
    time.sleep(0.2)  # the timer stopped with the loop
    assert "0/1" not in capsys.readouterr().err
