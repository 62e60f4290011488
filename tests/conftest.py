"""Test-wide settings: pinned instruction sets, single-threaded torch (CI runs two workers).

:mod:`empirical.instruction_set` is imported first, before anything loads torch, numpy or numba
(as :mod:`verify` does for every ``tickets`` command).

Hypothesis profiles: ``default`` (25 examples, random), ``ci`` (the same examples every run:
``derandomize=True``; loaded when the environment variable ``CI`` is set, as CI services do) and
``thorough`` (300 examples); ``HYPOTHESIS_PROFILE`` picks one explicitly.
"""

from __future__ import annotations

# isort: off
import empirical.instruction_set  # noqa: F401  (first: pins the instruction sets)
# isort: on

import contextlib
import io
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=25
)
settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=25,
    derandomize=True, database=None, print_blob=True,
)
settings.register_profile("thorough", deadline=None, max_examples=300)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default")
)

try:
    import torch
except ImportError:  # theory-only environments
    torch = None
if torch is not None:
    torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def _dataset_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Generated datasets are cached in a folder of this session (``$TICKETS_CACHE``), never in
    the user's cache; subprocesses inherit it."""
    previous = os.environ.get("TICKETS_CACHE")
    os.environ["TICKETS_CACHE"] = str(tmp_path_factory.mktemp("dataset-cache"))
    yield
    if previous is None:
        del os.environ["TICKETS_CACHE"]
    else:
        os.environ["TICKETS_CACHE"] = previous


def train_run(argv: list[str], runs_dir: Path) -> Path:
    """Train ``tickets train ARGV`` into ``runs_dir`` quietly; the run directory."""
    from verify.cli.main import main

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["train", *argv, "--runs-dir", str(runs_dir), "--json"]) == 0
    return Path(json.loads(buffer.getvalue().strip().splitlines()[-1])["run_dir"])


@pytest.fixture(scope="session")
def train() -> Callable[[list[str], Path], Path]:
    """:func:`train_run`, for tests that train tiny runs (export, reader)."""
    return train_run
