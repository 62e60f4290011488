# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Pruning methods at matched density: IMP, its retraining variants, pruning at initialisation
#
# The comparisons a lottery-ticket paper is asked for: IMP with reset (Frankle & Carbin, ICLR
# 2019) and with weight rewinding (Frankle et al., ICML 2020); learning-rate rewinding and
# fine-tuning (Renda, Frankle & Carbin, ICLR 2020); pruning at initialisation by SNIP (Lee et al.,
# ICLR 2019), GraSP (Wang et al., ICLR 2020), SynFlow (Tanaka et al., NeurIPS 2020), magnitude at
# initialisation, and random masks with uniform or ERK layer densities. Every method runs at the
# densities of the IMP levels, with the same recipe and the same seeds (so differences are
# paired). Then the sanity ablations of Frankle et al. (ICLR 2021): re-initialise the kept
# weights, shuffle each layer's mask, invert the scores; the instability of the dense network and
# of IMP tickets against the rewind point (Frankle, Dziugaite, Roy & Carbin, ICML 2020); and
# where each criterion's mask disconnects the network (layer collapse). Every trained run is a
# stored run (`verify.pruning_study`), reused when finished.

# %% tags=["parameters"]
SCALE = "smoke"
OUT_DIR = None  # None: paper_figures/SCALE if run by `tickets figures`, else .../scratch/SCALE
RUNS_DIR = None  # None: $TICKETS_RUNS, else runs/ at the repository root
DATA_DIR = None

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from verify import pruning_study
from verify.notebook_paths import runs_dir
from verify.plotting import Outputs, figure_legend, log_axis, run_hashes, use_style
from verify.scales import get_scale

use_style()
sizes = get_scale("pruning_methods", SCALE)
outputs = Outputs(
    "pruning_methods", SCALE, OUT_DIR,
    figures=["accuracy", "ablations", "instability", "supermask"],
    tables={"summary": ["model", "family", "arm", "of", "level", "weights_remaining", "test_acc",
                        "test_acc_low", "test_acc_high", "diff_vs_reference", "diff_low",
                        "diff_high", "seeds"],
            "collapse": ["model", "arm", "density", "collapsed", "empty_layers",
                         "outputs_reachable", "outputs"],
            "instability_runs": ["model", "seed", "level", "rewind", "density", "train_instability",
                                 "test_instability", "test_size", "copy_1", "copy_2"],
            "supermask_runs": ["model", "seed", "arm", "level", "weights_remaining",
                               "supermask_acc", "signed_constant_acc", "hash"],
            "cost": ["model", "seed", "arm", "family", "level", "density", "nonzero_params",
                     "flops_dense", "flops_masked", "flops_ratio", "ticket_bits",
                     "bits_per_weight", "hash"],
            "runs": ["model", "seed", "family", "arm", "level", "weights_remaining", "test_acc",
                     "outputs_reachable", "hash"]},
)
SEEDS = list(sizes.seeds)

# %%
rows = pruning_study.run_study(sizes, runs_dir(RUNS_DIR), DATA_DIR)
stability = pruning_study.run_stability(sizes, runs_dir(RUNS_DIR), DATA_DIR)
collapse = pd.DataFrame(pruning_study.collapse_table(sizes, DATA_DIR))
runs = pd.DataFrame(rows)
summary = pd.DataFrame(pruning_study.summary(rows))
percent = ["test_acc", "test_acc_low", "test_acc_high", "diff_vs_reference", "diff_low",
           "diff_high"]
summary[percent] *= 100
runs[["test_acc", "early_stop_test_acc"]] *= 100
instability = pd.DataFrame(stability)
instability[["train_instability", "test_instability"]] *= 100
HASHES = run_hashes(rows)
instability = instability.rename(columns={"hash": "copy_1", "hash_2": "copy_2"})
STABILITY_HASHES = sorted({*instability["copy_1"], *instability["copy_2"]})
DATA = ", ".join(sorted(runs["dataset"].unique()))
TEST_SIZE = int(instability["test_size"].iloc[0])
print(f"{len(runs)} runs, {int(runs['reused'].sum())} read back from the run store; "
      f"{len(instability)} instability points; test set {TEST_SIZE} images")

