"""Pin the instruction-set code paths of torch, MKL, oneDNN, numpy and OpenBLAS; record them.

torch, MKL, oneDNN, numpy and OpenBLAS each pick kernels by the CPU's instruction set when they
load; an AVX-512 kernel sums in another order than an AVX2 one, the last bit of a value moves,
and sign activations and magnitude pruning turn last bits into different runs (one
``digits-biprop --binary-act`` run hash gave 97.21 / 98.33 / 96.94% test accuracy under ATen's
``default`` / ``avx2`` / ``avx512`` kernels; docs/determinism.md). :func:`pin` sets each
library's own switch (:data:`PINNED`) to a code path that every x86-64 CPU with AVX2 and FMA
runs alike, so that every such machine computes the same bits. The switches are read when the
libraries load, so this module imports nothing but the standard library and is imported before
torch or numpy: by :mod:`verify` (every ``tickets`` command, notebook kernel and Slurm job
imports it first) and by ``tests/conftest.py``. Child processes (the notebook kernels of
``tickets figures``, submitit jobs) inherit the pinned environment.

It lives in :mod:`empirical` because the run store (``hparams.json``) records
:func:`environment_record` and :mod:`empirical` never imports :mod:`verify`; it imports nothing
of :mod:`empirical` either, and :mod:`theory` (numpy only) is pinned by the same import.

``TICKETS_NATIVE_ISA=1`` opts out (each library's native choice: faster, machine-dependent);
the record says so, run hashes do not change, and ``tickets figures`` refuses to write committed
outputs in that mode. Machines without AVX2 and FMA (and non-x86 CPUs) are left native too.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shlex
import sys
from typing import Any

#: Set to ``1`` to keep every library's native instruction-set choice (not bit-reproducible).
NATIVE_ENV = "TICKETS_NATIVE_ISA"
#: CPU flags (``/proc/cpuinfo``) a machine needs for the pinned AVX2 code paths.
REQUIRED_FLAGS = ("avx2", "fma")
#: Each library's switch and the value that selects its AVX2 code path. Each was kept because
#: changing it changed bits on an AVX-512 machine (docs/determinism.md): ATen's kernels (every
#: torch run), oneDNN's convolutions, numpy's SIMD loops (MNIST-1D generation), OpenBLAS's matrix
#: products (numpy and scipy); MKL (torch's matrix products) takes its AVX2 branch on Intel CPUs
#: and its own branch on others (Intel's documentation), the same bits on this AMD CPU either way.
#: numba's target CPU and ``MKL_ENABLE_INSTRUCTIONS`` changed nothing measured and are left
#: alone (the tests emulate them).
PINNED: dict[str, str] = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "AVX2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    "OPENBLAS_CORETYPE": "Haswell",
}
#: Asks :func:`empirical.device.select_device` for deterministic CUDA algorithms.
DETERMINISTIC_ENV = "TICKETS_DETERMINISTIC"
#: What ``tickets figures`` adds to every notebook kernel's environment: deterministic CUDA
#: algorithms (``torch.use_deterministic_algorithms``), which cuBLAS gives only with a fixed
#: workspace (``CUBLAS_WORKSPACE_CONFIG``, torch's reproducibility notes).
DETERMINISTIC_CUDA = {DETERMINISTIC_ENV: "1", "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
#: The libraries whose loading would make pinning too late, and the versions recorded.
LIBRARIES = ("torch", "numpy")
VERSIONED = ("torch", "numpy", "scipy", "numba", "mnist1d")


def cpu_flags() -> frozenset[str]:
    """The flags of the first CPU in ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else :func:`platform.processor`."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def native_requested() -> bool:
    """True when ``TICKETS_NATIVE_ISA`` asks for each library's native choice."""
    return os.environ.get(NATIVE_ENV, "").strip() not in ("", "0")


def deterministic_requested() -> bool:
    """True when ``TICKETS_DETERMINISTIC`` asks for deterministic CUDA algorithms."""
    return os.environ.get(DETERMINISTIC_ENV, "").strip() not in ("", "0")


