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
# # How wide must a random network be before its binary ticket matches the trained network?
#
# Bias-free ReLU MLPs are trained on real data (digits; at cpu scale also MNIST-1D and 5,000 real
# MNIST digits), rescaled to the theorems' assumptions (exactly, by positive homogeneity), and
# approximated by strong tickets of fresh random sources: multi-prize counting (binary weights
# `gamma sign(w)`, Diffenderfer & Kailkhura 2021), the binary +-1 source with depth (Sreenivasan
# et al. 2022) and, at small size, Malach et al. (2020). Every ticket is measured on the real test
# set against the trained network (`verify.trained_width_study`); the trained networks are runs
# of the run store, reused when finished. Pensia et al.'s 784-500-10 table is made by
# `tickets verify trained` (minutes and gigabytes: not a notebook cell).

# %% tags=["parameters"]
SCALE = "smoke"
OUT_DIR = None  # None: paper_figures/SCALE if run by `tickets figures`, else .../scratch/SCALE
RUNS_DIR = None  # None: $TICKETS_RUNS, else runs/ at the repository root
DATA_DIR = None

# %%
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython.display import display

from verify import trained_width_study
from verify.notebook_paths import runs_dir
from verify.plotting import Outputs, legend_outside, log_axis, run_hashes, use_style
from verify.scales import get_scale

use_style()
sizes = get_scale("trained_tickets", SCALE)
outputs = Outputs(
    "trained_tickets", SCALE, OUT_DIR,
    figures=["accuracy_vs_width"],
    tables={"summary": ["target", "construction", "block_size", "source_width", "bound_width",
                        "ticket_acc", "target_acc", "agreement", "evidence", "seeds"],
            "runs": ["construction", "dataset", "target", "source_width", "kept_weights",
                     "ticket_acc", "target_acc", "agreement", "max_logit_error",
                     "certified_sup_error", "evidence", "seed", "hash"]},
)
SEEDS = list(sizes.seeds)
display(sizes)

# %%
rows = trained_width_study.run_study(sizes, runs_dir(RUNS_DIR), DATA_DIR)
runs = pd.DataFrame(rows)
runs[["ticket_acc", "target_acc", "agreement"]] *= 100
HASHES = run_hashes(rows)
DATA = ", ".join(sorted(runs["dataset"].unique()))
print(f"{len(runs)} tickets of {runs['target'].nunique()} trained networks")

# %%
targets = list(dict.fromkeys(runs["target"]))
palette = dict(zip(sorted(runs["construction"].unique()), sns.color_palette(), strict=False))
fig, axes = plt.subplots(1, len(targets), figsize=(8.0 * len(targets), 4.2), squeeze=False,
                         gridspec_kw={"wspace": 0.8})  # room for each legend
for ax, target in zip(axes[0], targets, strict=True):
    part = runs[runs["target"] == target]
    sns.lineplot(data=part, x="source_width", y="ticket_acc", hue="construction",
                 style="construction", markers=True, dashes=False, errorbar="sd",
                 palette=palette, ax=ax)
    ax.axhline(part["target_acc"].iloc[0], color="k", lw=1.2,
               label=f"trained network ({part['target_acc'].iloc[0]:.1f}%)")
    for construction, bound in part.groupby("construction")["bound_width"].first().items():
        ax.axvline(bound, color=palette[construction], ls="--", lw=1,
                   label=f"{construction} bound ({bound:,})")
    log_axis(ax, [*part["source_width"], *part["bound_width"]])
    ax.set(xlabel="source width (widest hidden layer)", ylabel="test accuracy (%)",
           title=target, ylim=(0, 100))
    legend_outside(ax, fontsize=7)
fig.suptitle("Strong tickets of trained networks against source width")
outputs.figure(fig, "accuracy_vs_width", "Test accuracy of strong tickets of trained bias-free "
               "ReLU MLPs against the source width, per construction (band: sd over source "
               f"seeds), with the trained network's test accuracy (solid) and each construction's "
               f"bound width for eps={sizes.eps:g}, delta={sizes.delta:g} on the rescaled "
               f"network (dashed); binary-depth at {sizes.bits} fractional bits.",
               SEEDS, HASHES, DATA)

# %%
summary = (runs.groupby(["target", "construction", "block_size"], sort=False)
           .agg(source_width=("source_width", "first"), bound_width=("bound_width", "first"),
                kept_weights=("kept_weights", "mean"), ticket_acc=("ticket_acc", "mean"),
                target_acc=("target_acc", "first"), agreement=("agreement", "mean"),
                max_logit_error=("max_logit_error", "mean"),
                certified_sup_error=("certified_sup_error", "mean"),
                evidence=("evidence", "first"), seeds=("seed", "nunique"))
           .reset_index())
outputs.table(summary, "summary", "Mean over source seeds per trained network, construction and "
              "block size: ticket and trained-network test accuracy (%), prediction agreement "
              "(%), max logit error on the test set, certified sup error on the unit ball of the "
              "rescaled network ('certified'; 'sampled' where only the test set was checked).",
              SEEDS, HASHES, DATA)
outputs.table(runs, "runs", "Every ticket with the run-store hash of its trained network.",
              SEEDS, HASHES, DATA)
display(summary)

# %%
outputs.finish()
