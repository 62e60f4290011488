"""Digests of tiny runs whose bits depend on the instruction set (test_instruction_set.py).

Usage: ``python tests/empirical/isa_probe.py [CASE ...]`` prints one JSON object: per case, a
digest of its final state (weights, scores, masks and metrics of a training run; the bytes of a
generated dataset; the full-precision numbers of a theory result) and, for training runs, the
final test accuracy. The instruction-set switches are whatever the environment and
:mod:`empirical.instruction_set` (imported first) make them; ``isa`` reports them. Not collected
by pytest: the test runs it in subprocesses under different emulated machines, and
docs/determinism.md reports its output under each library's switch.
"""

from __future__ import annotations

# isort: off
import empirical.instruction_set as instruction_set  # first: before torch, numpy and numba
# isort: on

import hashlib
import io
import json
import sys
import tempfile
from collections.abc import Callable
from contextlib import redirect_stdout
from typing import Any

FC = {"name": "fc", "widths": (32, 32)}
#: Conv-2 at 1/4 width (16 channels: oneDNN's AVX-512 kernels take it natively) on the 28x28
#: images of mnist5k (digits are flat vectors).
CONV = {"name": "conv2", "widths": None, "width_mult": 0.25}
IMAGES = {"name": "mnist5k", "val_size": 500}
KEEP = {"keep": 0.5}
#: Six training steps, evaluated after three and six.
SHORT = {"iterations": 6, "eval_every": 3}
SIGN = {"binary_act": True, "bn": "nonaffine"}
SIGN_BN = {"binary_act": True, "bn": "affine"}
#: name -> (preset, {section: changes}) of the MPT-style runs.
RUNS: dict[str, tuple[str, dict[str, dict[str, Any]]]] = {
    "dense-fc": ("digits-dense", {"model": FC}),
    "mpt-1/32-fc": ("digits-biprop", {"model": FC, "mask": KEEP}),
    "mpt-1/1-fc": ("digits-biprop", {"model": {**FC, **SIGN}, "mask": KEEP}),
    "mpt-1/1+bn-fc": ("digits-biprop", {"model": {**FC, **SIGN_BN}, "mask": KEEP}),
    "dense-conv": ("digits-dense", {"dataset": IMAGES, "model": CONV}),
    "mpt-1/32-conv": ("digits-biprop", {"dataset": IMAGES, "model": CONV, "mask": KEEP}),
    "mpt-1/1+bn-conv": ("digits-biprop", {"dataset": IMAGES, "model": {**CONV, **SIGN_BN},
                                          "mask": KEEP}),
}


def _digest(chunks: list[bytes]) -> str:
    return hashlib.sha256(b"".join(chunks)).hexdigest()[:16]


def _state_digest(state: dict[str, Any]) -> str:
    return _digest([name.encode() + t.detach().cpu().numpy().tobytes()
                    for name, t in sorted(state.items())])


def _metrics(result: dict[str, Any]) -> bytes:
    kept = {k: v for k, v in result.items() if "acc" in k or "loss" in k}
    return json.dumps(kept, sort_keys=True).encode()


def mpt_run(name: str) -> dict[str, Any]:
    """Train one case of :data:`RUNS` (:data:`SHORT`) and digest its checkpoint and metrics."""
    from empirical.algorithms.mpt import run_mpt
    from empirical.config.hparams import RuntimeConfig
    from empirical.storage.store import RunStore
    from verify.mpt_study import preset_hparams

    preset, changes = RUNS[name]
    hparams = preset_hparams(preset, {**changes, "training": SHORT})
    root = tempfile.mkdtemp()
    result = run_mpt(hparams, root, RuntimeConfig(progress=False))
    state = RunStore.for_run(root, hparams.mask.mode, hparams).load_checkpoint()["model"]
    return {"digest": _digest([_state_digest(state).encode(), _metrics(result)]),
            "test_acc": result["test_acc"]}