def pinnable() -> bool:
    """True on an x86-64 CPU with every flag of :data:`REQUIRED_FLAGS`."""
    return (platform.machine().lower() in ("x86_64", "amd64")
            and set(REQUIRED_FLAGS) <= cpu_flags())


def pin() -> str:
    """Set every switch of :data:`PINNED` in ``os.environ`` (unless opted out or not pinnable).

    Returns
    -------
    str
        The mode: ``pinned``, ``native`` (``TICKETS_NATIVE_ISA=1``), ``native-no-avx2``
        (not an x86-64 CPU with AVX2 and FMA) or ``late`` (pinned after torch or numpy had
        loaded, which then keep the switches they read).
    """
    if native_requested():
        return "native"
    if not pinnable():
        return "native-no-avx2"
    late = [name for name in LIBRARIES if name in sys.modules
            and any(os.environ.get(k) != v for k, v in PINNED.items())]
    os.environ.update(PINNED)
    return "late" if late else "pinned"


#: The mode of this process, decided once when the module is first imported.
MODE = pin()


def job_exports() -> list[str]:
    """Shell lines exporting this process's instruction-set mode (to a Slurm job, or a shell
    that starts Jupyter: ``eval "$(python -m empirical.instruction_set)"``).

    A job inherits them anyway under Slurm's default ``--export=ALL``; the lines make it so
    whatever the cluster's default, before the job's Python (submitit loads numpy first) starts.
    """
    if native_requested():
        return [f"export {NATIVE_ENV}=1"]
    return [f"export {k}={shlex.quote(os.environ[k])}" for k in PINNED if k in os.environ]


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def effective_settings() -> dict[str, Any]:
    """The code paths the loaded libraries report (None for a library not loaded)."""
    torch = sys.modules.get("torch")
    numpy = sys.modules.get("numpy")
    numba = sys.modules.get("numba")
    settings: dict[str, Any] = {"aten_cpu_capability": None, "numpy_dispatch": None,
                                "numba_cpu_name": None}
    if torch is not None:
        settings["aten_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    if numpy is not None:
        from numpy._core import _multiarray_umath as umath

        features = umath.__cpu_features__
        settings["numpy_dispatch"] = [f for f in umath.__cpu_dispatch__ if features.get(f)]
    if numba is not None:
        from numba.core import config

        settings["numba_cpu_name"] = config.CPU_NAME or "host"  # the host: see cpu_model
    return settings


def environment_record() -> dict[str, Any]:
    """What decides the bits of a run beyond its hyperparameters (recorded, never hashed).

    Returns
    -------
    dict
        ``isa_mode`` (:data:`MODE`), ``switches`` (the value of every variable of
        :data:`PINNED` in this process, None where unset), ``effective`` (what the loaded
        libraries report, :func:`effective_settings`), ``cpu_model``, ``cpu_flags`` (its
        ``avx*``, ``fma`` and ``sse*`` flags, one line, so that a diff can ignore the two lines
        naming the machine), ``machine`` and ``versions`` (of each package of :data:`VERSIONED`).
    """
    flags = " ".join(sorted(f for f in cpu_flags() if f.startswith(("avx", "fma", "sse"))))
    versions = {name: _version(name) for name in VERSIONED}
    return {"isa_mode": MODE, "switches": {k: os.environ.get(k) for k in PINNED},
            "effective": effective_settings(), "cpu_model": cpu_model(), "cpu_flags": flags,
            "machine": platform.machine(), "versions": versions}


def describe(record: dict[str, Any] | None) -> str:
    """One line naming the machine and software of an :func:`environment_record`."""
    if not record:
        return "an unrecorded machine (made before manifests recorded it)"
    versions = ", ".join(f"{k} {v}" for k, v in record["versions"].items() if v)
    return (f"{record['cpu_model']} ({record['machine']}), instruction sets "
            f"{record['isa_mode']}, {versions}")


if __name__ == "__main__":  # eval "$(python -m empirical.instruction_set)": pin a shell
    print("\n".join(job_exports()))
