"""What pinning the instruction sets costs: training-step time, pinned against native.

:mod:`empirical.instruction_set` holds torch, MKL, oneDNN, numpy, OpenBLAS and numba to their
AVX2 code paths so that every x86-64 machine with AVX2 computes the same bits; on a CPU with
AVX-512 the native kernels may be faster. :func:`bench_isa` times the same training steps of
:func:`empirical.bench.train.measure_variant` (synthetic CIFAR-10-shaped tensors, SGD) in two
fresh interpreters per model and variant: one pinned (the default environment) and one with
``TICKETS_NATIVE_ISA=1`` (each library's own choice). The switches are read when the libraries
load, hence a fresh process for each. ``cpu_ratio`` (CPU seconds per step, pinned / native) is
the steadier figure on a machine shared with other jobs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from empirical import instruction_set

#: Run in the fresh interpreter: pin (or not, as the environment says), then time the steps.
_CHILD = """
import json, sys
import empirical.instruction_set as isa
from empirical.bench.train import measure_variant
import torch
seconds, cpu_seconds, _ = measure_variant(*json.loads(sys.argv[1]))
print(json.dumps([seconds, cpu_seconds, isa.MODE, torch.backends.cpu.get_cpu_capability()]))
"""


def native_environment() -> dict[str, str]:
    """This process's environment without the pinned switches and with the opt-out set."""
    env = {k: v for k, v in os.environ.items() if k not in instruction_set.PINNED}
    env[instruction_set.NATIVE_ENV] = "1"
    return env


def step_seconds(model: str, variant: str, batch_size: int, steps: int, warmup: int,
                 threads: int, native: bool) -> tuple[float, float, str, str]:
    """Wall and CPU seconds per CPU training step of ``model`` in a fresh interpreter.

    Parameters
    ----------
    model : str
        A model name of :func:`empirical.models.build_model` (CIFAR-10 shape).
    variant : str
        ``ours`` (biprop score training, k = 0.5) or ``dense``.
    batch_size, steps, warmup, threads : int
        Batch size, timed steps, untimed steps first, intra-op threads.
    native : bool
        Each library's native instruction set instead of the pinned one.

    Returns
    -------
    tuple
        Wall seconds, CPU seconds, the child's :data:`empirical.instruction_set.MODE` and its
        ATen CPU capability.
    """
    job = [model, "biprop", variant, 0.5, batch_size, steps, warmup, "cpu", threads]
    env = native_environment() if native else dict(os.environ)
    done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(job)], env=env,
                          capture_output=True, text=True, check=True)
    wall, cpu, mode, capability = json.loads(done.stdout.strip().splitlines()[-1])
    return float(wall), float(cpu), str(mode), str(capability)


def bench_isa(models: list[str], batch_size: int = 16, steps: int = 10, warmup: int = 2,
              threads: int = 1) -> list[dict[str, Any]]:
    """Per model and variant (``ours``: biprop, ``dense``): step times pinned and native.

    Returns
    -------
    list of dict
        ``model, variant, batch_size, pinned_ms, native_ms, ratio`` (wall, pinned / native),
        ``pinned_cpu_ms, native_cpu_ms, cpu_ratio`` and the two runs' ATen capabilities.
    """
    if instruction_set.MODE != "pinned":
        raise ValueError(f"the benchmark compares pinned with native steps, but this process is "
                         f"{instruction_set.MODE} (unset {instruction_set.NATIVE_ENV}; it needs "
                         "an x86-64 CPU with AVX2)")
    rows = []
    for model in models:
        for variant in ("ours", "dense"):
            pinned = step_seconds(model, variant, batch_size, steps, warmup, threads, False)
            native = step_seconds(model, variant, batch_size, steps, warmup, threads, True)
            rows.append({"model": model, "variant": variant, "batch_size": batch_size,
                         "pinned_ms": 1000 * pinned[0], "native_ms": 1000 * native[0],
                         "ratio": pinned[0] / native[0], "pinned_cpu_ms": 1000 * pinned[1],
                         "native_cpu_ms": 1000 * native[1], "cpu_ratio": pinned[1] / native[1],
                         "pinned_isa": pinned[3], "native_isa": native[3]})
    return rows
