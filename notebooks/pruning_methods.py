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

from verify import pruning_study, pruning_tables
from verify.notebook_paths import runs_dir
from verify.plotting import Outputs, figure_legend, log_axis, panel_grid, run_hashes, use_style
from verify.scales import get_scale

use_style()
sizes = get_scale("pruning_methods", SCALE)
INTERVAL = ["_low", "_high"]
outputs = Outputs(
    "pruning_methods", SCALE, OUT_DIR,
    figures=["accuracy", "ablations", "instability", "supermask"],
    tables={"summary": ["model", "family", "arm", "of", "level", "weights_remaining", "test_acc",
                        "test_acc_low", "test_acc_high", "reference", "diff", "diff_low",
                        "diff_high", "seeds"],
            "retraining": ["model", "level", "weights_remaining", "arm", "versus", "diff",
                           "diff_low", "diff_high", "seeds"],
            "stability": ["model", "level", "rewind", "density", "test_instability",
                          "test_instability_low", "test_instability_high", "train_instability",
                          "train_instability_low", "train_instability_high", "diff_vs_dense",
                          "diff_vs_dense_low", "diff_vs_dense_high", "seeds", "test_size"],
            "collapse": ["model", "arm", "density", "collapsed_seeds", "seeds",
                         "empty_layers_max", "outputs_reachable_min", "outputs_reachable_max",
                         "outputs"],
            "instability_runs": ["model", "seed", "level", "rewind", "density", "train_instability",
                                 "test_instability", "test_acc", "dense_test_acc", "copy_1",
                                 "copy_2"],
            "supermask_summary": ["model", "arm", "level", "weights_remaining", "supermask_acc",
                          "supermask_acc_low", "supermask_acc_high", "seeds"],
            "supermask_runs": ["model", "seed", "arm", "level", "weights_remaining",
                               "supermask_acc", "signed_constant_acc", "hash"],
            "cost": ["model", "seed", "arm", "family", "level", "density", "nonzero_params",
                     "flops_dense", "flops_masked", "flops_ratio", "ticket_bits",
                     "bits_per_weight", "hash"],
            "runs": ["model", "seed", "family", "arm", "level", "weights_remaining", "test_acc",
                     "outputs_reachable", "hash"]},
)
SEEDS = list(sizes.seeds)


def points(frame: pd.DataFrame, *names: str) -> pd.DataFrame:
    """``frame`` with each named fraction, and its interval columns if present, in points."""
    frame = frame.copy()
    for name in names:
        for column in (name, *(name + end for end in INTERVAL)):
            if column in frame:
                frame[column] *= 100
    return frame


