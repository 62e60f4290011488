"""``tickets bench gpu`` on the CPU at a tiny size, and the projected MPT-1/32 run."""

from __future__ import annotations

import json

import pytest
import torch

from empirical.bench.ddp import bench_ddp, default_world_sizes, scaling
from empirical.bench.gpu import (
    GpuBenchRow,
    build_bench_variant,
    projected_run,
    synthetic_cifar_batches,
)
from empirical.layers import kept_fractions, prunable_layers
from verify.cli.main import main


def _row(variant: str, step_ms: float, batch: int = 256, keep: float = 0.2,
         precision: str = "bf16") -> GpuBenchRow:
    return GpuBenchRow("resnet18", variant, precision, "channels_last", False, batch, keep,
                       1e3 / step_ms, batch * 1e3 / step_ms, step_ms, None, 1.0)


def test_projection_uses_the_fastest_published_configuration() -> None:
    rows = [_row("biprop-layerwise", 20.0), _row("biprop-layerwise", 12.0, precision="fp32"),
            _row("biprop-layerwise", 1.0, batch=128), _row("biprop-layerwise", 1.0, keep=0.5),
            _row("dense", 1.0)]
    projection = projected_run(rows)
    assert projection is not None
    assert projection["steps"] == 250 * 196 == 49_000
    assert projection["step_ms"] == 12.0 and projection["precision"] == "fp32"
    assert projection["projected_minutes"] == pytest.approx(49_000 * 0.012 / 60)
    assert projected_run(rows[2:]) is None


def test_variants_are_the_modes_they_name() -> None:
    masked = build_bench_variant("conv4", "masked", 0.2, width_mult=0.125)
    weights = sum(layer.weight.numel() for _, layer in prunable_layers(masked))
    kept = sum(int(layer.mask.sum()) for _, layer in prunable_layers(masked))
    assert abs(kept / weights - 0.2) < 0.01
    glob = build_bench_variant("conv4", "biprop-global", 0.2, width_mult=0.125)
    assert {layer.scope for _, layer in prunable_layers(glob)} == {"global"}
    fractions = kept_fractions(glob)
    assert len(set(fractions.values())) > 1
    layer = build_bench_variant("conv4", "edge-popup", 0.2, width_mult=0.125)
    assert all(not p.requires_grad for n, p in layer.named_parameters() if "scores" not in n)


def test_bench_gpu_cli_on_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    threads = torch.get_num_threads()
    argv = ["bench", "gpu", "--device", "cpu", "--model", "conv4", "--width-mult", "0.125",
            "--batch-size", "2", "--steps", "1", "--warmup", "1", "--precision", "fp32,bf16",
            "--memory-format", "contiguous", "--no-data", "--json"]
    assert main(argv) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["variant"] for r in rows[:5]] == ["dense", "edge-popup", "biprop-layerwise",
                                                "biprop-global", "masked"]
    assert [r["precision"] for r in rows] == ["fp32"] * 5 + ["bf16"] * 5
    assert all(r["overhead_vs_dense"] == 1.0 for r in rows if r["variant"] == "dense")
    assert all(r["steps_per_s"] > 0 and r["peak_mem_mb"] is None for r in rows)
    assert torch.get_num_threads() == threads
    assert main(["bench", "gpu", "--device", "cpu", "--variant", "sorted"]) == 2
    assert "--variant" in capsys.readouterr().err


def test_input_pipelines_give_the_same_batches_in_order(capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    device = torch.device("cpu")
    on_device = list(synthetic_cifar_batches("device", 12, 4, device, 0).epoch(0))
    loader = list(synthetic_cifar_batches("loader", 12, 4, device, 0).epoch(0))
    assert [y.tolist() for _, y in on_device] == [y.tolist() for _, y in loader]
    assert all(a.shape == b.shape == (4, 3, 32, 32) and a.dtype == b.dtype == torch.float32
               for (a, _), (b, _) in zip(on_device, loader, strict=True))
    argv = ["bench", "gpu", "--device", "cpu", "--model", "conv4", "--width-mult", "0.125",
            "--batch-size", "2", "--steps", "1", "--warmup", "1", "--precision", "fp32",
            "--memory-format", "contiguous", "--variant", "dense", "--workers", "0", "--json"]
    assert main(argv) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    data = [r for r in rows if "data" in r]
    assert [r["data"] for r in data] == ["device", "loader"]
    assert data[1]["speedup_vs_loader"] == 1.0 and data[0]["input_batches_per_s"] > 0


def test_ddp_scaling_figures_and_flags(capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    rows = scaling({2: 0.125, 1: 0.1, 4: 0.2}, batch=4)
    assert rows == [pytest.approx((10.0, 40.0, 1.0)), pytest.approx((8.0, 64.0, 0.8)),
                    pytest.approx((5.0, 80.0, 0.5))]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for count, sizes in ((1, []), (2, [1, 2]), (6, [1, 2, 4, 6]), (8, [1, 2, 4, 8])):
        monkeypatch.setattr(torch.cuda, "device_count", lambda count=count: count)
        assert default_world_sizes() == sizes
    monkeypatch.undo()
    base = ["bench", "gpu", "--device", "cpu", "--model", "conv4", "--steps", "1"]
    assert main([*base, "--ddp-variant", "sorted"]) == 2
    assert "--ddp-variant" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*base, "--world-sizes", "0"])
    with pytest.raises(ValueError, match="world_sizes"):
        bench_ddp([], model="conv4")


@pytest.mark.slow
def test_ddp_with_two_gloo_processes_on_cpu() -> None:
    rows = bench_ddp([1, 2], model="conv4", variant="biprop-layerwise", batch=2, steps=2,
                     warmup=1, width_mult=0.125, device="cpu")
    assert [r.world_size for r in rows] == [1, 2] and rows[0].efficiency == 1.0
    assert all(r.device == "cpu" and r.steps_per_s > 0 for r in rows)
    assert rows[1].samples_per_s == pytest.approx(2 * 2 * rows[1].steps_per_s)
