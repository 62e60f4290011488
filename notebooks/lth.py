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
# # Lottery tickets: accuracy and early stopping against weights remaining
#
# Frankle & Carbin (ICLR 2019): iterative magnitude pruning (IMP) finds subnetworks that, reset
# to their original initialisation, train to the dense network's accuracy or better, and learn
# faster (earlier minimum of the validation loss), down to a few percent of the weights. The same
# masks with a random re-initialisation, and random masks with the same per-layer counts, fall
# behind. At paper scale: LeNet-300-100 on MNIST, Conv-2/4/6 on CIFAR-10; at cpu scale: an MLP on
# MNIST-1D. Every level and control is a stored run (`verify.lth_study`), reused when finished.

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

from verify import lth_study
from verify.comparisons import BAND, readable, stored_correct, t_band, verdict
from verify.notebook_paths import runs_dir
from verify.plotting import Outputs, figure_legend, log_axis, run_hashes, use_style
from verify.scales import get_scale

use_style()
sizes = get_scale("lth", SCALE)
outputs = Outputs(
    "lth", SCALE, OUT_DIR,
    figures=["accuracy", "early_stop"],
    tables={"summary": ["model", "arm", "level", "weights_remaining", "test_acc",
                        "test_acc_ci95", "early_stop_step", "early_stop_step_ci95",
                        "dense_test_acc", "paired", "difference", "difference_ci95",
                        "difference_p", "only_ticket", "only_other", "mcnemar_p", "seeds",
                        "pairs", "test_size"],
            "runs": ["model", "seed", "level", "arm", "weights_remaining", "test_acc",
                     "early_stop_step", "hash"]},
)
SEEDS = list(sizes.seeds)

# %%
RUNS = runs_dir(RUNS_DIR)
rows = lth_study.run_study(sizes, RUNS, DATA_DIR)
runs = pd.DataFrame(rows)
runs[["test_acc", "early_stop_test_acc"]] *= 100
HASHES = run_hashes(rows)
DATA = ", ".join(sorted(runs["dataset"].unique()))
print(f"{len(runs)} runs, {int(runs['reused'].sum())} read back from the run store")


# %%
def against_remaining(y: str, ylabel: str, title: str) -> plt.Figure:
    """``y`` against the percentage of weights remaining (regular 1-2-5 log ticks), one panel per
    model, hue = arm, band: 95% t interval over seeds.

    Each arm has its own dash and marker, so arms with equal values stay visible; one legend
    right of the panels."""
    models = list(sizes.models)
    fig, axes = plt.subplots(1, len(models), figsize=(5.4 * len(models), 4.2), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        sns.lineplot(data=runs[runs["model"] == model], x="weights_remaining", y=y, hue="arm",
                     style="arm", markers=True, dashes=True, errorbar=t_band,
                     hue_order=list(dict.fromkeys(lth_study.ARMS.values())), ax=ax)
        log_axis(ax, runs.loc[runs["model"] == model, "weights_remaining"], invert=True,
                 regular=True)
        ax.set(xlabel="weights remaining (%)", ylabel=ylabel, title=model)
    figure_legend(fig, axes[0][0], title="arm")
    fig.suptitle(title)
    return fig


summary_rows = lth_study.summary(rows, stored_correct(RUNS))
CLAIMS = " ".join(
    verdict([r for r in summary_rows if (r["model"], r["paired"]) == (model, paired)],
            "difference", f"{model}, {paired}", where="weights_remaining", unit="%")
    for model, paired in dict.fromkeys((r["model"], r["paired"]) for r in summary_rows)
    if paired != "-")
fig = against_remaining("test_acc", "test accuracy (%)", "IMP tickets against controls")
outputs.figure(fig, "accuracy", "Final test accuracy against weights remaining (log scale, "
               "pruning proceeds to the right) for IMP winning tickets (reset to their "
               "initialisation), random re-initialisation of the same masks, and random pruning "
               "with the same per-layer counts; the 100% point is the dense network (mean; band: "
               f"{BAND}). Paired by seed over the levels (table lth_summary): {CLAIMS}", SEEDS,
               HASHES, DATA)

# %%
fig = against_remaining("early_stop_step", "early-stop iteration",
                        "Learning speed: iteration of minimum validation loss")
outputs.figure(fig, "early_stop", "Early-stopping iteration (minimum validation loss) against "
               f"weights remaining for IMP tickets and the two controls (mean; band: {BAND}).",
               SEEDS, HASHES, DATA)

# %%
summary = pd.DataFrame(readable(summary_rows, signed=["difference"]))
outputs.table(summary, "summary", "IMP tickets and controls per level: mean test accuracy "
              "(points) and early-stop iteration over seeds with their 95% t intervals over "
              "seeds (_ci95), and the dense network's mean accuracy; difference = the paired "
              "difference named in column paired (IMP ticket - dense at levels >= 1, IMP ticket "
              "- control for the controls; same seed, same data) with its 95% paired t interval "
              "and p-value; only_ticket / only_other: test examples only one of the two gets "
              "right, pooled over the paired seeds, and the exact McNemar p-value; test_size: "
              f"test examples per run. {CLAIMS}", SEEDS, HASHES, DATA)
outputs.table(runs, "runs", "Every IMP level and control run with its run-store hash "
              "(accuracies in %).", SEEDS,
              HASHES, DATA)
display(summary)

# %%
outputs.finish()
