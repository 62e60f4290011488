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
# # The effect of width and depth, interactively
#
# Change the knobs in the next cell and rerun the notebook (finished training runs are read back
# from the run store, so only new settings train), or use the controls at the end (with the
# `notebooks` extra's ipywidgets). `None` means "the scale's default" (`verify.scales`, study
# `width_depth`). Run by hand, the notebook writes `paper_figures/scratch/SCALE/`; only
# `tickets figures` writes the committed `paper_figures/SCALE/`.
#
# - Practice: multi-prize tickets (biprop) in MLPs of every depth and hidden width, at one kept
#   fraction $k$, against the weight-trained dense MLP of the same shape.
# - Theory: the source width a strong-ticket construction needs as the target gets deeper.

# %% tags=["parameters"]
SCALE = "smoke"  # smoke | cpu | paper
OUT_DIR = None  # None: paper_figures/SCALE if run by `tickets figures`, else .../scratch/SCALE
RUNS_DIR = None  # None: $TICKETS_RUNS, else runs/ at the repository root
DATA_DIR = None
DEPTHS = None  # numbers of linear layers, e.g. [2, 3, 4]
WIDTHS = None  # hidden widths, e.g. [32, 128, 512]
KEEP = None  # kept fraction k of the tickets, in (0, 1]
VARIANTS = ["MPT-1/32"]  # any of "MPT-1/32", "MPT-1/1"
SEEDS = None  # e.g. [0, 1]
EPOCHS = None  # training epochs of every run
THEORY_METHOD = None  # pensia | malach | mpt-binary | binary-depth

# %%
import dataclasses

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython.display import display

from verify import mpt_study
from verify.comparisons import BAND, arm_columns, interval_text, readable, stored_correct, verdict
from verify.construction_study import sweep_width_vs_eps
from verify.notebook_controls import selection_controls
from verify.notebook_paths import runs_dir
from verify.plotting import Outputs, legend_outside, plot_width_needed, run_hashes, use_style
from verify.scales import get_scale

use_style()
defaults = get_scale("width_depth", SCALE)
sizes = dataclasses.replace(
    defaults,
    depths=tuple(DEPTHS or defaults.depths), widths=tuple(WIDTHS or defaults.widths),
    keep=KEEP or defaults.keep, seeds=tuple(SEEDS or defaults.seeds),
    training={**defaults.training, **({"epochs": EPOCHS} if EPOCHS else {})},
    theory_method=THEORY_METHOD or defaults.theory_method,
)
outputs = Outputs(
    "width_depth", SCALE, OUT_DIR,
    figures=["accuracy_grid", "theory_width"],
    tables={"grid": ["model", "depth", "widths", "variant", "keep", "seed", "test_acc", "hash"],
            "vs_dense": ["model", "depth", "widths", "variant", "keep", "acc", "acc_ci95",
                         "dense_acc", "dense_acc_ci95", "gap", "gap_ci95", "gap_p", "only_mpt",
                         "only_dense", "mcnemar_p", "seeds", "pairs", "test_size"],
            "theory": ["construction", "value", "source_width", "bound_width", "target_sup",
                       "trivial"]},
)
display(sizes)

# %%
RUNS = runs_dir(RUNS_DIR)


def accuracy_grid(setup) -> tuple[pd.DataFrame, list[dict]]:
    """Train (or read back) every run of ``setup``'s depth x width grid; accuracies in %."""
    points = mpt_study.grid_points(setup.depths, setup.widths, setup.keep, VARIANTS, setup.seeds)
    rows = mpt_study.run_points(setup, points, RUNS, DATA_DIR)
    frame = pd.DataFrame(rows).assign(
        hidden=lambda f: f["widths"].str.split("x").str[0].astype(int),
        test_acc=lambda f: 100 * f["test_acc"])
    print(f"{len(frame)} runs, {int(frame['reused'].sum())} read back from the run store {RUNS}")
    return frame, rows


def grid_figure(frame: pd.DataFrame, setup) -> plt.Figure:
    """Heatmaps of mean test accuracy by depth and hidden width, one per variant and dense; each
    cell also shows its 95% t interval over seeds (none with one seed)."""
    shown = [*VARIANTS, mpt_study.DENSE]
    fig, axes = plt.subplots(1, len(shown), figsize=(4.6 * len(shown), 3.8), squeeze=False)
    for ax, variant in zip(axes[0], shown, strict=True):
        cells = {key: arm_columns("acc", group["test_acc"], scale=1.0) for key, group in
                 frame[frame["variant"] == variant].groupby(["depth", "hidden"])}
        index = pd.MultiIndex.from_tuples(list(cells), names=["depth", "hidden"])
        table = pd.Series([c["acc"] for c in cells.values()], index=index).unstack()
        notes = pd.Series([f"{c['acc']:.1f}\n" + interval_text(c["acc"], c["acc_low"],
                                                                 c["acc_high"], digits=1)
                           for c in cells.values()], index=index).unstack()
        sns.heatmap(table, annot=notes.to_numpy(), fmt="", annot_kws={"fontsize": 7},
                    cmap="viridis", cbar=False, ax=ax, vmin=frame["test_acc"].min(),
                    vmax=frame["test_acc"].max())
        ax.invert_yaxis()
        keep = f", k={setup.keep:g}" if variant != mpt_study.DENSE else " (weights trained)"
        ax.set(xlabel="hidden width", ylabel="depth (layers)", title=f"{variant}{keep}")
    fig.suptitle(f"Test accuracy (%) on {setup.dataset} by depth and width", y=1.04)
    return fig


