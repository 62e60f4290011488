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
#   is loaded into the torch layer factory with frozen weights, and every search (edge-popup,
#   biprop, every registered top-k mask rule, IMP) looks for it on the target's own task
#   (inputs in the unit ball, labels its argmax), at the
#   planted density and larger kept fractions. Found against planted: test accuracy, Jaccard
#   overlap of the masks (against what random masks of the same per-layer counts score), layer
#   collapse (`verify.planted`).
# - Plant 'n' Seek (Fischer & Burkholz, ICLR 2022): exact ReLU targets of their ReLU, Circle and
#   Helix tasks hidden in depth-5 He-initialised sources of width 100; every search's test score
#   against the kept fraction (`verify.plant_seek`). They report that edge-popup finds strong
#   tickets of Circle only at densities of 0.1 and above.
#
# Every search is a run of the run store (`verify.planted_runs`, kind `planted`): a rerun reads
# the rows back (`tickets verify planted` reads and writes the same runs).

# %% tags=["parameters"]
SCALE = "smoke"
OUT_DIR = None  # None: paper_figures/SCALE if run by `tickets figures`, else .../scratch/SCALE
RUNS_DIR = None  # None: $TICKETS_RUNS, else runs/ at the repository root
DATA_DIR = None  # unused: every task is generated

# %%
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython.display import display

from verify import planted_study
from verify.notebook_paths import runs_dir
from verify.planted_runs import recovery_table as interval_table
from verify.plotting import Outputs, legend_outside, log_axis, run_hashes, use_style
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
            "plant_seek": ["task", "algorithm", "keep", "planted_keep", "test_score",
                           "planted_score", "target_score", "baseline_score", "jaccard", "seeds"],
            "recovery_intervals": ["planted", "algorithm", "k_setting", "keep", "planted_keep",
                                   "score", "score_lo", "score_hi", "planted_score", "jaccard",
                                   "jaccard_lo", "jaccard_hi", "chance_jaccard",
                                   "jaccard_minus_chance", "jaccard_minus_chance_lo",
                                   "jaccard_minus_chance_hi", "collapsed_layers", "seeds",
                                   "n_test"]},
)
SEEDS = list(sizes.seeds)
TARGET = "-".join(map(str, sizes.target_widths))
RUNS = runs_dir(RUNS_DIR)
SEARCHES = list(planted_study.searches_of(sizes))
display(sizes)

# %%
recovery_records = planted_study.recovery_rows(sizes, RUNS)
recovery = pd.DataFrame(recovery_records)
recovery[["test_acc", "planted_test_acc"]] *= 100
constructions = list(dict.fromkeys(recovery["construction"]))
colours = dict(zip(SEARCHES, sns.color_palette(n_colors=len(SEARCHES)), strict=True))
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
            modes = part["algorithm"].str.split(":").str[0]  # the planted ticket per layer mode
            for mode, line in part.groupby(modes)["planted_test_acc"].mean().items():
                ax.axhline(line, ls=":", lw=1.2, color=colours[mode],
                           label=f"planted, as {mode} ({line:.1f})")
        else:
            chance = part.groupby("keep")["chance_jaccard"].mean()
            ax.plot(chance.index, chance.values, "k--", lw=1, label="random masks, same counts")
        ax.axvline(part["planted_keep"].iloc[0], color="0.6", ls="-.", lw=1)
        log_axis(ax, part["keep"].round(4))
        ax.set(xlabel="kept fraction k (dash-dot: planted density)", ylabel=label,
               title=f"{construction} ticket of a {TARGET} target" if row == 0 else "")
        legend_outside(ax, fontsize=7)
fig.suptitle("Do the searches find the planted strong ticket?")
RECOVERY_CAPTION = (
    f"Searching the source of a construction's strong ticket of a random {TARGET} target "
    f"(eps={sizes.eps:g}) on the target's task: test accuracy of the found ticket (top; dotted: "
    "the planted ticket in each algorithm's parametrisation; IMP's is the ticket itself) and "
    "Jaccard overlap of the found and planted masks (bottom; dashed: random masks with the same "
    "per-layer counts) against the kept fraction (band: sd over seeds).")
