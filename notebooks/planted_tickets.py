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
# # Planted tickets: does training find the ticket that provably exists?
#
# - Recovery: a strong ticket of a random target is built in a random source by a construction
#   (Pensia et al.'s subset sums: real weights; multi-prize counting: binary weights), the source
#   is loaded into the torch layer factory with frozen weights, and edge-popup, biprop and IMP
#   search it on the target's own task (inputs in the unit ball, labels its argmax), at the
#   planted density and larger kept fractions. Found against planted: test accuracy, Jaccard
#   overlap of the masks (against what random masks of the same per-layer counts score), layer
#   collapse (`verify.planted`).
# - Plant 'n' Seek (Fischer & Burkholz, ICLR 2022): exact ReLU targets of their ReLU, Circle and
#   Helix tasks hidden in depth-5 He-initialised sources of width 100; edge-popup's test score
#   against the kept fraction (`verify.plant_seek`). They report that edge-popup finds strong
#   tickets of Circle only at densities of 0.1 and above.
#
# Nothing here is a stored run: sources are drawn from seeds and every search is recomputed.

# %% tags=["parameters"]
SCALE = "smoke"
OUT_DIR = None  # None: paper_figures/SCALE if run by `tickets figures`, else .../scratch/SCALE
RUNS_DIR = None  # unused: nothing here is a stored run
DATA_DIR = None  # unused: every task is generated

# %%
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython.display import display

from verify import planted_study
from verify.plotting import Outputs, legend_outside, log_axis, use_style
from verify.scales import get_scale

use_style()
sizes = get_scale("planted_tickets", SCALE)
outputs = Outputs(
    "planted_tickets", SCALE, OUT_DIR,
    figures=["recovery_curves", "plant_seek_curves"],
    tables={"recovery": ["construction", "algorithm", "k_setting", "keep", "planted_keep",
                         "test_acc",
                         "planted_test_acc", "jaccard", "chance_jaccard", "recall",
                         "collapsed_layers", "connected", "seeds"],
            "recovery_runs": ["construction", "algorithm", "keep", "seed", "test_acc",
                              "planted_test_acc", "jaccard", "jaccard_layers", "kept_layers",
                              "live_hidden", "collapsed_layers"],
            "plant_seek": ["task", "keep", "planted_keep", "test_score", "planted_score",
                           "target_score", "baseline_score", "jaccard", "seeds"]},
)
SEEDS = list(sizes.seeds)
TARGET = "-".join(map(str, sizes.target_widths))
display(sizes)

# %%
recovery = pd.DataFrame(planted_study.recovery_rows(sizes))
recovery[["test_acc", "planted_test_acc"]] *= 100
constructions = list(dict.fromkeys(recovery["construction"]))
colours = dict(zip(sizes.algorithms, sns.color_palette(), strict=False))
fig, axes = plt.subplots(2, len(constructions), figsize=(7.8 * len(constructions), 7.6),
                         squeeze=False, gridspec_kw={"wspace": 0.75})  # room for each legend
for col, construction in enumerate(constructions):
    part = recovery[recovery["construction"] == construction]
    for row, (y, label) in enumerate((("test_acc", "test accuracy (%)"),
                                      ("jaccard", "Jaccard(found, planted)"))):
        ax = axes[row, col]
        sns.lineplot(data=part, x="keep", y=y, hue="algorithm", style="algorithm", markers=True,
                     dashes=False, errorbar="sd", palette=colours, ax=ax)
        if y == "test_acc":
            for algorithm, line in part.groupby("algorithm")["planted_test_acc"].mean().items():
                ax.axhline(line, ls=":", lw=1.2, color=colours[algorithm],
                           label=f"planted, as {algorithm} ({line:.1f})")
        else:
            chance = part.groupby("keep")["chance_jaccard"].mean()
            ax.plot(chance.index, chance.values, "k--", lw=1, label="random masks, same counts")
        ax.axvline(part["planted_keep"].iloc[0], color="0.6", ls="-.", lw=1)
        log_axis(ax, part["keep"].round(4))
        ax.set(xlabel="kept fraction k (dash-dot: planted density)", ylabel=label,
               title=f"{construction} ticket of a {TARGET} target" if row == 0 else "")
        legend_outside(ax, fontsize=7)
fig.suptitle("Do edge-popup, biprop and IMP find the planted strong ticket?")
RECOVERY_CAPTION = (
    f"Searching the source of a construction's strong ticket of a random {TARGET} target "
    f"(eps={sizes.eps:g}) on the target's task: test accuracy of the found ticket (top; dotted: "
    "the planted ticket in each algorithm's parametrisation; IMP's is the ticket itself) and "
    "Jaccard overlap of the found and planted masks (bottom; dashed: random masks with the same "
    "per-layer counts) against the kept fraction (band: sd over seeds).")
