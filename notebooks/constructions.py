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
# The registered fully connected constructions (`theory.constructions.registry`) prune a random
# source network to approximate a target ReLU network within $\epsilon$ in sup norm on the unit
# ball: Pensia et al. (2020, subset sum), Malach et al. (2020, products of weights),
# MPT-binary (Diffenderfer & Kailkhura 2021, binary weights with a gain), binary-depth
# (Sreenivasan et al. 2022, $\pm 1$ sources traded for depth), orseau (Orseau et al. 2020,
# hyperbolic sources, greedy halving of every weight), depth-plus-one (Burkholz 2022;
# da Cunha et al. 2022: a source of depth $l + 1$ holding copies of every target neuron),
# fixed-size (Natale et al. 2024: every weight keeps exactly $2k$ products, a guaranteed ticket
# size) and sparse-source (Gadhikar et al. 2023: an Erdos-Renyi source of density 1/2). The
# sweeps run in `verify.construction_study` and `verify.probability_study`; this notebook plots
# them.
#
# 1. sup error against source width, all on the same targets (log scale);
# 2. the smallest sufficient width against $\epsilon$, target depth and target width, each
#    against the construction's bound (its sympy LaTeX in the caption and the `bounds` table);
# 3. success probabilities over many seeds with Clopper-Pearson intervals against the source
#    width and against $\delta$, next to the $1 - \delta$ the bounds promise; an exact check of
#    Pensia et al.'s lower bound for $d = 1$; an estimate of Lueker's constant.
#
# Pensia's error falls exponentially in the block size (subset sums), Malach's and MPT-binary's
# only like 1/width (the best of a block's random products; a counting argument), and the
# binary-depth error stops falling once every weight's $\pm 1$ digits are found: its precision,
# $K$ fractional bits, is fixed by $\epsilon$, and extra width only raises the success rate.
# Targets obey the theorems' norm assumption, so their outputs shrink with depth; an $\epsilon$
# above a target's own sup norm (column `target_sup`) is met by the empty ticket.

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
from tqdm.auto import tqdm

from theory.constructions import get_method
from verify.construction_study import bounds_table, sweep_error_vs_width, sweep_width_vs_eps
from verify.conv_study import sweep_conv_error_vs_width
from verify.plotting import Outputs, legend_outside, log_axis, plot_width_needed, use_style
from verify.probability_study import (
    lueker_constant,
    pensia_lower_bound_table,
    success_probability,
)
from verify.scales import get_scale
from verify.sign_study import sweep_agreement_vs_width

use_style()
sizes = get_scale("constructions", SCALE)
chance = get_scale("probabilities", SCALE)
conv = get_scale("conv_constructions", SCALE)
signs = get_scale("sign_tickets", SCALE)
VARIED = {"eps": sizes.eps_values, "depth": sizes.depth_values,
          "target-width": sizes.target_widths}
outputs = Outputs(
    "constructions", SCALE, OUT_DIR,
    figures=["error_vs_width", *(f"width_vs_{v.replace('-', '_')}" for v in VARIED),
             "success_vs_width", "success_vs_delta", "pensia_lower_bound",
             "conv_error_vs_width", "sign_agreement_vs_width"],
    tables={"errors": ["construction", "source_width", "sup_error", "predicted_error",
                               "target_sup", "eps", "seed"],
            "width_needed": ["construction", "param", "value", "source_width", "bound_width",
                             "success_rate", "target_sup", "trivial"],
            "bounds": ["construction", "bound", "kind", "latex", "statement"],
            "success_probability": ["construction", "param", "value", "delta", "source_width",
                                    "bound_width", "successes", "trials", "success_rate",
                                    "ci_low", "ci_high", "promised"],
            "pensia_lower_bound_rates": ["eps", "hidden_width", "lower_bound", "below_bound",
                                         "success_rate", "ci_low", "ci_high",
                                         "median_worst_error"],
            "lueker_constant": ["eps", "delta", "n_needed", "log_term", "c_estimate"],
            "conv_errors": ["construction", "target_size", "source_width", "sup_error",
                            "sup_method", "certified_error", "target_sup", "eps", "seed"],
            "sign_agreement": ["source_width", "margin", "certified_margin", "agreement_rate",
                               "outside_margin", "disagreements_outside", "seed"]},
)
SEEDS = list(range(sizes.seeds))
FIXED = {"target-width": f"random targets {sizes.width}-wide", "depth": f"depth {sizes.depth}",
         "eps": f"eps={sizes.eps}", "delta": f"delta={sizes.delta}"}
DATA = ", ".join(FIXED.values())


def sweep_data(vary: str) -> str:
    """The footer's data of a sweep over ``vary``: the fixed settings, and which one varies."""
    fixed = [text for name, text in FIXED.items() if name != vary]
    return ", ".join(fixed) + f"; {vary} varied"


