"""The memory preflight: estimates without importing torch's compile stack, overflows are inf."""

from __future__ import annotations

import math
import os
import subprocess
import sys

ESTIMATE = """
import sys
from empirical.config.hparams import ModelHparams
from empirical.layers import LayerConfig
from empirical.memory import training_bytes
from empirical.models import build_model

def estimate(name, shape, binary):
    model = ModelHparams(name, binary_act=binary, bn="affine")
    return training_bytes(lambda: build_model(model, 10, shape, LayerConfig(mode="biprop",
                          keep=0.5)), shape, 64)

cases = [("fc", (1, 40), True), ("conv4", (3, 32, 32), False), ("resnet20", (3, 32, 32), False)]
lent = [estimate(*case) for case in cases]
print("torch._dynamo" in sys.modules)
import torch._dynamo  # noqa: E402  the real stack: the same estimates
print(lent == [estimate(*case) for case in cases], lent[0] > 0)
import torch  # noqa: E402
print(bool((torch.relu(torch.tensor([-1.0, 2.0])) == torch.tensor([0.0, 2.0])).all()))
"""


def test_estimate_without_the_compile_stack_equals_the_estimate_with_it() -> None:
    out = subprocess.run([sys.executable, "-c", ESTIMATE], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True", "True", "True"]


def test_overflowing_sizes_estimate_infinite() -> None:
    from empirical.config.hparams import ModelHparams
    from empirical.layers import LayerConfig
    from empirical.memory import training_bytes
    from empirical.models import build_model

    for widths, mult in (((10**10,), 1.0), ((10**9,), 1.0), (None, 1e9)):
        model = ModelHparams("fc", widths=widths, width_mult=mult)
        bytes_ = training_bytes(lambda m=model: build_model(m, 10, (1, 40), LayerConfig()),
                                (1, 40), 100)
        assert bytes_ > 2**40 or math.isinf(bytes_)


def test_the_default_limit_is_the_memory_available_now(monkeypatch) -> None:
    from empirical.memory import LIMIT_ENV, available_memory, memory_limit

    monkeypatch.delenv(LIMIT_ENV, raising=False)
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < memory_limit() == available_memory() <= physical
    monkeypatch.setenv(LIMIT_ENV, "8G")
    assert memory_limit() == 8 * 2**30