def line_style(index: int) -> str:
    """Solid for the first cycle of colours, dashed after it, so no two arms look the same."""
    return ("-", "--", ":")[index // len(plt.rcParams["axes.prop_cycle"].by_key()["color"]) % 3]


def clip_to_percent(ax: plt.Axes) -> None:
    """Keep an accuracy axis inside [0, 100]: a t interval over few seeds can leave it."""
    low, high = ax.get_ylim()
    ax.set_ylim(max(low, 0), min(high, 100))


def error_bars(frame: pd.DataFrame, name: str) -> list[list[float]]:
    """matplotlib ``yerr`` of ``name`` from its interval columns (zero where there is none)."""
    return [(frame[name] - frame[name + "_low"]).fillna(0).tolist(),
            (frame[name + "_high"] - frame[name]).fillna(0).tolist()]


# %%
rows = pruning_study.run_study(sizes, runs_dir(RUNS_DIR), DATA_DIR)
stability = pruning_study.run_stability(sizes, runs_dir(RUNS_DIR), DATA_DIR)
collapse = pd.DataFrame(pruning_tables.collapse_summary(
    pruning_study.collapse_table(sizes, DATA_DIR)))
runs = points(pd.DataFrame(rows), "test_acc", "early_stop_test_acc")
summary = points(pd.DataFrame(pruning_tables.summary(rows)), "test_acc", "diff")
retraining = points(pd.DataFrame(pruning_tables.paired_table(
    rows, [("LR rewinding", "IMP (rewind)"), ("IMP (rewind)", "fine-tuning"),
           ("IMP (rewind)", "IMP (reset)")])), "diff")
stable = points(pd.DataFrame(pruning_tables.stability_summary(stability)), "test_instability",
                "train_instability", "diff_vs_dense")
instability = points(pd.DataFrame(stability), "train_instability", "test_instability",
                     "test_acc", "dense_test_acc")
HASHES = run_hashes(rows)
instability = instability.rename(columns={"hash": "copy_1", "hash_2": "copy_2"})
STABILITY_HASHES = sorted({*instability["copy_1"], *instability["copy_2"]})
DATA = ", ".join(sorted(runs["dataset"].unique()))
TEST_SIZE = int(instability["test_size"].iloc[0])
INTERVALS = (f"95% t interval over {len(SEEDS)} seeds" if len(SEEDS) > 1 else
             "95% t interval (none with one seed)")
MATCHED = ", ".join(str(level) for level in sizes.matched_levels)
print(f"{len(runs)} runs, {int(runs['reused'].sum())} read back from the run store; "
      f"{len(instability)} instability points; test set {TEST_SIZE} images")

# %%
methods = summary[summary["family"] == "method"]
models = list(sizes.models)
fig, axes = panel_grid(len(models), (6.2, 4.4))
for ax, model in zip(axes, models, strict=True):
    part = methods[methods["model"] == model]
    dense = part[part["arm"] == "dense"]["test_acc"].mean()
    for i, (arm, group) in enumerate(part[part["arm"] != "dense"].groupby("arm", sort=False)):
        group = group.sort_values("weights_remaining")
        ax.plot(group["weights_remaining"], group["test_acc"], marker="o", label=arm,
                linestyle=line_style(i))
        ax.fill_between(group["weights_remaining"], group["test_acc_low"],
                        group["test_acc_high"], alpha=0.15)
    ax.axhline(dense, color="0.3", linestyle=":", label="dense")
    clip_to_percent(ax)
    log_axis(ax, part["weights_remaining"].round(1), invert=True)
    ax.set(xlabel="weights remaining (%)", ylabel="test accuracy (%)", title=model)
figure_legend(fig, axes[0], title="method")
fig.suptitle("Pruning methods at the densities of the IMP levels")
outputs.figure(fig, "accuracy", "Test accuracy against weights remaining (log scale, pruning "
               f"to the right): IMP with reset and with rewinding to {sizes.rewind} at every "
               f"level 1-{sizes.levels}; LR rewinding, fine-tuning and pruning at initialisation "
               f"at the densities of IMP levels {MATCHED}; dotted: the dense network; same "
               "recipe and early-stopping record for every arm, trained for "
               f"{pruning_study.training_note(sizes)}. Band: {INTERVALS}; test set "
               f"{TEST_SIZE} images. Paired differences (same seed) to IMP (reset) are in the "
               "summary table, those between the retraining variants in the retraining table.",
               SEEDS, HASHES, DATA)

# %%
ablations = summary[summary["family"] == "ablation"]
levels = sorted(ablations["level"].unique())
kinds = ["original", *dict.fromkeys(ablations["arm"])]
fig, axes = plt.subplots(len(models), len(levels), figsize=(4.6 * len(levels), 4.4 * len(models)),
                         squeeze=False, sharey="row")
# room for the rotated arm names above the next row's titles and above the provenance line
fig.subplots_adjust(hspace=0.75, bottom=0.9 / fig.get_size_inches()[1])
for row, model in zip(axes, models, strict=True):
    for ax, level in zip(row, levels, strict=True):
        part = ablations[(ablations["model"] == model) & (ablations["level"] == level)]
        arms = list(dict.fromkeys(part["of"]))
        width = 0.8 / len(kinds)
        for k, kind in enumerate(kinds):
            if kind == "original":
                bars = methods[(methods["model"] == model) & (methods["level"] == level)]
                bars = bars.set_index("arm").reindex(arms)
            else:
                bars = part[part["arm"] == kind].set_index("of").reindex(arms)
            ax.bar([i + k * width for i in range(len(arms))], bars["test_acc"], width,
                   yerr=error_bars(bars, "test_acc"), capsize=2, label=kind)
        ax.set_xticks([i + width * (len(kinds) - 1) / 2 for i in range(len(arms))], arms,
                      rotation=30, ha="right")
        remaining = float(part["weights_remaining"].mean())
        ax.set(ylabel="test accuracy (%)", title=f"{model}\nlevel {level}: {remaining:.1f}% left")
    clip_to_percent(row[0])  # the row shares its y axis
figure_legend(fig, axes[0][0], title="mask")
outputs.figure(fig, "ablations", "Sanity ablations (Frankle et al., ICLR 2021) of each ablated "
               "arm's mask at the densities of the ablation levels: the original run, its kept "
               "weights re-drawn from the initialiser (re-init), its mask shuffled within each "
               "layer (shuffle), and its scores inverted (invert: the lowest kept, same counts). "
               f"Bars: mean; whiskers: {INTERVALS}; test set {TEST_SIZE} images. The summary "
               "table gives the paired difference of each ablation to its original (same seed).",
               SEEDS, HASHES, DATA)

# %%
fig, axes = panel_grid(len(models), (5.6, 4.0))
for ax, model in zip(axes, models, strict=True):
    part = stable[stable["model"] == model]
    order = list(dict.fromkeys(part["rewind"]))
    left = []  # each net prunes its own share a level: its densities go in its title
    for level, group in part.groupby("level"):
        group = group.set_index("rewind").reindex(order)
        ax.errorbar(range(len(order)), group["test_instability"],
                    yerr=error_bars(group, "test_instability"), marker="o", capsize=3,
                    label="dense" if level == 0 else f"IMP level {level}")
        if level:
            left.append(f"{level}: {100 * group['density'].mean():.1f}%")
    ax.set_xticks(range(len(order)), order)
    ax.axhline(2.0, color="0.5", linestyle="--", label="2 points (the paper's threshold)")
    ax.set(xlabel="rewind point k", ylabel="test instability (points)",
           title=f"{model}\nweights left at level {', '.join(left)}")
figure_legend(fig, axes[0], title="network")
outputs.figure(fig, "instability", "Instability (Frankle et al., ICML 2020): the largest test "
               "error on the linear path between two copies trained from theta_k with different "
               "data orders, minus the mean of the endpoints' errors, against the rewind point k, "
               "for the dense network and IMP tickets (31 points on the path; test set "
               f"{TEST_SIZE} images). Points: mean; whiskers: {INTERVALS}. The stability table "
               "adds each level's paired difference to the dense network (matching?).", SEEDS,
               STABILITY_HASHES, DATA)

# %%
supermask_rows = pruning_study.supermask_table(rows, runs_dir(RUNS_DIR), DATA_DIR)
supermask_runs = points(pd.DataFrame(supermask_rows), "supermask_acc", "signed_constant_acc")
supermask = points(pd.DataFrame(pruning_tables.seed_intervals(
    supermask_rows, ["model", "arm", "level"], "supermask_acc")), "supermask_acc")
supermask.insert(3, "weights_remaining", supermask_runs.groupby(
    ["model", "arm", "level"], sort=False)["weights_remaining"].mean().to_numpy())
fig, axes = panel_grid(len(models), (6.2, 4.2))
for ax, model in zip(axes, models, strict=True):
    part = supermask[supermask["model"] == model]
    for i, (arm, group) in enumerate(part.groupby("arm", sort=False)):
        group = group.sort_values("weights_remaining")
        ax.plot(group["weights_remaining"], group["supermask_acc"], marker="o", label=arm,
                linestyle=line_style(i))
        ax.fill_between(group["weights_remaining"], group["supermask_acc_low"],
                        group["supermask_acc_high"], alpha=0.15)
    clip_to_percent(ax)
    log_axis(ax, part["weights_remaining"].round(1), invert=True)
    ax.set(xlabel="weights remaining (%)", ylabel="untrained test accuracy (%)", title=model)
figure_legend(fig, axes[0], title="mask")
outputs.figure(fig, "supermask", "Supermasks (Zhou et al., NeurIPS 2019): test accuracy of each "
               "method's mask on the UNTRAINED initial weights, and of Zhou et al.'s 'large "
               f"final, same sign' mask at the IMP densities (band: {INTERVALS}; test set "
               f"{TEST_SIZE} images; chance is 10%).", SEEDS, HASHES, DATA)

# %%
cost = pd.DataFrame(pruning_study.cost_table(rows, runs_dir(RUNS_DIR), DATA_DIR))
outputs.table(cost, "cost", "What each ticket costs: nonzero parameters (kept weights plus "
              "biases and BatchNorm parameters), FLOPs of one forward pass of the prunable layers "
              "(2 x multiply-accumulates), dense and masked, and the bits of its packed ticket "
              "file (lth layout); counts of each run, exact (nothing estimated).", SEEDS, HASHES,
              DATA)
outputs.table(supermask, "supermask_summary", "Untrained accuracy (%) of every mask on "
              f"theta_0: mean with its {INTERVALS}; test set {TEST_SIZE} images.", SEEDS,
              run_hashes(supermask_rows), DATA)
outputs.table(supermask_runs, "supermask_runs", "Untrained accuracy (%) of every mask on theta_0 "
              "and on its signed constants sign(theta_0) * std_l, per run.", SEEDS,
              run_hashes(supermask_rows), DATA)

# %%
outputs.table(summary, "summary", "Every method and ablation per IMP level: mean test accuracy "
              f"(%) with its {INTERVALS}, and the paired difference (points, same seed) to its "
              "reference with its interval: IMP (reset) at the same level for every method, the "
              "dense network for IMP (reset) itself, the ablated arm (`of`) for an ablation. "
              f"Test set {TEST_SIZE} images.", SEEDS, HASHES, DATA)
outputs.table(retraining, "retraining", "The retraining variants (Renda et al., ICLR 2020) "
              "paired level by level: `arm` minus `versus`, points, mean over seeds with its "
              f"{INTERVALS}; test set {TEST_SIZE} images.", SEEDS, HASHES, DATA)
outputs.table(stable, "stability", "Instability (points of error) per IMP level and rewind "
              f"point, test and train, with its {INTERVALS}; diff_vs_dense: the level's test "
              "accuracy minus its lineage's dense network (points, same seed): a matching ticket "
              f"has it at or above 0. Test set {TEST_SIZE} images.", SEEDS, STABILITY_HASHES,
              DATA)
outputs.table(collapse, "collapse", "Layer collapse of each criterion's mask on theta_0 (no "
              "training): in how many seeds the mask collapsed (a layer left empty or an output "
              "cut off from the input), the most empty layers and the fewest / most outputs "
              "still reachable from the input over the seeds.", SEEDS, (), DATA)
outputs.table(instability, "instability_runs", "Instability (points of error) per seed, level "
              "and rewind point, the level's and the dense network's test accuracy (%), with "
              "the two copies' run hashes.", SEEDS, STABILITY_HASHES, DATA)
outputs.table(runs, "runs", "Every run of the comparison with its run-store hash (accuracies "
              "in %; level: the IMP level whose density the run matches).", SEEDS, HASHES, DATA)
display(summary)

# %%
outputs.finish()
