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
# # Strong-ticket constructions against their bounds
#
# Four constructions prune a random source network to approximate a target ReLU network within
# $\epsilon$ in sup norm on the unit ball: Pensia et al. (2020, subset sum), Malach et al. (2020,
# products of weights), MPT-binary (Diffenderfer & Kailkhura 2021, binary weights with a gain) and
# binary-depth (Sreenivasan et al. 2022, $\pm 1$ sources traded for depth). The sweeps run in
# `verify.construction_study`; this notebook plots them.
#
# 1. sup error against source width, all four on the same targets (log scale);
# 2. the smallest sufficient width against $\epsilon$, target depth and target width, each
#    against the construction's bound (its sympy LaTeX in the caption and the `bounds` table).
#
# Pensia's error falls exponentially in the block size (subset sums), Malach's and MPT-binary's
# only like 1/width (the best of a block's random products; a counting argument), and the
# binary-depth error stops falling once every weight's $\pm 1$ digits are found: its precision,
# $K$ fractional bits, is fixed by $\epsilon$, and extra width only raises the success rate.
# Targets obey the theorems' norm assumption, so their outputs shrink with depth; an $\epsilon$
# above a target's own sup norm (column `target_sup`) is met by the empty ticket.

# %% tags=["parameters"]
SCALE = "smoke"
OUT_DIR = None  # default: ../paper_figures/<SCALE>
RUNS_DIR = None
DATA_DIR = None

# %%
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython.display import display
from tqdm.auto import tqdm

from theory.bounds import OUR_BOUNDS, get_bound
from verify.construction_study import sweep_error_vs_width, sweep_width_vs_eps
from verify.plotting import Outputs, log_axis, use_style
from verify.scales import get_scale

use_style()
sizes = get_scale("constructions", SCALE)
VARIED = {"eps": sizes.eps_values, "depth": sizes.depth_values,
          "target-width": sizes.target_widths}
outputs = Outputs(
    "constructions", SCALE, OUT_DIR or f"../paper_figures/{SCALE}",
    figures=["error_vs_width", *(f"width_vs_{v.replace('-', '_')}" for v in VARIED)],
    tables={"errors": ["construction", "source_width", "sup_error", "predicted_error",
                               "target_sup", "eps", "seed"],
            "width_needed": ["construction", "param", "value", "source_width", "bound_width",
                             "success_rate", "target_sup", "trivial"],
            "bounds": ["construction", "bound", "kind", "latex", "statement"]},
)
SEEDS = list(range(sizes.seeds))
DATA = (f"random targets {sizes.width}-wide, depth {sizes.depth}, eps={sizes.eps}, "
        f"delta={sizes.delta}")

# %% [markdown]
# The bound each construction is held to: our explicit-constant bound where the construction has
# one (`theory.bounds.OUR_BOUNDS`), else the theorem's (with its unknown constant $C$).

# %%
THEOREM_BOUNDS = {"pensia": "pensia-width", "malach": "malach-width",
                  "mpt-binary": "mpt-1-32-width", "binary-depth": "sreenivasan-width"}
bounds = pd.DataFrame([
    {"construction": m, "bound": b.name, "kind": b.kind, "latex": f"${b.latex()}$",
     "statement": b.statement}
    for m in sizes.methods
    for b in (get_bound(n) for n in dict.fromkeys([OUR_BOUNDS.get(m, THEOREM_BOUNDS[m]),
                                                    THEOREM_BOUNDS[m]]))
])
caption_bounds = ("; ".join(f"{m}: ${get_bound(THEOREM_BOUNDS[m]).latex()}$"
                             for m in sizes.methods)
                  + " (the theorems' orders; our explicit-constant bounds, which the dashed "
                  "widths and the property tests use, are in the table constructions_bounds)")
display(bounds[["construction", "bound", "kind"]])

# %%
total = sum(len(sizes.block_sizes[m]) for m in sizes.methods) * sizes.seeds
with tqdm(total=total, desc="error vs width") as bar:
    error_rows = [r for m in sizes.methods
                  for r in sweep_error_vs_width(m, sizes.block_sizes[m], sizes.width, sizes.depth,
                                                sizes.eps, sizes.delta, sizes.seeds,
                                                progress=bar.update)]
