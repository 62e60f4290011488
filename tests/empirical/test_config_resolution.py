"""Hyperparameter resolution (default < command < preset < flag) and the two faces of its errors."""

from __future__ import annotations

import json

import pytest

from empirical.config.hparams import ModelHparams, TrainingHparams
from empirical.config.resolve import resolve
from empirical.errors import InputError
from verify.cli.main import main


def _show(argv: list[str], capsys: pytest.CaptureFixture) -> dict[str, tuple[object, str]]:
    assert main([*argv, "--show-config", "--json"]) == 0
    rows = map(json.loads, capsys.readouterr().out.splitlines())
    return {r["field"]: (r["value"], r["set_by"]) for r in rows}


def test_show_config_names_what_set_each_value(capsys: pytest.CaptureFixture) -> None:
    shown = _show(["train", "biprop", "--preset", "mnist1d-biprop", "--lr", "0.3"], capsys)
    assert shown["training.lr"] == ("0.3", "flag")
    assert shown["mask.keep"] == ("0.5", "preset") and shown["mask.mode"] == ("biprop", "command")
    assert shown["training.seed"] == ("0", "default")
    assert _show(["train", "edge-popup"], capsys)["mask.keep"] == ("0.5", "command")
    assert _show(["train", "dense"], capsys)["mask.keep"] == ("1.0", "default")


def test_show_config_trains_nothing(tmp_path, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "lth", "--preset", "mnist1d-lth", "--runs-dir", str(tmp_path),
                 "--show-config"]) == 0
    assert "pruning.output_rate" in capsys.readouterr().out and not list(tmp_path.iterdir())


def test_preset_values_tied_to_a_replaced_value_are_dropped() -> None:
    preset = {"model": {"name": "fc", "widths": (512, 512)},
              "pruning": {"rate": 0.2, "output_rate": 0.1}}
    from empirical.config.lth_hparams import PruningHparams

    classes = {"model": ModelHparams, "pruning": PruningHparams}
    kept = resolve(classes, preset, {"model": {"width_mult": 2.0}})
    assert kept.sections["model"].widths == (512, 512) and kept.set_by["model.widths"] == "preset"
    other = resolve(classes, preset, {"model": {"name": "conv4"}, "pruning": {"scope": "global"}})
    assert other.sections["model"].widths is None and other.set_by["model.widths"] == "default"
    assert other.sections["pruning"].output_rate is None and other.sections["pruning"].rate == 0.2


def test_library_errors_name_fields_and_the_cli_names_flags(
        capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(InputError) as err:
        TrainingHparams(milestones=(3,))
    assert str(err.value) == "milestones only applies to schedule=step"
    assert main(["train", "dense", "--milestones", "3", "--show-config"]) == 2
    assert capsys.readouterr().err == ("tickets train: error: --milestones only applies to "
                                       "--schedule step\n")
    with pytest.raises(InputError, match=r"^nesterov applies to optimizer=sgd only, not adam$"):
        TrainingHparams(optimizer="adam", nesterov=True)
    with pytest.raises(InputError, match=r"^width_mult must be > 0"):
        ModelHparams(width_mult=0.0)
    assert main(["train", "lth", "--scope", "global", "--conv-rate", "0.1", "--show-config"]) == 2
    assert capsys.readouterr().err == (
        "tickets train: error: --scope global prunes at one --rate: use --exclude instead of "
        "--conv-rate or --output-rate\n")
