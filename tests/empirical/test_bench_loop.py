"""``tickets bench loop``: the minimal loop's model computes what the project's model computes,
both loops evaluate at the same steps, the command prints its rows and rejects bad flags."""

from __future__ import annotations

import json

import pytest
import torch

from empirical.bench.loop import evaluation_steps, forward_macs, minimal_model
from empirical.config.hparams import ModelHparams
from empirical.layers import LayerConfig, prunable_layers
from empirical.models import build_model
from verify.cli.main import main


@pytest.mark.parametrize("name, shape, mode", [
    ("fc", (40,), "dense"), ("fc", (40,), "biprop"), ("fc", (40,), "masked"),
    ("mnist1d-cnn", (1, 40), "dense"), ("mnist1d-cnn", (1, 40), "biprop"),
])
def test_minimal_model_computes_the_project_models_outputs(name: str, shape: tuple[int, ...],
                                                           mode: str) -> None:
    torch.manual_seed(0)
    model = build_model(ModelHparams(name=name, bias=True), 10, shape,
                        LayerConfig(mode=mode, keep=0.5))
    if mode == "masked":
        for _, layer in prunable_layers(model):
            layer.mask.copy_((torch.rand_like(layer.mask) < 0.7).float())
    plain, pairs = minimal_model(model.eval())
    assert not prunable_layers(plain)  # every factory layer replaced
    assert len(pairs) == (len(prunable_layers(model)) if mode == "masked" else 0)
    x = torch.randn(8, *shape)
    with torch.no_grad():
        torch.testing.assert_close(plain.eval()(x), model(x), rtol=1e-5, atol=1e-6)


def test_minimal_biprop_trains_only_the_scores() -> None:
    torch.manual_seed(0)
    model = build_model(ModelHparams(widths=(16,)), 10, (40,), LayerConfig(mode="biprop", keep=0.5))
    plain, _ = minimal_model(model)
    trained = {n for n, p in plain.named_parameters() if p.requires_grad}
    assert trained and all(n.endswith("scores") for n in trained)
    plain(torch.randn(4, 40)).sum().backward()
    assert all(p.grad is not None for n, p in plain.named_parameters() if n in trained)


def test_forward_macs_counts_linear_and_conv_products() -> None:
    mlp = build_model(ModelHparams(widths=(100, 100)), 10, (40,), LayerConfig())
    assert forward_macs(mlp, torch.zeros(40)) == 40 * 100 + 100 * 100 + 100 * 10
    cnn = build_model(ModelHparams(name="mnist1d-cnn"), 10, (1, 40), LayerConfig())
    counted = forward_macs(cnn, torch.zeros(1, 40))
    total = 0

    def count(layer: torch.nn.Module, inputs: object, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(layer, torch.nn.Conv1d):
            total += output[0].numel() * layer.in_channels * layer.kernel_size[0]
        elif isinstance(layer, torch.nn.Linear):
            total += layer.in_features * layer.out_features

    for module in cnn.modules():
        module.register_forward_hook(count)
    cnn.eval()(torch.zeros(1, 1, 40))
    assert counted == total > 0


@pytest.mark.parametrize("total, period, expected", [
    (100, 500, [100]), (500, 500, [500]), (120, 40, [40, 80, 120]), (130, 40, [40, 80, 120, 130]),
])
def test_evaluation_steps_follow_fit(total: int, period: int, expected: list[int]) -> None:
    assert evaluation_steps(total, period) == expected


def test_bench_loop_prints_a_row(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "loop", "--model", "lenet-300-100", "--variant", "LTH,MPT-1/32",
            "--steps", "3", "--rounds", "1", "--json"]
    assert main(argv) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["model"], r["variant"]) for r in rows] == [("lenet-300-100", "LTH"),
                                                          ("lenet-300-100", "MPT-1/32")]
    for row in rows:
        assert row["steps"] == 3 and row["evaluations"] == 1
        assert min(row["project_ms"], row["minimal_ms"], row["cpu_ratio"], row["peak_gflops"]) > 0
        assert row["ratio"] == pytest.approx(row["project_ms"] / row["minimal_ms"])


@pytest.mark.parametrize("flags, message", [
    (["--model", "resnet9"], "--model: unknown 'resnet9'"),
    (["--variant", "MPT-1/2"], "--variant: unknown 'MPT-1/2'"),
    (["--rounds", "0"], "--rounds: must be >= 1"),
])
def test_bad_flags_exit_2_before_work(flags: list[str], message: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    try:
        status = main(["bench", "loop", *flags])
    except SystemExit as exit_:  # argparse
        status = exit_.code
    assert status == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) <= 2 and "project" not in err
