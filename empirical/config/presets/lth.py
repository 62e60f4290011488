"""LTH (iterative magnitude pruning) presets, used by ``tickets train lth``: Frankle & Carbin's
LeNet and Conv-2/4/6 recipes, VGG-19 with warm-up, open_lth's ResNet-20 with rewinding, and CPU
presets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from empirical.config.presets.cpu import MNIST1D_RECIPE
from empirical.config.presets.spec import LMC, LTH, M1D, Preset, merge, published

_LTH_FIG = f"{LTH} sec. 2 / Fig. 2 caption"
_LTH_VAL = f"{LTH} sec. 2: 5,000 training examples held out for validation"


def _lth_paper(dataset: str, model: str, lr: float, iterations: int, fig: str,
               pruning: Mapping[str, tuple[Any, str]]) -> dict[str, Any]:
    """Frankle & Carbin's Adam recipe for LeNet-300-100 (MNIST) and Conv-2/4/6 (CIFAR-10)."""
    src = f"{LTH} {fig}"
    return {
        "dataset": {"name": (dataset, src), "batch_size": (60, src), "val_size": (5000, _LTH_VAL),
                    "augment": (False, f"{LTH}: no data augmentation")},
        "model": {"name": (model, src)},
        "training": {"optimizer": ("adam", src), "lr": (lr, src),
                     "weight_decay": (0.0, f"{LTH}: no weight decay"),
                     "schedule": ("constant", f"{LTH}: constant lr"),
                     "iterations": (iterations, src),
                     "eval_every": (100, f"{LTH} sec. 2: validation every 100 iterations"),
                     "precision": ("fp32", "ours")},
        "pruning": {"init": ("xavier_normal", f"{LTH} Fig. 2: Gaussian Glorot initialisation"),
                    "scope": ("layerwise", src), **pruning},
    }


_OPEN_LTH = "open_lth registry defaults (cifar_resnet_20 / cifar_vgg)"


def _open_lth(model: str, extra: Mapping[str, Mapping[str, tuple[Any, str]]]) -> dict[str, Any]:
    """open_lth's CIFAR-10 SGD recipe (Frankle et al. 2020): 160 epochs, x0.1 at 80 and 120."""
    return merge({
        "dataset": {"name": ("cifar10", _OPEN_LTH), "batch_size": (128, _OPEN_LTH),
                    "val_size": (5000, "ours: open_lth has no validation split"),
                    "augment": (True, f"{_OPEN_LTH}: crop + flip"),
                    "drop_last": (False, f"{_OPEN_LTH}: the last partial batch is kept")},
        "model": {"name": (model, _OPEN_LTH),
                  "bn_init": ("uniform", f"{_OPEN_LTH}: BN gamma drawn from U(0, 1)")},
        "training": {"optimizer": ("sgd", _OPEN_LTH), "lr": (0.1, _OPEN_LTH),
                     "momentum": (0.9, _OPEN_LTH), "weight_decay": (1e-4, _OPEN_LTH),
                     "schedule": ("step", _OPEN_LTH), "milestones": ((80, 120), _OPEN_LTH),
                     "gamma": (0.1, _OPEN_LTH), "epochs": (160, _OPEN_LTH),
                     "eval_every": (1000, "ours"), "precision": ("fp32", "ours")},
        "pruning": {"init": ("kaiming_uniform", f"{_OPEN_LTH}: kaiming normal/uniform per layer; "
                                                "ours: PyTorch's default"),
                    "scope": ("global", _OPEN_LTH), "rate": (0.2, _OPEN_LTH)},
    }, **extra)


_FC_RATES = {"rate": (0.2, f"{LTH} Fig. 2: 20% per round (fully connected)"),
             "output_rate": (0.1, f"{LTH} Fig. 2: output layer 10%")}

