"""CPU presets: scikit-learn digits, MNIST-1D and 5,000 real MNIST digits, seconds to minutes.

The MNIST-1D dense presets follow Greydanus & Kobak's recipe (Adam 1e-2, constant lr, batch 100,
6,000 steps, biases); the score presets were tuned here to finish in seconds to minutes.
"""

from __future__ import annotations

from typing import Any

from empirical.config.presets.spec import M1D, Preset, merge

_DIGITS = {"dataset": {"name": "digits", "batch_size": 64, "val_size": 200},
           "model": {"name": "fc", "widths": (256, 256)}}
_MNIST1D = {"dataset": {"name": "mnist1d", "batch_size": 128, "val_size": 500},
            "model": {"name": "fc", "widths": (512, 512)}}
_ADAM = {"optimizer": "adam"}
_MNIST5K_SCORES = {"dataset": {"name": "mnist5k", "batch_size": 64, "val_size": 500},
                   "model": {"name": "lenet-300-100"},
                   "training": {"optimizer": "sgd", "lr": 0.1, "epochs": 30}}
# Score training on MNIST-1D: the reference's SGD recipe (momentum 0.9, weight decay 1e-4, cosine)
# at lr 0.2; Adam at lr 0.05 left biprop under-fitted (train 0.59, test 0.53 vs 0.57 / 0.79 here).
_SCORE_SGD = {"optimizer": "sgd", "lr": 0.2, "momentum": 0.9, "weight_decay": 1e-4, "epochs": 30}
#: Greydanus & Kobak's MNIST-1D training recipe (their released notebook): Adam 1e-2, no weight
#: decay, constant lr, batch 100, 6,000 steps, layers with biases, PyTorch's default init.
MNIST1D_RECIPE = {"optimizer": "adam", "lr": 1e-2, "schedule": "constant", "iterations": 6000,
                  "eval_every": 500}
_M1D_SRC = {"dataset.name": M1D, "dataset.batch_size": f"{M1D}: batch 100",
            "model.bias": f"{M1D}: layers with biases",
            "mask.init": f"{M1D}: PyTorch's default init",
            "training.optimizer": f"{M1D}: Adam", "training.lr": f"{M1D}: lr 1e-2",
            "training.schedule": f"{M1D}: constant lr",
            "training.iterations": f"{M1D}: 6,000 steps",
            "training.eval_every": "ours: evaluate every 500 steps"}


def _mnist1d_dense(model: dict[str, Any], what: str, number: str) -> Preset:
    values = {"dataset": {"name": "mnist1d", "batch_size": 100},
              "model": {**model, "bias": True}, "mask": {"init": "torch_default"},
              "training": MNIST1D_RECIPE}
    sources = {**_M1D_SRC, **{f"model.{k}": f"{M1D}: {what}" for k in model}}
    return Preset("dense", f"CPU: MNIST-1D, {what}, the authors' recipe (Adam 1e-2, 6,000 steps)",
                  values, sources, True, number,
                  "Our generated MNIST-1D sample (seed 0) instead of their frozen file (seed 42: "
                  "--split-seed 42); their MLP adds a residual connection (it changes little).")


CPU_PRESETS: dict[str, Preset] = {
    "digits-biprop": Preset(
        "biprop", "CPU: scikit-learn digits, MLP 256-256, biprop k=0.5, Adam, seconds",
        merge(_DIGITS, mask={"keep": 0.5}, training={**_ADAM, "lr": 0.05, "epochs": 15})),
    "digits-edge-popup": Preset(
        "edge-popup", "CPU: scikit-learn digits, MLP 256-256, edge-popup k=0.5, Adam, seconds",
        merge(_DIGITS, mask={"keep": 0.5}, training={**_ADAM, "lr": 0.05, "epochs": 15})),
    "digits-dense": Preset(
        "dense", "CPU: scikit-learn digits, MLP 256-256, dense, Adam 1e-3, 40 epochs",
        merge(_DIGITS, mask={"init": "kaiming_uniform"},
              training={**_ADAM, "lr": 1e-3, "epochs": 40})),
    "mnist1d-biprop": Preset(
        "biprop", "CPU: MNIST-1D, MLP 512-512, biprop k=0.5, SGD 0.2 cosine, under a minute",
        merge(_MNIST1D, mask={"keep": 0.5}, training=_SCORE_SGD)),
    "mnist1d-biprop-binary": Preset(
        "biprop", "CPU: MNIST-1D, MLP 512-512, MPT-1/1 with AFFINE BN (non-affine overfits here)",
        merge(_MNIST1D, model={"binary_act": True, "bn": "affine"}, mask={"keep": 0.5},
              training=_SCORE_SGD)),
    "mnist1d-edge-popup": Preset(
        "edge-popup", "CPU: MNIST-1D, MLP 512-512, edge-popup k=0.5, SGD 0.2 cosine, under a "
        "minute", merge(_MNIST1D, mask={"keep": 0.5}, training=_SCORE_SGD)),
    "mnist1d-dense": _mnist1d_dense({"name": "fc", "widths": (100, 100)}, "MLP 40-100-100-10",
                                    "MNIST-1D paper / notebook: MLP ~66-68%"),
    "mnist1d-cnn-dense": _mnist1d_dense({"name": "mnist1d-cnn"}, "CNN (three strided convs of 25 "
                                        "channels)", "MNIST-1D paper / notebook: CNN ~94%"),
    "mnist5k-biprop": Preset(
        "biprop", "CPU: 5,000 real MNIST digits, LeNet-300-100, biprop k=0.5, SGD 0.1 cosine",
        merge(_MNIST5K_SCORES, mask={"keep": 0.5})),
    "mnist5k-edge-popup": Preset(
        "edge-popup", "CPU: 5,000 real MNIST digits, LeNet-300-100, edge-popup k=0.5",
        merge(_MNIST5K_SCORES, mask={"keep": 0.5})),
    # The searches of docs/strong_searches.md (54 steps = one epoch of 3,500 digits at batch 64).
    "mnist5k-iterand": Preset(
        "edge-popup", "CPU: mnist5k, LeNet-300-100, IteRand k=0.5: edge-popup re-drawing 10% of "
        "the pruned weights every epoch", merge(_MNIST5K_SCORES, mask={
            "keep": 0.5, "mask_rule": "iterand", "redraw_every": 54, "redraw_fraction": 0.1})),
    "mnist5k-gem-miner": Preset(
        "edge-popup", "CPU: mnist5k, LeNet-300-100, Gem-Miner k=0.2 (lambda 1e-3; fine-tune it "
        "with tickets train dense --ticket HASH)", merge(_MNIST5K_SCORES, mask={
            "keep": 0.2, "mask_rule": "gem-miner", "penalty": 1e-3})),
    "mnist5k-sparse-source": Preset(
        "edge-popup", "CPU: mnist5k, LeNet-300-100, edge-popup keeping half of an ERK sparse "
        "source of density 0.4 (k = 0.2 overall)", merge(_MNIST5K_SCORES, mask={
            "keep": 0.5, "source_density": 0.4, "source_layout": "erk"})),
    "mnist5k-dense": Preset(
        "dense", "CPU: 5,000 real MNIST digits, LeNet-300-100, Adam 1.2e-3 (the LTH recipe)",
        {"dataset": {"name": "mnist5k", "batch_size": 60, "val_size": 500},
         "model": {"name": "lenet-300-100"}, "mask": {"init": "xavier_normal"},
         "training": {"optimizer": "adam", "lr": 1.2e-3, "schedule": "constant",
                      "iterations": 3000, "eval_every": 100}}),
}
