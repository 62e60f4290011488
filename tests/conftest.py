"""Test-wide settings: deterministic, single-threaded torch (CI runs two pytest workers)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=25
)
settings.register_profile("thorough", deadline=None, max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

try:
    import torch
except ImportError:  # theory-only environments
    torch = None
if torch is not None:
    torch.set_num_threads(1)