grid, rows = accuracy_grid(sizes)

# %%
fig = grid_figure(grid, sizes)
DENSE_NOTE = (f" The dense networks train {sizes.dense_training['iterations']:,} steps of their "
              "preset's recipe (shortened for time; the MPT study's baselines run it in full)."
              if "iterations" in sizes.dense_training else
              " The dense networks train their preset's full recipe.")
vs_dense_rows = mpt_study.grid_vs_dense(rows, stored_correct(RUNS))
CLAIM = verdict(vs_dense_rows, "gap", "MPT - dense")
outputs.figure(fig, "accuracy_grid", f"Mean final test accuracy (%) of MLPs on {sizes.dataset} "
               f"by depth and hidden width, below it the {BAND}: multi-prize tickets at "
               f"k={sizes.keep:g} and the weight-trained dense network. Paired by seed (table "
               f"width_depth_vs_dense): {CLAIM}" + DENSE_NOTE, list(sizes.seeds),
               run_hashes(rows), sizes.dataset)

# %%
theory = pd.DataFrame(sweep_width_vs_eps(
    sizes.theory_method, "depth", list(sizes.depths), list(sizes.theory_block_sizes),
    eps=sizes.theory_eps, seeds=len(sizes.seeds)))
fig, ax = plt.subplots()
plot_width_needed(ax, theory, "C0", "smallest sufficient width (measured)",
                  "trivial target: the empty ticket passes")
ax.plot(theory["value"], theory["bound_width"], "k--", label="the construction's bound")
ax.set_xticks(sorted(theory["value"].unique()))
ax.set(yscale="log", xlabel="target depth $l$", ylabel="source width",
       title=f"{sizes.theory_method}: width needed against depth")
legend_outside(ax)
outputs.figure(fig, "theory_width", f"Source width the {sizes.theory_method} construction needs "
               f"for eps={sizes.theory_eps:g} against the target depth, and its bound. "
               "Norm-bounded random targets shrink with depth; where the targets' own sup norm "
               "is below eps in half the seeds the empty ticket passes: the point is marked "
               "trivial and drawn hollow at the smallest searched width that passed.",
               list(range(len(sizes.seeds))), data="random 2-wide targets")

# %%
outputs.table(grid, "grid", "Every run of the width/depth grid with its run-store hash.",
              list(sizes.seeds), run_hashes(rows), sizes.dataset)
outputs.table(pd.DataFrame(readable(vs_dense_rows, signed=["gap"])), "vs_dense",
              "Each multi-prize ticket of the grid against the dense MLP of the same shape: acc "
              "and dense_acc = mean final test accuracy over seeds (points) with its 95% t "
              "interval (_ci95); gap = MPT - dense paired by seed (same seed, same data) with its "
              "95% paired t interval and p-value; only_mpt / only_dense: test examples only one "
              "of the two gets right, pooled over the paired seeds, and the exact McNemar "
              f"p-value; test_size: test examples per run. {CLAIM}", list(sizes.seeds),
              run_hashes(rows), sizes.dataset)
outputs.table(theory, "theory", "Smallest sufficient source width against target depth.",
              list(range(len(sizes.seeds))))
outputs.finish()

# %% [markdown]
# ## Explore other depths and widths
#
# With ipywidgets (the `notebooks` extra), choose depths and hidden widths below and press *run*:
# the grid is trained (finished runs are read back from the run store) and drawn below the
# button; nothing is saved. Headless (`tickets figures`) the controls are shown but never run;
# without ipywidgets one line says so.


# %%
def explore(depths: list[int], widths: list[int]) -> None:
    """Train or read back the grid of ``depths`` x ``widths`` and show its heatmaps here."""
    if not depths or not widths:
        print("choose at least one depth and one width")
        return
    setup = dataclasses.replace(sizes, depths=tuple(depths), widths=tuple(widths))
    fig = grid_figure(accuracy_grid(setup)[0], setup)
    display(fig)
    plt.close(fig)


controls = selection_controls(
    {"depths": sorted({*sizes.depths, 2, 3, 4, 5, 6}),
     "widths": sorted({*sizes.widths, 16, 32, 64, 128, 256, 512, 1024})},
    {"depths": sizes.depths, "widths": sizes.widths}, explore)
if controls is not None:
    display(controls)