errors = pd.DataFrame(error_rows)

fig, ax = plt.subplots()
sns.lineplot(data=errors, x="source_width", y="sup_error", hue="construction", style="construction",
             markers=True, dashes=False, errorbar=("pi", 100), ax=ax)
ax.axhline(sizes.eps, color="k", linestyle="--", linewidth=1, label=f"$\\epsilon$ = {sizes.eps}")
log_axis(ax, errors["source_width"])
ax.set(yscale="log", xlabel="source width (widest layer)",
       ylabel="sup error on the unit ball", title="Strong tickets: error against width")
ax.legend(fontsize=8)
outputs.figure(fig, "error_vs_width",
               "Sup error of the pruned subnetwork against the source width, the four "
               "constructions on the same random targets (log-log; band: range over seeds); "
               "exact for one-layer targets, else a sampled lower estimate (table column "
               "sup_method). "
               f"Bounds: {caption_bounds}.", SEEDS, data=DATA)

# %%
needed_rows = []
with tqdm(total=len(sizes.methods) * sum(map(len, VARIED.values())), desc="width needed") as bar:
    for vary, values in VARIED.items():
        for m in sizes.methods:
            needed_rows += sweep_width_vs_eps(m, vary, values, sizes.block_sizes[m], sizes.width,
                                              sizes.depth, sizes.eps, sizes.delta, sizes.seeds,
                                              sizes.fraction, progress=bar.update)
needed = pd.DataFrame(needed_rows)
LABELS = {"eps": "accuracy $\\epsilon$", "depth": "target depth $l$",
          "target-width": "target width $d$"}
for vary in VARIED:
    part = needed[needed["param"] == vary]
    fig, ax = plt.subplots()
    for (method, group), color in zip(part.groupby("construction", sort=False),
                                      sns.color_palette(n_colors=len(sizes.methods)),
                                      strict=False):
        ax.plot(group["value"], group["source_width"].where(group["found"] & ~group["trivial"]),
                marker="o",
                color=color, label=f"{method} (proven)")
        ax.plot(group["value"], group["bound_width"], linestyle="--", color=color,
                label=f"{method} (bound)")
    ax.set(yscale="log", xlabel=LABELS[vary], ylabel="source width needed",
           title=f"Width needed against {LABELS[vary].split(' $')[0]}")
    if vary == "eps":
        log_axis(ax, part["value"], invert=True)
        ax.axvline(part["target_sup"].median(), color="0.5", linestyle=":",
                   label="target sup norm (median)")
    else:
        ax.set_xticks(sorted(part["value"].unique()))
    ax.legend(fontsize=7, ncol=2)
    outputs.figure(fig, f"width_vs_{vary.replace('-', '_')}",
                   f"Smallest source width whose runs provably reach sup error <= eps (the "
                   f"exact sup, else the construction's certified upper bound; table column "
                   f"evidence) in at least "
                   f"{sizes.fraction:.0%} of seeds (solid; missing: none of the candidate widths "
                   f"did, or the target is trivial) against {vary}, and the width the "
                   f"construction's bound prescribes "
                   f"(dashed). The width is searched over the candidate block sizes, then "
                   f"bisected between the last failing and the first passing one. Where the "
                   f"targets' own sup norm (table column target_sup, median over seeds) is below "
                   f"eps in that fraction of seeds, the empty ticket passes: such points are "
                   f"marked trivial and not drawn. "
                   f"Bounds: {caption_bounds}.", SEEDS, data=DATA)

# %%
outputs.table(errors, "errors", "Sup error against source width (one row per run).",
              SEEDS, data=DATA)
outputs.table(needed, "width_needed", "Smallest sufficient source width against eps, depth and "
              "target width, with the bound's width.", SEEDS, data=DATA)
outputs.table(bounds, "bounds", "The bounds as sympy LaTeX: ours (explicit constants) and the "
              "theorems' (C: unspecified constant).", SEEDS)
outputs.finish()
