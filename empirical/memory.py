"""Memory guards: estimate an allocation before making it and refuse one over the limit.

The limit is the memory available now (Linux ``MemAvailable``: free memory plus what the kernel can
reclaim; elsewhere the physical memory), or ``$TICKETS_MEMORY_LIMIT`` (bytes, optionally with a
binary suffix: ``512M``, ``8G``, ``1.5T``). :func:`check_memory` raises ``ValueError`` with the
estimated size, so the command line prints one line and exits with status 2 before any work.

:func:`training_bytes` estimates one training step of a torch model without allocating it: the
model is built on the ``meta`` device and a meta forward pass measures its activations, without
importing torch's compile stack (:func:`compile_stack_lent`).  This module imports torch only
inside those functions, so ``verify`` can use the guard without torch.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
import re
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from empirical.errors import InputError

LIMIT_ENV = "TICKETS_MEMORY_LIMIT"
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40, "P": 2**50}
_SUFFIXES = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
_LIMIT = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][0-9]+)?)\s*([KMGTP]?)(?:i?B)?\s*$")
PARAMETER_COPIES = 4
"""A trained parameter is held about four times: the value, its gradient and up to two optimiser
states (Adam's moments; SGD momentum uses one)."""
ACTIVATION_COPIES = 2
"""Activations are kept for the backward pass and their gradients are formed during it."""


def format_bytes(n: float) -> str:
    """``6.94 EiB``: ``n`` bytes in binary units, three significant digits."""
    value, unit = float(n), 0
    while abs(value) >= 1024 and unit < len(_SUFFIXES) - 1:
        value, unit = value / 1024, unit + 1
    return f"{value:.3g} {_SUFFIXES[unit]}"


def memory_limit() -> int:
    """Bytes an estimated allocation may reach: ``$TICKETS_MEMORY_LIMIT``, else the memory
    available now (:func:`available_memory`).

    Raises
    ------
    ValueError
        ``$TICKETS_MEMORY_LIMIT`` is not a size.
    """
    text = os.environ.get(LIMIT_ENV)
    if text:
        match = _LIMIT.match(text)
        if match is None:
            raise ValueError(f"${LIMIT_ENV} must be a size such as 8G or 512M, got {text!r}")
        return int(float(match.group(1)) * _UNITS[match.group(2)])
    return available_memory()


def available_memory() -> int:
    """``MemAvailable`` of ``/proc/meminfo`` (Linux), else the physical memory, in bytes.

    The physical memory is no limit on a machine whose memory other processes hold: ``tickets
    bench subset-sum --n-weights 100000000`` (estimated 18.6 GiB) passed the check against a
    23.5 GiB machine's physical memory and went on to allocate 15.6 GiB for its coefficients.
    """
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_memory(nbytes: float, what: str, owner: type | None = None) -> None:
    """Raise :class:`~empirical.errors.InputError` if ``nbytes`` exceeds :func:`memory_limit`.

    Parameters
    ----------
    nbytes
        The estimated allocation.
    what
        What needs it: an :class:`~empirical.errors.InputError` template naming the fields that
        set its size (``"training fc ({widths}, {batch_size})"``), which the CLI shows as flags.
    owner
        The dataclass whose fields ``what`` names, if any.
    """
    limit = memory_limit()
    if nbytes > limit:
        size = f"about {format_bytes(nbytes)}" if math.isfinite(nbytes) else "more than 8 EiB"
        raise InputError(what + " needs {size} of memory, more than the {limit} available "
                         "(${env} sets the limit)", owner, size=size,
                         limit=format_bytes(limit), env=LIMIT_ENV)


def training_bytes(build: Callable[[], Any], input_shape: Sequence[int], batch_size: int
                   ) -> float:
    """Estimated memory of one training step, from a model built on the ``meta`` device.

    ``PARAMETER_COPIES x`` the trainable parameters, plus frozen parameters and buffers, plus
    ``ACTIVATION_COPIES x batch_size x`` the outputs of every leaf module for one example, plus the
    input batch (float32). An estimate of the order of magnitude, not a bound: for an MLP
    784-8192-8192-10 trained with Adam on batches of 512 on the CPU it gives 1.29 GiB, and the
    process's peak resident memory grew by 1.76 GiB.

    Parameters
    ----------
    build
        Builds the model; called under ``torch.device("meta")`` (nothing is allocated).
    input_shape
        One example's shape.
    batch_size
        Examples per step.

    Returns
    -------
    float
        Bytes; infinite when a tensor size overflows 64 bits (torch refuses even the meta tensor).
    """
    import torch

    with torch.random.fork_rng(devices=[]), torch.device("meta"), compile_stack_lent():
        try:
            model = build()
            trainable = sum(p.numel() * p.element_size() for p in model.parameters()
                            if p.requires_grad)
            frozen = sum(p.numel() * p.element_size() for p in model.parameters()
                         if not p.requires_grad)
            frozen += sum(b.numel() * b.element_size() for b in model.buffers())
            outputs = _leaf_output_bytes(model, torch.empty((1, *input_shape)))
        except RuntimeError as err:
            if "overflow" in str(err):
                return math.inf
            raise
    example = 4 * math.prod(input_shape)
    return (PARAMETER_COPIES * trainable + frozen
            + batch_size * (ACTIVATION_COPIES * outputs + example))


def _leaf_output_bytes(model: Any, example: Any) -> int:
    """Bytes of the outputs of every leaf module of ``model`` for the batch ``example``."""
    import torch

    sizes: list[int] = []

    def count(module: Any, args: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor):
            sizes.append(output.numel() * output.element_size())

    hooks = [m.register_forward_hook(count) for m in model.modules() if not list(m.children())]
    try:
        with torch.no_grad():
            model.eval()(example)  # eval: batch norm takes one example
    finally:
        for hook in hooks:
            hook.remove()
    return sum(sizes)


@contextlib.contextmanager
def compile_stack_lent() -> Iterator[None]:
    """Run torch without importing ``torch._dynamo`` (3-10 s on a loaded 2-core machine).

    torch's meta kernels written in Python (``torch._refs``: ``relu``, ``batch_norm``, ``where``,
    the random fills of the initialisers, ...) and the optimisers' ``__init__``, ``zero_grad``,
    ``state_dict`` and update functions are wrapped by ``torch._compile._disable_dynamo``, which
    imports ``torch._dynamo`` on a function's first call only to exclude it from
    ``torch.compile`` tracing; an optimiser's ``step`` calls ``torch._dynamo.graph_break()``, a
    marker for tracing. Outside a compilation neither changes what is computed. Inside this
    context a stand-in module answers that import: its ``disable`` returns the function as it
    is, its ``graph_break`` does nothing, and any other attribute imports the real
    ``torch._dynamo`` (which then stays). On exit the stand-in and every cached wrapper are
    removed, so that a later ``torch.compile`` imports the real ``torch._dynamo`` and wraps the
    functions itself. Nothing is lent when ``torch._dynamo`` is already imported. Usable as a
    decorator.
    """
    import torch

    if "torch._dynamo" in sys.modules:
        yield
        return
    kernels: list[Callable[..., Any]] = []

    def disable(fn: Callable[..., Any], recursive: bool = True, wrapping: bool = True
                ) -> Callable[..., Any]:
        kernels.append(fn)
        return fn

    def remove_stand_in() -> None:
        if sys.modules.get("torch._dynamo") is stand_in:
            del sys.modules["torch._dynamo"]
        if vars(torch).get("_dynamo") is stand_in:
            del torch._dynamo  # type: ignore[attr-defined]

    def real(name: str) -> Any:
        remove_stand_in()
        return getattr(importlib.import_module("torch._dynamo"), name)

    stand_in = types.ModuleType("torch._dynamo", "stand-in lent by empirical.memory")
    stand_in.disable = disable  # type: ignore[attr-defined]
    stand_in.graph_break = lambda: None  # type: ignore[attr-defined]
    stand_in.__getattr__ = real  # type: ignore[attr-defined]
    sys.modules["torch._dynamo"] = stand_in
    torch._dynamo = stand_in  # type: ignore[attr-defined]
    try:
        yield
    finally:
        remove_stand_in()
        for fn in kernels:
            vars(fn).pop("__dynamo_disable", None)