outputs.figure(fig, "recovery_curves", RECOVERY_CAPTION, SEEDS,
               data=f"unit-ball inputs, labels of random {TARGET} targets")

# %%
recovery_table = (recovery.groupby(["construction", "algorithm", "k_setting"], sort=False)
                  .agg(keep=("keep", "mean"), planted_keep=("planted_keep", "mean"),
                       test_acc=("test_acc", "mean"),
                       planted_test_acc=("planted_test_acc", "mean"),
                       jaccard=("jaccard", "mean"), chance_jaccard=("chance_jaccard", "mean"),
                       recall=("recall", "mean"),
                       collapsed_layers=("collapsed_layers", "mean"),
                       connected=("connected", "mean"), seeds=("seed", "nunique"))
                  .reset_index())
RECOVERY_TABLE_CAPTION = (
    "Recovery of planted strong tickets, mean over seeds (k = planted: each seed's planted "
    "density): found and planted test accuracy (%), Jaccard of the masks and its value for random "
    "masks with the same per-layer counts, recall of the planted weights, layers keeping no "
    "weight, fraction of runs with an input-output path.")
outputs.table(recovery_table, "recovery", RECOVERY_TABLE_CAPTION, SEEDS,
              data=f"random {TARGET} targets")
outputs.table(recovery, "recovery_runs", "Every recovery run, per-layer Jaccard, kept fractions "
              "and live hidden units.", SEEDS, data=f"random {TARGET} targets")
display(recovery_table)

# %%
seek = pd.DataFrame(planted_study.seek_rows(sizes))
seek["test_score"] = seek["test_acc"].fillna(seek["test_mse"])
seek["planted_score"] = seek["planted_test_acc"].fillna(seek["planted_test_mse"])
tasks = list(dict.fromkeys(seek["task"]))
fig, axes = plt.subplots(1, len(tasks), figsize=(7.2 * len(tasks), 4.0), squeeze=False,
                         gridspec_kw={"wspace": 0.75})  # room for each legend
for ax, task in zip(axes[0], tasks, strict=True):
    part = seek[seek["task"] == task]
    classification = part["test_acc"].notna().all()
    sns.lineplot(data=part, x="keep", y="test_score", marker="o", errorbar="sd", ax=ax,
                 label="edge-popup")
    ax.axhline(part["planted_score"].mean(), color="k", lw=1.2, label="planted ticket")
    ax.axhline(part["baseline_score"].mean(), color="0.5", ls=":", lw=1,
               label="majority class" if classification else "predict the mean")
    ax.axvline(part["planted_keep"].iloc[0], color="0.6", ls="-.", lw=1,
               label="planted density")
    log_axis(ax, part["keep"].round(4))
    if not classification:
        ax.set_yscale("log")
    ax.set(xlabel="kept fraction k", title=task,
           ylabel="test accuracy" if classification else "test MSE")
    legend_outside(ax, fontsize=7)
fig.suptitle(f"Plant 'n' Seek tasks, depth-5 width-{sizes.seek_width} sources")
SEEK_CAPTION = (
    "Edge-popup on Fischer & Burkholz's planted ReLU, Circle and Helix tasks: test accuracy "
    "(Circle) or mean squared error (ReLU, Helix) of the found ticket against the kept fraction "
    "(band: sd over seeds), with the planted ticket's score, the trivial predictor's, and the "
    "planted density.")
outputs.figure(fig, "plant_seek_curves", SEEK_CAPTION, SEEDS,
               data="Plant 'n' Seek ReLU, Circle, Helix (generated)")

# %%
seek_table = (seek.groupby(["task", "keep"], sort=False)
              .agg(planted_keep=("planted_keep", "first"), test_score=("test_score", "mean"),
                   planted_score=("planted_score", "mean"), target_score=("target_score", "mean"),
                   baseline_score=("baseline_score", "mean"), jaccard=("jaccard", "mean"),
                   seeds=("seed", "nunique"))
              .reset_index())
outputs.table(seek_table, "plant_seek", "Plant 'n' Seek: edge-popup's test score (accuracy for "
              "Circle, MSE for ReLU and Helix) per kept fraction, mean over seeds, against the "
              "planted ticket, the exact target and the trivial predictor.", SEEDS,
              data="Plant 'n' Seek ReLU, Circle, Helix (generated)")
display(seek_table)

# %%
outputs.finish()
