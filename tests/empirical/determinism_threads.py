"""Which run kinds are bit-identical across intra-op thread counts (CPU): docs/determinism.md.

Usage: ``python tests/empirical/determinism_threads.py THREADS`` prints one JSON line: per run
kind, the final test accuracy and a digest of the final model state. Not collected by pytest (a
measurement, not a test); the table in docs/determinism.md is its output for 1, 2 and 4 threads.
"""

from __future__ import annotations

# isort: off
import empirical.instruction_set  # noqa: F401  (first: pins the instruction sets)
# isort: on

import hashlib
import json
import sys
import tempfile

import torch

from empirical.algorithms.mpt import run_mpt
from empirical.config.hparams import RuntimeConfig
from empirical.storage.store import RunStore
from verify.mpt_study import preset_hparams

MLP = {"name": "fc", "widths": (64, 64)}
CASES = {
    "dense": ("digits-dense", MLP, {}),
    "edge-popup": ("digits-edge-popup", MLP, {"keep": 0.5}),
    "MPT-1/32": ("digits-biprop", MLP, {"keep": 0.5}),
    "MPT-1/1": ("digits-biprop", {**MLP, "binary_act": True, "bn": "nonaffine"}, {"keep": 0.5}),
    "MPT-1/1 +BN": ("digits-biprop", {**MLP, "binary_act": True, "bn": "affine"}, {"keep": 0.5}),
}


def main(threads: int) -> dict[str, object]:
    """Train every case for 5 epochs with ``threads`` intra-op threads."""
    torch.set_num_threads(threads)
    out: dict[str, object] = {"threads": threads}
    for name, (preset, model, mask) in CASES.items():
        hparams = preset_hparams(preset, {"model": model, "mask": mask,
                                          "training": {"epochs": 5}})
        root = tempfile.mkdtemp()
        result = run_mpt(hparams, root, RuntimeConfig(progress=False))
        state = RunStore.for_run(root, hparams.mask.mode, hparams).load_checkpoint()["model"]
        digest = hashlib.sha256(b"".join(t.numpy().tobytes() for t in state.values()))
        out[name] = [round(100 * result["test_acc"], 2), digest.hexdigest()[:12]]
    return out


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))))