# %%
methods = summary[summary["family"] == "method"]
models = list(sizes.models)
fig, axes = plt.subplots(1, len(models), figsize=(6.2 * len(models), 4.4), squeeze=False)
for ax, model in zip(axes[0], models, strict=True):
    part = methods[methods["model"] == model]
    dense = part[part["arm"] == "dense"]["test_acc"].mean()
    for arm, group in part[part["arm"] != "dense"].groupby("arm", sort=False):
        group = group.sort_values("weights_remaining")
        ax.plot(group["weights_remaining"], group["test_acc"], marker="o", label=arm)
        ax.fill_between(group["weights_remaining"], group["test_acc_low"],
                        group["test_acc_high"], alpha=0.15)
    ax.axhline(dense, color="0.3", linestyle=":", label="dense")
    log_axis(ax, part["weights_remaining"].round(1), invert=True)
    ax.set(xlabel="weights remaining (%)", ylabel="test accuracy (%)", title=model)
figure_legend(fig, axes[0][0], title="method")
fig.suptitle("Pruning methods at the densities of the IMP levels")
outputs.figure(fig, "accuracy", "Test accuracy against weights remaining (log scale, pruning "
               "to the right) for IMP with reset and with rewinding, LR rewinding, fine-tuning "
               f"and pruning at initialisation; dotted: the dense network. Band: 95% t interval "
               f"over {len(SEEDS)} seed(s) (none with one seed); test set {TEST_SIZE} images. "
               "Paired differences to IMP (reset) with their intervals are in the summary table.",
               SEEDS, HASHES, DATA)

# %%
ablations = summary[summary["family"] == "ablation"]
originals = methods.set_index(["model", "arm", "level"])["test_acc"]
fig, axes = plt.subplots(1, len(models), figsize=(6.8 * len(models), 4.2), squeeze=False)
for ax, model in zip(axes[0], models, strict=True):
    part = ablations[ablations["model"] == model]
    arms = list(dict.fromkeys(part["of"]))
    kinds = ["original", *dict.fromkeys(part["arm"])]
    width = 0.8 / len(kinds)
    for k, kind in enumerate(kinds):
        values = []
        for of in arms:
            level = int(part[part["of"] == of]["level"].max())
            if kind == "original":
                values.append(originals.get((model, of, level), float("nan")))
            else:
                hit = part[(part["of"] == of) & (part["arm"] == kind) & (part["level"] == level)]
                values.append(float(hit["test_acc"].mean()))
        ax.bar([i + k * width for i in range(len(arms))], values, width, label=kind)
    ax.set_xticks([i + width * (len(kinds) - 1) / 2 for i in range(len(arms))], arms,
                  rotation=30, ha="right")
    ax.set(ylabel="test accuracy (%)", title=f"{model}, ablations at the last ablation level")
figure_legend(fig, axes[0][0], title="mask")
outputs.figure(fig, "ablations", "Sanity ablations (Frankle et al., ICLR 2021) of each method's "
               "mask at the density of the last ablation level: the original run, its kept "
               "weights re-drawn from the initialiser (re-init), its mask shuffled within each "
               "layer (shuffle), and its scores inverted (invert: the lowest kept, same counts). "
               f"Mean over {len(SEEDS)} seed(s); the summary table gives every level with its "
               "interval.", SEEDS, HASHES, DATA)

