"""Device selection, mixed precision and multi-process (torchrun) setup.

``auto`` picks CUDA, then Apple MPS, then the CPU. Under ``torchrun`` (``WORLD_SIZE`` > 1 in the
environment) each process joins the default process group (NCCL on CUDA, gloo otherwise), uses
GPU ``LOCAL_RANK``, and only rank 0 writes files.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from empirical.errors import InputError
from empirical.instruction_set import deterministic_requested


@dataclass(frozen=True)
class Distributed:
    """This process's place among ``world_size`` processes (1 process: rank 0 of 1)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """True for the process that writes files and prints."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """True when several processes train together."""
        return self.world_size > 1


def distributed_from_env() -> Distributed:
    """Read ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` set by torchrun (defaults: one process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"bad torchrun environment: RANK={rank} WORLD_SIZE={world}")
    return Distributed(rank, local, world)


def select_device(name: str = "auto", dist: Distributed | None = None) -> torch.device:
    """The torch device for ``name`` (``auto``, ``cpu``, ``cuda``, ``cuda:1``, ``mps``).

    Parameters
    ----------
    name
        ``auto`` picks CUDA (GPU ``LOCAL_RANK`` when distributed), then MPS, then CPU.
    dist
        The process's distributed placement.

    Returns
    -------
    torch.device
        On CUDA under ``TICKETS_DETERMINISTIC=1`` (set by ``tickets figures``) torch also
        switches to deterministic algorithms (a warning names any op that has none).
    """
    dist = dist or Distributed()
    if name == "auto":
        if torch.cuda.is_available():
            return select_device("cuda", dist)
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda requested but CUDA is not available")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(f"device {name} requested but this machine has "
                         f"{torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device mps requested but MPS is not available")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", dist.local_rank)
    if device.type == "cuda" and deterministic_requested():  # tickets figures asks for it
        torch.use_deterministic_algorithms(True, warn_only=True)
    return device


def init_distributed(dist: Distributed, device: torch.device) -> None:
    """Join the default process group (NCCL on CUDA, gloo otherwise) if several processes run."""
    if not dist.enabled or torch.distributed.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    torch.distributed.init_process_group(backend, rank=dist.rank, world_size=dist.world_size)


def set_threads(threads: int) -> None:
    """Use ``threads`` torch intra-op CPU threads (``RuntimeConfig.threads``, ``--threads``).

    Torch's default, one thread per core, oversubscribes small models when several runs share a
    machine; the run records the count it used in ``hparams.json``.
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InputError("{threads} must be an integer >= 1, got {got!r}", got=threads)
    torch.set_num_threads(threads)


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on ``device`` (CUDA or CPU) when ``enabled``, else fp32 (a no-op).

    A run asks for it with ``training.precision = "bf16"``, which is part of its hash; a device
    without bf16 autocast is refused rather than silently run in fp32 under a bf16 name.
    """
    if not enabled:
        return contextlib.nullcontext()
    if device.type not in ("cuda", "cpu"):
        raise ValueError(f"precision bf16 needs a CUDA or CPU device, not {device.type}")
    return torch.autocast(device.type, dtype=torch.bfloat16)


def prepare_model(model: torch.nn.Module, device: torch.device, channels_last: bool
                  ) -> torch.nn.Module:
    """Move ``model`` to ``device``; channels_last memory format for conv nets on CUDA."""
    model = model.to(device)
    if channels_last and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return model


@contextlib.contextmanager
def peak_memory(device: torch.device) -> Iterator[dict[str, int]]:
    """Measure the peak allocated bytes on CUDA (``out["bytes"]``; 0 elsewhere)."""
    out = {"bytes": 0}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    yield out
    if device.type == "cuda":
        out["bytes"] = int(torch.cuda.max_memory_allocated(device))