def lth_chain(model: dict[str, Any], dataset: dict[str, Any]) -> dict[str, Any]:
    """IMP levels 0..2 with both controls; digest every run's final state and accuracies."""
    from empirical.algorithms.lth import run_lth
    from empirical.config.hparams import DatasetHparams, ModelHparams, RuntimeConfig
    from empirical.config.lth_hparams import LTHHparams, PruningHparams, TrainingHparams
    from empirical.storage.store import RunStore

    base = LTHHparams(
        dataset=DatasetHparams(**{"batch_size": 128, **dataset}),
        model=ModelHparams(**model),
        training=TrainingHparams(optimizer="adam", lr=3e-3, weight_decay=0.0,
                                 schedule="constant", **SHORT),
        pruning=PruningHparams(rate=0.5, output_rate=0.25))
    root = tempfile.mkdtemp()
    rows = run_lth(base, 2, ["reinit", "random-prune"], runs_dir=root,
                   runtime=RuntimeConfig(device="cpu", progress=False))
    chunks = []
    for row in rows:
        store = RunStore(f"{root}/lth/{row['hash']}")
        chunks += [_state_digest(store.load_checkpoint()["model"]).encode(),
                   json.dumps({k: v for k, v in row.items() if "acc" in k}, sort_keys=True
                              ).encode()]
    return {"digest": _digest(chunks), "test_acc": rows[-1].get("test_acc")}


def mnist1d_bytes() -> dict[str, Any]:
    """The generated MNIST-1D arrays (seed 0), byte for byte."""
    from empirical.data.generated import mnist1d_arrays

    arrays = mnist1d_arrays(0)
    return {"digest": _digest([k.encode() + arrays[k].tobytes() for k in sorted(arrays)])}


def theory_numbers() -> dict[str, Any]:
    """Full-precision outputs of ``tickets verify construct`` (pensia, malach), ``tickets verify
    subset-sum`` (every float as JSON writes it) and the compiled (numba) subset-sum kernel."""
    import numpy as np

    from theory.subset_sum import solve_subset_sum
    from verify.cli.main import main

    rng = np.random.default_rng(0)
    solved = solve_subset_sum(rng.uniform(-1, 1, (64, 16)), rng.uniform(-1, 1, 64),
                              backend="numba")

    out = io.StringIO()
    with redirect_stdout(out):
        for method in ("pensia", "malach"):
            main(["verify", "construct", "--method", method, "--width", "2", "--depth", "2",
                  "--eps", "0.1", "--seed", "0", "--json"])
        main(["verify", "subset-sum", "--n", "8..16", "--seeds", "20", "--eps", "1e-2",
              "--json"])
    text = "\n".join(ln for ln in out.getvalue().splitlines() if "second" not in ln)
    return {"digest": _digest([text.encode(), solved.mask.tobytes(), solved.sums.tobytes()])}


def numpy_blas() -> dict[str, Any]:
    """A float64 matrix product of the size of a sup-error evaluation (OpenBLAS's kernels)."""
    import numpy as np

    rng = np.random.default_rng(0)
    return {"digest": _digest([(rng.standard_normal((1000, 200))
                                @ rng.standard_normal((200, 500))).tobytes()])}


CASES: dict[str, Callable[[], dict[str, Any]]] = {
    **{name: (lambda name=name: mpt_run(name)) for name in RUNS},
    "lth-3-levels-fc": lambda: lth_chain(FC, {"name": "digits", "val_size": 200}),
    "lth-3-levels-conv": lambda: lth_chain(CONV, IMAGES),
    "mnist1d-bytes": mnist1d_bytes,
    "theory": theory_numbers,
    "numpy-blas": numpy_blas,
}


def main(names: list[str]) -> dict[str, Any]:
    """Run the named cases (default: all) in this process, one thread."""
    import torch

    torch.set_num_threads(1)
    out: dict[str, Any] = {name: CASES[name]() for name in (names or list(CASES))}
    out["isa"] = instruction_set.environment_record()
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