# %%
fig, axes = plt.subplots(1, len(models), figsize=(5.6 * len(models), 4.0), squeeze=False)
for ax, model in zip(axes[0], models, strict=True):
    part = instability[instability["model"] == model]
    order = list(dict.fromkeys(part["rewind"]))
    for level, group in part.groupby("level"):
        means = group.groupby("rewind", sort=False)["test_instability"].mean().reindex(order)
        ax.plot(range(len(order)), means.values, marker="o",
                label="dense" if level == 0 else f"IMP level {level}")
    ax.set_xticks(range(len(order)), order)
    ax.axhline(2.0, color="0.5", linestyle="--", label="2 points (the paper's threshold)")
    ax.set(xlabel="rewind point k", ylabel="test instability (points)", title=model)
figure_legend(fig, axes[0][0], title="network")
outputs.figure(fig, "instability", "Instability (Frankle et al., ICML 2020): the largest test "
               "error on the linear path between two copies trained from theta_k with different "
               "data orders, minus the mean of the endpoints' errors, against the rewind point k, "
               f"for the dense network and IMP tickets (31 points on the path; test set "
               f"{TEST_SIZE} images; mean over {len(SEEDS)} seed(s)).", SEEDS, STABILITY_HASHES,
               DATA)

# %%
supermask_rows = pruning_study.supermask_table(rows, runs_dir(RUNS_DIR), DATA_DIR)
supermask = pd.DataFrame(supermask_rows)
supermask[["supermask_acc", "signed_constant_acc"]] *= 100
fig, axes = plt.subplots(1, len(models), figsize=(6.2 * len(models), 4.2), squeeze=False)
for ax, model in zip(axes[0], models, strict=True):
    part = supermask[supermask["model"] == model]
    for arm, group in part.groupby("arm", sort=False):
        means = group.groupby("weights_remaining")["supermask_acc"].mean()
        ax.plot(means.index, means.values, marker="o", label=arm)
    log_axis(ax, part["weights_remaining"].round(1), invert=True)
    ax.set(xlabel="weights remaining (%)", ylabel="untrained test accuracy (%)", title=model)
figure_legend(fig, axes[0][0], title="mask")
outputs.figure(fig, "supermask", "Supermasks (Zhou et al., NeurIPS 2019): test accuracy of each "
               "method's mask on the UNTRAINED initial weights, and of Zhou et al.'s 'large "
               f"final, same sign' mask at the IMP densities (mean over {len(SEEDS)} seed(s); "
               f"test set {TEST_SIZE} images; chance is 10%).", SEEDS, HASHES, DATA)

# %%
cost = pd.DataFrame(pruning_study.cost_table(rows, runs_dir(RUNS_DIR), DATA_DIR))
outputs.table(cost, "cost", "What each ticket costs: nonzero parameters (kept weights plus "
              "biases and BatchNorm parameters), FLOPs of one forward pass of the prunable layers "
              "(2 x multiply-accumulates), dense and masked, and the bits of its packed ticket "
              "file (lth layout).", SEEDS, HASHES, DATA)
outputs.table(supermask, "supermask_runs", "Untrained accuracy (%) of every mask on theta_0 and "
              "on its signed constants sign(theta_0) * std_l.", SEEDS, run_hashes(supermask_rows),
              DATA)

# %%
outputs.table(summary, "summary", "Every method and ablation per IMP level: mean test accuracy "
              "(%) with its 95% t interval over seeds, and the paired difference to IMP (reset) at "
              "the same level and seed with its interval (points); ablations are listed with the "
              f"method they ablate (`of`). Test set {TEST_SIZE} images.", SEEDS, HASHES, DATA)
outputs.table(collapse, "collapse", "Layer collapse of each criterion's mask on theta_0 (no "
              "training): layers left empty and outputs still reachable from the input.", SEEDS,
              (), DATA)
outputs.table(instability, "instability_runs", "Instability (points of error) per level and rewind "
              "point, with the two copies' run hashes.", SEEDS, STABILITY_HASHES, DATA)
outputs.table(runs, "runs", "Every run of the comparison with its run-store hash (accuracies "
              "in %; level: the IMP level whose density the run matches).", SEEDS, HASHES, DATA)
display(summary)

# %%
outputs.finish()
