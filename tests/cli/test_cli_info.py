"""Informational commands: --version, the model list with pinned parameter counts, bench help."""

from __future__ import annotations

import json

import pytest

from verify.cli.main import main, package_version


def test_version(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"tickets {package_version()}\n"


def test_models_pinned_counts(capsys: pytest.CaptureFixture) -> None:
    assert main(["models", "--dataset", "mnist", "--json"]) == 0
    rows = {r["model"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    # LeNet-300-100: 784*300 + 300*100 + 100*10 weights and 300 + 100 + 10 biases
    assert rows["lenet-300-100"]["prunable_weights"] == 784 * 300 + 300 * 100 + 100 * 10
    assert rows["lenet-300-100"]["parameters"] == 266_610
    assert "vgg11" not in rows  # five poolings do not fit 28x28
    # ResNet-20 (He et al. 2016, 0.27M at CIFAR-10): one input channel saves 16*9*2 weights
    assert rows["resnet20"]["parameters"] == 272_474 - 16 * 9 * 2


@pytest.mark.parametrize("target, shown", [("lth", ["20% layerwise", "(default: 60"]),
                                           ("train", ["(default: 16)", "(default: biprop)"])])
def test_bench_help_shows_defaults(target: str, shown: list[str],
                                   capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["bench", target, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert all(s in text for s in shown) and "%%" not in text


def test_a_help_that_explains_its_default_states_it_once(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["train", "dense", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: the architecture's own biases only)" in text
    assert "biases only) (default" not in text and "(default: 0.1)" in text