outputs.figure(fig, "recovery_curves", RECOVERY_CAPTION, SEEDS, run_hashes(recovery_records),
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
seek_records = planted_study.seek_rows(sizes, RUNS)
seek = pd.DataFrame(seek_records)
seek["test_score"] = seek["test_acc"].fillna(seek["test_mse"])
seek["planted_score"] = seek["planted_test_acc"].fillna(seek["planted_test_mse"])
tasks = list(dict.fromkeys(seek["task"]))
fig, axes = plt.subplots(1, len(tasks), figsize=(7.2 * len(tasks), 4.0), squeeze=False,
                         gridspec_kw={"wspace": 0.75})  # room for each legend
for ax, task in zip(axes[0], tasks, strict=True):
    part = seek[seek["task"] == task]
    classification = part["test_acc"].notna().all()
    sns.lineplot(data=part, x="keep", y="test_score", hue="algorithm", style="algorithm",
                 markers=True, dashes=False, errorbar="sd", palette=colours, ax=ax)
    ax.axhline(part["target_score"].mean(), color="k", lw=1.2,
               label="planted ticket (computes the target)")
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
    "Every search on Fischer & Burkholz's planted ReLU, Circle and Helix tasks: test accuracy "
    "(Circle) or mean squared error (ReLU, Helix) of the found ticket against the kept fraction "
    "(band: sd over seeds), with the planted ticket's score, the trivial predictor's, and the "
    "planted density.")
outputs.figure(fig, "plant_seek_curves", SEEK_CAPTION, SEEDS, run_hashes(seek_records),
               data="Plant 'n' Seek ReLU, Circle, Helix (generated)")

# %%
seek_table = (seek.groupby(["task", "algorithm", "keep"], sort=False)
              .agg(planted_keep=("planted_keep", "first"), test_score=("test_score", "mean"),
                   planted_score=("planted_score", "mean"), target_score=("target_score", "mean"),
                   baseline_score=("baseline_score", "mean"), jaccard=("jaccard", "mean"),
                   seeds=("seed", "nunique"))
              .reset_index())
outputs.table(seek_table, "plant_seek", "Plant 'n' Seek: each search's test score (accuracy "
              "for Circle, MSE for ReLU and Helix) per kept fraction, mean over seeds, against "
              "the planted ticket, the exact target and the trivial predictor.", SEEDS,
              data="Plant 'n' Seek ReLU, Circle, Helix (generated)")
display(seek_table)

# %% [markdown]
# ## Does any search recover the planted ticket, or only its accuracy?
#
# Every search x construction/task x kept fraction: mean and 95% t interval over seeds of the
# test score (accuracy, or MSE for ReLU and Helix), of the Jaccard index of found and planted
# masks, and of Jaccard minus its chance level (random masks with the same per-layer counts;
# paired by seed). A search recovers the ticket where the last interval lies above 0.

# %%
intervals = pd.DataFrame(interval_table(recovery_records + seek_records))
for column in ("", "_lo", "_hi"):
    intervals[f"score{column}"] = intervals[f"test_acc{column}"].fillna(
        intervals[f"test_mse{column}"])
intervals["planted_score"] = intervals["planted_test_acc"].fillna(intervals["planted_test_mse"])
outputs.table(intervals, "recovery_intervals", "Recovery of planted tickets with 95% t "
              "intervals over seeds (NaN bounds: one seed, or no spread): test score "
              "(accuracy, or MSE for ReLU and Helix), planted ticket's score, Jaccard of found "
              "and planted masks, chance Jaccard and Jaccard minus chance (paired by seed); "
              "n_test test examples per seed.", SEEDS,
              run_hashes(recovery_records + seek_records),
              data=f"random {TARGET} targets; Plant 'n' Seek tasks")
display(intervals)

# %%
outputs.finish()