# %% [markdown]
# The bounds each construction is held to, as its registration declares them: ours, with explicit
# constants (`Construction.bound`), and the theorem's, with its unknown constant $C$
# (`Construction.theorem_bound`).

# %%
bounds = pd.DataFrame(bounds_table(sizes.methods))
registered = {m: get_method(m) for m in sizes.methods}
caption_bounds = ("; ".join(f"{m}: ${c.theorem_bound.latex()}$"
                             for m, c in registered.items() if c.theorem_bound is not None)
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
legend_outside(ax)
outputs.figure(fig, "error_vs_width",
               "Sup error of the pruned subnetwork against the source width, the "
               f"{len(sizes.methods)} "
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
        plot_width_needed(ax, group, color, f"{method} (proven)", f"{method} (trivial target)")
        ax.plot(group["value"], group["bound_width"], linestyle="--", color=color,
                label=f"{method} (bound)")
    ax.set(yscale="log", xlabel=LABELS[vary], ylabel="source width needed",
           title=f"Width needed against {LABELS[vary].split(' $')[0]}")
    if vary == "eps":
        sup = part["target_sup"].median()  # a tick of its own: it may lie beyond every eps
        log_axis(ax, [*part["value"], sup], invert=True)
        ax.axvline(sup, color="0.5", linestyle=":",
                   label=f"target sup norm (median, {sup:.3g})")
    else:
        ax.set_xticks(sorted(part["value"].unique()))
    legend_outside(ax)
    outputs.figure(fig, f"width_vs_{vary.replace('-', '_')}",
                   f"Smallest source width whose runs provably reach sup error <= eps (the "
                   f"exact sup, else the construction's certified upper bound; table column "
                   f"evidence) in at least "
                   f"{sizes.fraction:.0%} of seeds (solid; missing: none of the candidate widths "
                   f"did) against {vary}, and the width the "
                   f"construction's bound prescribes "
                   f"(dashed). The width is searched over the candidate block sizes, then "
                   f"bisected between the last failing and the first passing one. Where the "
                   f"targets' own sup norm (table column target_sup, median over seeds) is below "
                   f"eps in that fraction of seeds, the empty ticket passes: such points are "
                   f"marked trivial and drawn hollow (the smallest searched width that passed). "
                   f"Bounds: {caption_bounds}.", SEEDS, data=sweep_data(vary))

# %% [markdown]
# ## Convolutional targets
#
# A CNN target (1-D: kernel 3 on inputs of length 8; 2-D: kernel 2x2 on 4x4 inputs; one input
# channel) is approximated by a pruned random CNN of twice its depth: each kernel coordinate owns
# a block of single-entry channels, then a 1x1 layer solves the subset sums on the kernel entries
# (`theory.constructions.conv_subset_sum`). The sup error is measured on the unit ball of the
# flattened input, exactly for one layer in 1-D (linear on orthants), else sampled.

# %%
conv_rows = [r for m in conv.methods
             for r in sweep_conv_error_vs_width(m, conv.block_sizes, conv.channels, conv.depth,
                                                conv.eps, conv.delta, conv.seeds)]
conv_errors = pd.DataFrame(conv_rows)
fig, ax = plt.subplots()
sns.lineplot(data=conv_errors, x="source_width", y="sup_error", hue="construction",
             style="construction", markers=True, dashes=False, errorbar=("pi", 100), ax=ax)
sns.lineplot(data=conv_errors, x="source_width", y="certified_error", hue="construction",
             linestyle=":", errorbar=None, legend=False, ax=ax)
ax.axhline(conv.eps, color="k", linestyle="--", linewidth=1, label=f"$\\epsilon$ = {conv.eps}")
log_axis(ax, conv_errors["source_width"])
ax.set(yscale="log", xlabel="source width (channels of the widest layer)",
       ylabel="sup error on the unit ball", title="CNN targets: error against width")
legend_outside(ax)
CONV_SEEDS = list(range(conv.seeds))
CONV_DATA = (f"random CNN targets, {conv.channels} channels, depth {conv.depth}, "
             f"eps={conv.eps}")
outputs.figure(fig, "conv_error_vs_width",
               "Measured sup error (solid; band: range over seeds) and certified bound (dotted) "
               "of the pruned CNN against its widest layer's channels, for 1-D and 2-D CNN "
               "targets; subset sums on kernel entries make it fall exponentially.",
               CONV_SEEDS, data=CONV_DATA)

# %% [markdown]
# ## Sign activations (MPT-1/1)
#
# With sign activations a network is piecewise constant: no sup-norm approximation of a ReLU
# target exists. The checked property is exact agreement with a SIGN-activation target
# $f(x) = \mathrm{sgn}(W_l \cdots \mathrm{sgn}(W_1 x))$ on every input whose pre-activations
# keep a margin larger than the ticket's certified one
# (`theory.constructions.sign_activations`): the agreement rate on random unit inputs, the
# fraction of inputs outside the certified margin, and the disagreements among those (0).

# %%
sign_agreement = pd.DataFrame(sweep_agreement_vs_width(signs.block_sizes, signs.width,
                                                       signs.depth, signs.margin, signs.delta,
                                                       signs.seeds))
assert sign_agreement["disagreements_outside"].sum() == 0
fig, ax = plt.subplots()
sns.lineplot(data=sign_agreement, x="source_width", y="agreement_rate", marker="o",
             errorbar=("pi", 100), label="agreement rate (sampled)", ax=ax)
sns.lineplot(data=sign_agreement, x="source_width", y="outside_margin", marker="s",
             errorbar=("pi", 100), label="inputs outside the certified margin", ax=ax)
log_axis(ax, sign_agreement["source_width"])
ax.set(ylim=(-0.05, 1.05), xlabel="source width (widest layer)", ylabel="fraction of inputs",
       title="Sign-activation tickets: agreement against width")
legend_outside(ax)
SIGN_SEEDS = list(range(signs.seeds))
SIGN_DATA = (f"random sign targets {signs.width}-wide, depth {signs.depth}, margin "
             f"{signs.margin}; 4096 inputs on the unit sphere per run")
outputs.figure(fig, "sign_agreement_vs_width",
               "Fraction of random unit inputs on which the sign-activation ticket agrees "
               "exactly with the sign-activation target (sampled), and fraction outside the "
               "ticket's certified margins, where agreement is proven; no input outside the "
               "margin disagreed (column disagreements_outside).", SIGN_SEEDS, data=SIGN_DATA)

# %% [markdown]
# ## Success probabilities
#
# A bound promises success with probability at least $1 - \delta$ at its width. Each point is the
# fraction of seeds (fresh target and source per seed) on which the construction's own certified
# event holds (every per-weight tolerance met and the certified sup error $\le \epsilon$), with a
# 95% Clopper-Pearson interval; the promise is drawn only where the source is at least as wide as
# the bound. Below the bound nothing is promised, and the rate shows how conservative it is.

# %%
CP_DATA = (f"random targets {chance.width}-wide, depth {chance.depth}, eps={chance.eps}; "
           f"{chance.seeds} seeds per point")
CP_SEEDS = list(range(chance.seeds))
with tqdm(total=sum(len(chance.block_sizes[m]) + len(chance.deltas) for m in chance.methods),
          desc="success probability") as bar:
    chance_rows = [r for m in chance.methods for vary, values in
                   (("width", chance.block_sizes[m]), ("delta", chance.deltas))
                   for r in success_probability(m, vary, values, chance.seeds, chance.width,
                                                chance.depth, chance.eps, chance.delta,
                                                progress=bar.update)]
rates = pd.DataFrame(chance_rows)


def rate_plot(part: pd.DataFrame, x: str, ax, promise_per_method: bool) -> None:
    """Success rate with Clopper-Pearson bars per construction, and the promised 1 - delta
    (one dashed line per construction, or one black line when it is the same for all)."""
    for (method, group), color in zip(part.groupby("construction", sort=False),
                                      sns.color_palette(n_colors=len(chance.methods)),
                                      strict=False):
        ax.errorbar(group[x], group["success_rate"],
                    yerr=[group["success_rate"] - group["ci_low"],
                          group["ci_high"] - group["success_rate"]],
                    marker="o", capsize=3, color=color, label=method)
        if promise_per_method:
            ax.plot(group[x], group["promised"], linestyle="--", color=color, linewidth=1)
    if promise_per_method:  # one legend entry for the dashed lines of every construction
        ax.plot([], [], linestyle="--", color="0.3", linewidth=1,
                label="promised $1 - \\delta$ (dashed, in the\nconstruction's colour, from "
                      "its bound width)")
    else:
        promise = part.groupby(x)["promised"].max()
        ax.plot(promise.index, promise.values, linestyle="--", color="k", linewidth=1,
                label="promised $1 - \\delta$")
    ax.set(ylim=(-0.05, 1.05), ylabel="success rate (95% CP interval)")
    legend_outside(ax)


fig, ax = plt.subplots()
by_width = rates[rates["param"] == "width"]
rate_plot(by_width, "source_width", ax, promise_per_method=True)
log_axis(ax, by_width["source_width"])
ax.set(xlabel="source width (widest layer)", title="Success probability against width")
outputs.figure(fig, "success_vs_width",
               f"Fraction of seeds on which each construction succeeds (its certified event) "
               f"against the source width, delta={chance.delta}, with 95% Clopper-Pearson "
               f"intervals; dashed: the promised 1 - delta, drawn only at widths at least the "
               f"bound's (table constructions_success_probability, column bound_width).",
               CP_SEEDS, data=CP_DATA)

fig, ax = plt.subplots()
by_delta = rates[rates["param"] == "delta"]
rate_plot(by_delta, "delta", ax, promise_per_method=False)
log_axis(ax, by_delta["delta"], invert=True)
ax.set(xlabel="failure probability $\\delta$ (default widths)",
       title="Success probability against $\\delta$")
outputs.figure(fig, "success_vs_delta",
               "Fraction of seeds on which each construction succeeds at its default "
               "(bound) width for each delta, with 95% Clopper-Pearson intervals; dashed: the "
               "promised 1 - delta. A rate whose interval lies below the dashed line would "
               "refute the bound.", CP_SEEDS, data=CP_DATA)

# %% [markdown]
# Pensia et al.'s lower bound, exactly for $d = 1$: a pruned $1 \to N \to 1$ network realises
# $P\,\mathrm{relu}(x) - N'\mathrm{relu}(-x)$ with $P$ and $N'$ subset sums of the products of
# the units with $a > 0$ and $a < 0$, so its worst error over all maps $w \in [-1, 1]$ is the
# larger exact covering radius of the two product sets; counting gives $N \ge 2 \log_2(1/\epsilon)$
# (`verify.probability_study.pensia_lower_bound_width`). Below it the rate must be 0.

# %%
lower = pd.DataFrame(pensia_lower_bound_table(chance.lower_bound_eps, chance.lower_bound_widths,
                                              chance.lower_bound_seeds))
fig, ax = plt.subplots()
for (eps_value, group), color in zip(lower.groupby("eps"), sns.color_palette(), strict=False):
    ax.errorbar(group["hidden_width"], group["success_rate"],
                yerr=[group["success_rate"] - group["ci_low"],
                      group["ci_high"] - group["success_rate"]],
                marker="o", capsize=3, color=color, label=f"$\\epsilon$ = {eps_value}")
    ax.axvline(group["lower_bound"].iloc[0], color=color, linestyle=":", linewidth=1)
ax.set(xlabel="hidden width N", ylabel="fraction of sources approximating every map",
       ylim=(-0.05, 1.05), title="Pensia's lower bound, d = 1 (exact)")
legend_outside(ax)
LB_SEEDS = list(range(chance.lower_bound_seeds))
outputs.figure(fig, "pensia_lower_bound",
               "Fraction of random 1-N-1 uniform sources whose best pruning eps-approximates "
               "EVERY 1x1 map w in [-1, 1] (exact: covering radii of the product sets), with 95% "
               "Clopper-Pearson intervals; dotted: the counting lower bound 2 log2(1/eps).",
               LB_SEEDS, data="random 1-N-1 uniform sources")
lueker = pd.DataFrame(lueker_constant(chance.lueker_n, chance.lueker_eps, chance.lueker_deltas,
                                      chance.lueker_seeds))
display(lueker)

# %%
outputs.table(conv_errors, "conv_errors", "Sup error of CNN tickets against source channels "
              "(one row per run).", CONV_SEEDS, data=CONV_DATA)
outputs.table(sign_agreement, "sign_agreement", "Sign-activation tickets: agreement rate, "
              "certified coverage and disagreements outside the margin.", SIGN_SEEDS,
              data=SIGN_DATA)
outputs.table(rates, "success_probability", "Success rate per construction against width and "
              "delta with 95% Clopper-Pearson intervals and the promised 1 - delta.", CP_SEEDS,
              data=CP_DATA)
outputs.table(lower, "pensia_lower_bound_rates", "d = 1 check of Pensia et al.'s lower bound: "
              "fraction of sources approximating every 1x1 map, and the counting bound.",
              LB_SEEDS, data="random 1-N-1 uniform sources")
outputs.table(lueker, "lueker_constant", "Estimate of Lueker's C for U[-1, 1] summands: smallest "
              "n whose exact covering radius is <= eps in >= 1 - delta of the instances, over "
              f"ln(2/min(eps, delta)); the maximum over rows is the estimate "
              f"({lueker['c_estimate'].max():.2f} here).", list(range(chance.lueker_seeds)),
              data="U[-1, 1] summands")

# %%
outputs.table(errors, "errors", "Sup error against source width (one row per run).",
              SEEDS, data=DATA)
outputs.table(needed, "width_needed", "Smallest sufficient source width against eps, depth and "
              "target width, with the bound's width.", SEEDS,
              data=f"{DATA}; one of them varied per row (column param)")
outputs.table(bounds, "bounds", "The bounds as sympy LaTeX: ours (explicit constants) and the "
              "theorems' (C: unspecified constant).", SEEDS)
outputs.finish()