_NB = "greydanus/mnist1d notebooks/lottery-tickets.ipynb"
_NB_TRAIN = "greydanus/mnist1d notebooks/train.py"
_NOTEBOOK_LTH = published(
    "lth", "MNIST-1D lottery tickets as the authors' notebook finds them: residual MLP 500-500, "
    "Adam 2e-2, 1,502 steps, biases pruned with the weights, sparsity linspace(0, 1, 100), next "
    "mask from step 1,001",
    {"dataset": {"name": ("mnist1d", M1D),
                 "split_seed": (42, f"{M1D}: the frozen mnist1d_data.pkl is get_dataset_args() "
                                "generated with seed 42"),
                 "val_size": (0, f"{_NB_TRAIN}: trains on all 4,000 training examples"),
                 "batch_size": (100, f"{_NB_TRAIN}: get_model_args batch_size 100"),
                 "augment": (False, f"{_NB}: no augmentation"),
                 "shuffle": (False, f"{_NB_TRAIN}: bix = (step * batch_size) % len(x_train), "
                             "the file order every epoch and every round")},
     "model": {"name": ("fc", f"{_NB}: SparseMLP, three linear layers"),
               "widths": ((500, 500), f"{_NB}: model_args.hidden_size = 500"),
               "bias": (True, f"{_NB}: torch.nn.Linear with its bias"),
               "residual": (True, f"{_NB}: h = h + relu(linear2(h))")},
     "training": {"optimizer": ("adam", f"{_NB_TRAIN}: optim.Adam"),
                  "lr": (2e-2, f"{_NB}: model_args.learning_rate = 2e-2"),
                  "weight_decay": (0.0, f"{_NB_TRAIN}: get_model_args weight_decay 0"),
                  "schedule": ("constant", f"{_NB_TRAIN}: no schedule"),
                  "iterations": (1502, f"{_NB}: total_steps = 1501; {_NB_TRAIN} steps "
                                 "range(total_steps + 1), one update each"),
                  "eval_every": (100, f"{_NB}: model_args.eval_every = 100"),
                  "precision": ("fp32", "ours")},
     "pruning": {"init": ("torch_default", f"{_NB}: torch.nn.Linear's default init"),
                 "prune_bias": (True, f"{_NB}: SparseLinear masks cat(weight, bias) as one "
                                "vector, get_mask ranks it by |value|"),
                 "sparsity_schedule": ("linear", f"{_NB}: sparsity_schedule = "
                                       "np.linspace(0, 1., num_retrains)"),
                 "linear_rounds": (100, f"{_NB}: num_retrains = 100"),
                 "scope": ("layerwise", f"{_NB}: get_mask per layer"),
                 "score_step": ("1001it", f"{_NB}: the next mask scores results['checkpoints']"
                                "[-1], saved at step 1000 (checkpoint_every 1000, "
                                f"{_NB_TRAIN}) after its optimiser step: 1,001 updates"),
                 "rewind": ("0it", f"{_NB}: set_layer_vecs(init_params) every round")}},
    f"{M1D} lottery-tickets notebook: at ~92% sparsity tickets ~74-75% test accuracy, dense "
    "~65.6%, random masks ~61%",
    "Its random control "
    "draws a fresh random mask each round of its own chain; ours draws one at the level's counts "
    "(the same distribution). Its seeds are 42 + trial; its test accuracy is printed at step 1500 "
    "(we report the final one, after step 1502). Counts are exact: floor(L n / 99) pruned where "
    "the notebook's int(np.linspace(0, 1, 100)[L] * n) can be one lower.")

