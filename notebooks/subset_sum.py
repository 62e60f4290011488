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
# # Random subset sum: success probability and covering radius against n
#
# Lueker (1998): $n = O(\log(1/\min(\epsilon, \delta)))$ i.i.d. $U[-1,1]$ summands have subset
# sums that come within $\epsilon$ of every $z \in [-1, 1]$ with probability $\ge 1-\delta$.
# Counting gives the matching lower bound: $2^n$ sums cover an interval of length 2 only if
# $n \ge \log_2(1/\epsilon)$. The study (`verify.subset_sum_study`) solves every instance
# exactly; this notebook only plots its table.

# %% tags=["parameters"]
SCALE = "smoke"
OUT_DIR = None  # None: paper_figures/SCALE if run by `tickets figures`, else .../scratch/SCALE
RUNS_DIR = None  # None: $TICKETS_RUNS, else runs/ at the repository root
DATA_DIR = None

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import display

from theory.bounds import get_bound
from verify.plotting import Outputs, legend_outside, use_style
from verify.scales import get_scale
from verify.subset_sum_study import subset_sum_table

use_style()
sizes = get_scale("subset_sum", SCALE)
outputs = Outputs(
    "subset_sum", SCALE, OUT_DIR,
    figures=["success", "radius"],
    tables={"table": ["n", "eps", "success_prob", "median_radius"]},
)
counting = get_bound("subset-sum-counting")
SEEDS = list(range(sizes.seeds))
DATA = f"{sizes.seeds} random U[-1,1] instances per n"

# %%
table = pd.DataFrame(subset_sum_table(list(sizes.n_values), list(sizes.eps_values), sizes.seeds,
                                      seed=0))
display(table.head())

# %%
fig, ax = plt.subplots()
eps_values = sorted(table["eps"].unique(), reverse=True)
palette = dict(zip(eps_values, sns.color_palette("viridis", len(eps_values)), strict=True))
sns.lineplot(data=table, x="n", y="success_prob", hue="eps", hue_order=eps_values, marker="o",
             palette=palette, legend="full", ax=ax)
for eps in eps_values:
    ax.axvline(counting.evaluate(epsilon=eps), color=palette[eps], linestyle="--", linewidth=1)
ax.set(xlabel="number of summands $n$", ylabel="P(every target within $\\epsilon$)",
       title="Random subset sum: success probability")
legend_outside(ax, title="$\\epsilon$ (dashed:\n$n = " + counting.latex() + "$)")
outputs.figure(fig, "success",
               f"Success probability against n for several eps; dashed lines: the counting lower "
               f"bound $n \\geq {counting.latex()}$.", SEEDS, data=DATA)

# %%
radius = table.drop_duplicates("n")[["n", "median_radius"]]
fig, ax = plt.subplots()
ax.semilogy(radius["n"], radius["median_radius"], marker="o", label="median covering radius")
eps_grid = np.logspace(np.log10(radius["median_radius"].min()), 0, 50)
ax.semilogy([counting.evaluate(epsilon=e) for e in eps_grid], eps_grid, "k--",
            label=f"lower bound $n = {counting.latex()}$")
for eps in sorted(table["eps"].unique()):
    ax.axhline(eps, color="0.6", linewidth=0.8, linestyle=":")
ax.set(xlabel="number of summands $n$", ylabel="covering radius of $[-1, 1]$",
       title="Random subset sum: covering radius")
ax.set_xlim(radius["n"].min() - 0.5, radius["n"].max() + 0.5)
legend_outside(ax)
outputs.figure(fig, "radius",
               f"Median exact covering radius against n (log scale); dashed: the counting bound "
               f"$n \\geq {counting.latex()}$ read as a radius; dotted: the eps values.",
               SEEDS, data=DATA)

# %%
outputs.table(table, "table", "Random subset sum: success probability and median covering "
              "radius per n and eps.", SEEDS, data=DATA)
outputs.finish()
