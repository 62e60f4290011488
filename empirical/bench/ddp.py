"""DDP scaling: steps/s of one model under ``torchrun`` with 1, 2, 4, ... processes.

:func:`bench_ddp` launches ``python -m torch.distributed.run --standalone --nproc-per-node N -m
empirical.bench.ddp ...`` for each world size ``N``. Every process joins the process group as a
training run does (NCCL on GPU ``LOCAL_RANK``, gloo on the CPU; also a single process, so that
the baseline pays DDP's bookkeeping), wraps the benchmark model
(:func:`empirical.bench.gpu.build_bench_variant`) in ``DistributedDataParallel`` and takes
``warmup`` untimed and ``steps`` timed SGD steps on its own synthetic CIFAR-shaped batch of
``batch`` images (weak scaling: the global batch is ``N * batch``); rank 0 writes the timing to a
JSON file. The scaling efficiency of ``N`` processes is ``(samples/s at N / N) / (samples/s at N0
/ N0)`` for the smallest measured ``N0`` (1 by default): 1.0 means perfect linear scaling.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from empirical.bench.gpu import CIFAR_CLASSES, CIFAR_SHAPE, build_bench_variant
from empirical.errors import InputError


@dataclass(frozen=True)
class DdpRow:
    """One world size: steps/s of every process's step, global samples/s, scaling efficiency."""

    model: str
    variant: str
    device: str
    world_size: int
    batch_per_process: int
    steps_per_s: float
    samples_per_s: float
    efficiency: float

    def as_dict(self) -> dict[str, Any]:
        """The row as a plain dict."""
        return asdict(self)


def default_world_sizes() -> list[int]:
    """1, 2, 4, ... up to the number of CUDA devices, when there is more than one; else none."""
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count < 2:
        return []
    sizes = [2 ** i for i in range(int(math.log2(count)) + 1)]
    return sizes if sizes[-1] == count else [*sizes, count]


def check_world_sizes(world_sizes: Sequence[int], device: str) -> list[int]:
    """The sorted distinct world sizes; ValueError unless each is >= 1 and, on CUDA, at most
    the device count (one GPU per process)."""
    sizes = sorted(set(world_sizes))
    if not sizes or sizes[0] < 1:
        raise InputError("{world_sizes} must be integers >= 1, got {got}",
                         got=list(world_sizes))
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device != "cpu" and gpus and sizes[-1] > gpus:
        raise InputError("{world_sizes}: {n} processes but only {gpus} GPUs", n=sizes[-1],
                         gpus=gpus)
    return sizes


def _worker(args: argparse.Namespace) -> None:
    """One torchrun process: time DDP steps and, on rank 0, write the result to ``args.out``."""
    from empirical.device import distributed_from_env, select_device

    torch.set_num_threads(args.threads)
    dist = distributed_from_env()
    device = select_device(args.device, dist)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    # also at world size 1, so that the baseline step pays DDP's bookkeeping too
    torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    model = build_bench_variant(args.model, args.variant, args.keep, args.width_mult).to(device)
    ids = [device.index] if device.type == "cuda" else None
    ddp = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1,
                                momentum=0.9)
    generator = torch.Generator().manual_seed(dist.rank)
    x = torch.randn(args.batch, *CIFAR_SHAPE, generator=generator).to(device)
    y = torch.randint(0, CIFAR_CLASSES, (args.batch,), generator=generator).to(device)

    def step() -> None:
        loss = nn.functional.cross_entropy(ddp(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # the gradient all-reduce
        optimizer.step()

    for _ in range(args.warmup):
        step()
    _barrier(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    _barrier(device)
    seconds = (time.perf_counter() - start) / args.steps
    if dist.is_main:
        Path(args.out).write_text(json.dumps({"world_size": dist.world_size,
                                              "step_seconds": seconds,
                                              "device": device.type}))
    torch.distributed.destroy_process_group()


def _barrier(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    torch.distributed.barrier()


def bench_ddp(world_sizes: Sequence[int], model: str = "resnet18",
              variant: str = "biprop-layerwise", batch: int = 256, steps: int = 10,
              warmup: int = 3, keep: float = 0.2, width_mult: float = 1.0, device: str = "auto",
              threads: int = 1, timeout: float = 600.0) -> list[DdpRow]:
    """Steps/s and scaling efficiency of ``model`` under torchrun at each world size.

    Parameters
    ----------
    world_sizes
        Process counts (each >= 1; on CUDA at most the device count).
    model, variant, keep, width_mult
        The benchmark model (:func:`empirical.bench.gpu.build_bench_variant`).
    batch
        Images per process and step.
    steps, warmup
        Timed and untimed steps.
    device
        ``auto`` (one GPU per process when CUDA is present), ``cuda`` or ``cpu`` (gloo).
    threads
        Torch intra-op threads of each process.
    timeout
        Seconds allowed per world size.

    Returns
    -------
    list of DdpRow
    """
    sizes = check_world_sizes(world_sizes, device)
    build_bench_variant(model, variant, keep, width_mult=width_mult)  # bad names fail here
    timings = {}
    with tempfile.TemporaryDirectory(prefix="tickets-ddp-") as tmp:
        for n in sizes:
            out = Path(tmp) / f"world{n}.json"
            command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                       f"--nproc-per-node={n}", "-m", "empirical.bench.ddp",
                       "--model", model, "--variant", variant, "--batch", str(batch),
                       "--steps", str(steps), "--warmup", str(warmup), "--keep", str(keep),
                       "--width-mult", str(width_mult), "--device", device,
                       "--threads", str(threads), "--out", str(out)]
            env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
            done = subprocess.run(command, env=env, capture_output=True, text=True,
                                  timeout=timeout, check=False)
            if done.returncode != 0 or not out.exists():
                raised = [line.strip() for line in (done.stderr + done.stdout).splitlines()
                          if line.strip().split(":")[0].endswith(("Error", "Exception"))]
                raise RuntimeError(f"torchrun with {n} processes failed: "
                                   f"{raised[0] if raised else 'no error line'}")
            timings[n] = json.loads(out.read_text())
    seconds = {n: t["step_seconds"] for n, t in timings.items()}
    return [DdpRow(model, variant, timings[n]["device"], n, batch, *figures)
            for n, figures in zip(sizes, scaling(seconds, batch), strict=True)]


def scaling(step_seconds: dict[int, float], batch: int) -> list[tuple[float, float, float]]:
    """(steps/s, global samples/s, efficiency) per world size, in increasing world size.

    With ``t_N`` the step time of ``N`` processes of ``batch`` images each: steps/s ``1 / t_N``,
    samples/s ``N batch / t_N`` and efficiency ``(batch / t_N) / (batch / t_N0) = t_N0 / t_N``
    against the smallest world size ``N0``.
    """
    sizes = sorted(step_seconds)
    base = step_seconds[sizes[0]]
    return [(1 / step_seconds[n], n * batch / step_seconds[n], base / step_seconds[n])
            for n in sizes]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="one torchrun process of tickets bench gpu")
    parser.add_argument("--model", required=True)
    parser.add_argument("--variant", required=True)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--warmup", type=int, required=True)
    parser.add_argument("--keep", type=float, required=True)
    parser.add_argument("--width-mult", type=float, required=True)
    parser.add_argument("--device", required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--out", required=True)
    return parser


if __name__ == "__main__":
    _worker(_parser().parse_args())