LTH_PRESETS: dict[str, Preset] = {
    "mnist1d-lth-notebook": _NOTEBOOK_LTH,
    "lenet-300-100-lth": published(
        "lth", "LeNet-300-100, MNIST, Adam 1.2e-3, batch 60, 50K it, 20% per level (output 10%)",
        _lth_paper("mnist", "lenet-300-100", 1.2e-3, 50_000, "Fig. 2 / Fig. 3", _FC_RATES),
        f"{LTH} Fig. 3: dense ~98%; tickets at or above dense down to ~3.6% of weights",
        "None known."),
    **{f"conv{n}-lth": published(
        "lth", f"Conv-{n}, CIFAR-10, Adam {lr:g}, batch 60, {it // 1000}K it, conv {cr:.0%} / "
        "fc 20% / output 10%",
        _lth_paper("cifar10", f"conv{n}", lr, it, "Fig. 2 / Fig. 5",
                   {**_FC_RATES, "conv_rate": (cr, f"{LTH} Fig. 2: conv {cr:.0%} per round")}),
        f"{LTH} Fig. 5: winning tickets above dense down to ~2% remaining",
        "None known.")
       for n, lr, it, cr in ((2, 2e-4, 20_000, 0.1), (4, 3e-4, 25_000, 0.1),
                             (6, 3e-4, 30_000, 0.15))},
    "vgg19-lth-warmup": published(
        "lth", "VGG-19, CIFAR-10, SGD 0.1, 10K it warm-up, batch 64, 112K it, x0.1 at 56K/84K, "
        "global 20%",
        {"dataset": {"name": ("cifar10", f"{LTH} Fig. 7"), "batch_size": (64, f"{LTH} Fig. 2"),
                     "val_size": (5000, _LTH_VAL), "augment": (True, f"{LTH} Fig. 2")},
         "model": {"name": ("vgg19", f"{LTH} Fig. 2")},
         "training": {"optimizer": ("sgd", f"{LTH} Fig. 2"), "lr": (0.1, f"{LTH} Fig. 7"),
                      "momentum": (0.9, f"{LTH} Fig. 2"), "weight_decay": (1e-4, f"{LTH} Fig. 2"),
                      "schedule": ("step", f"{LTH} Fig. 2"),
                      "milestones": ((56_000, 84_000), f"{LTH} Fig. 2: x0.1 at 56K and 84K"),
                      "milestone_unit": ("it", f"{LTH} Fig. 2"),
                      "iterations": (112_000, f"{LTH} Fig. 2"),
                      "warmup_steps": (10_000, f"{LTH} Fig. 7: linear warm-up over 10K it"),
                      "eval_every": (1000, "ours"), "precision": ("fp32", "ours")},
         "pruning": {"init": ("kaiming_uniform", "ours: the paper does not say"),
                     "scope": ("global", f"{LTH} sec. 4: global pruning"),
                     "rate": (0.2, f"{LTH} Fig. 2: 20% per round"),
                     "exclude": (("output",), "ours: the output layer is not pruned")}},
        f"{LTH} Fig. 7: winning tickets with warm-up down to ~1.5%",
        "The paper's per-layer treatment of the output layer at global pruning is not stated."),
    "resnet20-lth-rewind": published(
        "lth", "ResNet-20, CIFAR-10, open_lth: SGD 0.1, 160 epochs, x0.1 at 80/120, global 20%, "
        "rewind to 500 it",
        _open_lth("resnet20", {"pruning": {
            "rewind": ("500it", f"{LMC}: rewinding to iteration 500"),
            "exclude": (("output",), "ours: open_lth's cifar_resnet_20 prunes fc.weight too")}}),
        f"{LMC}: IMP tickets with rewinding match dense down to ~13.4% remaining",
        "open_lth prunes ceil(p R) + 1 weights per round (off by one, counting the output layer); "
        "we prune floor(p R) of the prunable weights and keep the output layer dense."),
    "mnist1d-lth": Preset(
        "lth", "CPU: MNIST-1D, MLP 100-100 with biases, Adam 1e-2 for 1,500 steps (the authors' "
        "LTH notebook's length), 20% per level (output 10%)",
        {"dataset": {"name": "mnist1d", "batch_size": 100, "val_size": 500, "augment": False},
         "model": {"name": "fc", "widths": (100, 100), "bias": True},
         "training": {**MNIST1D_RECIPE, "iterations": 1500, "eval_every": 100},
         "pruning": {"init": "torch_default", "rate": 0.2, "output_rate": 0.1}}),
    "mnist1d-cnn-lth": Preset(
        "lth", "CPU: MNIST-1D, the authors' CNN (three strided convs of 25 channels) with biases, "
        "Adam 1e-2 for 1,500 steps, 20% per level on every conv (output 10%)",
        {"dataset": {"name": "mnist1d", "batch_size": 100, "val_size": 500, "augment": False},
         "model": {"name": "mnist1d-cnn", "bias": True},
         "training": {**MNIST1D_RECIPE, "iterations": 1500, "eval_every": 100},
         "pruning": {"init": "torch_default", "rate": 0.2, "conv_rate": 0.2,
                     "output_rate": 0.1}}),
    "mnist5k-lth": Preset(
        "lth", "CPU: 5,000 real MNIST digits, LeNet-300-100, Adam 1.2e-3, batch 60, 2,000 it, "
        "20% per level (output 10%), Gaussian Glorot (the LTH recipe, shorter)",
        {"dataset": {"name": "mnist5k", "batch_size": 60, "val_size": 500, "augment": False},
         "model": {"name": "lenet-300-100"},
         "training": {"optimizer": "adam", "lr": 1.2e-3, "schedule": "constant",
                      "iterations": 2000, "eval_every": 100},
         "pruning": {"init": "xavier_normal", "rate": 0.2, "output_rate": 0.1}}),
    "digits-lth": Preset(
        "lth", "CPU: scikit-learn digits, MLP 64-64, Adam 1e-3, 15 epochs, 20% per level",
        {"dataset": {"name": "digits", "batch_size": 64, "val_size": 200, "augment": False},
         "model": {"name": "fc", "widths": (64, 64)},
         "training": {"optimizer": "adam", "lr": 1e-3, "schedule": "constant",
                      "epochs": 15, "eval_every": 10},
         "pruning": {"rate": 0.2, "output_rate": 0.1}}),
}
