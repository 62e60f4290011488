"""Log-axis ticks, legends placed off the data, width-needed markers (verify/plotting.py)."""

from __future__ import annotations

import math
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify.plotting import MAX_LABELLED_TICKS, plain_number, spaced_ticks


def test_close_widths_are_not_both_labelled() -> None:
    widths = [4, 8, 16, 32, 56, 64, 112, 128, 224, 256, 448, 512, 896, 1024, 1792]
    # 1024 and 896 lie within 1/16 of the log range of a kept neighbour; 9 remain, stride 2
    assert spaced_ticks(widths) == [8, 32, 128, 512, 1792]


def test_long_labels_need_more_room() -> None:
    # 1280 and 2048 are 0.2 decades apart on a 3.2-decade axis: far enough for short labels,
    # too close for two four-digit ones (4 / 45 of the range = 0.28 decades)
    assert spaced_ticks([256, 1280, 2048, 23680, 387712]) == [256, 2048, 23680, 387712]


def test_plain_numbers() -> None:
    assert [plain_number(v) for v in (1792.0, 0.025, 10 / 3, 4)] == ["1792", "0.025", "3.33", "4"]


@given(st.lists(st.floats(1e-6, 1e6), min_size=1, max_size=60))
def test_ticks_are_few_spread_and_from_the_values(values: list[float]) -> None:
    ticks = spaced_ticks(values)
    assert 1 <= len(ticks) <= MAX_LABELLED_TICKS
    assert set(ticks) <= {float(v) for v in values} and ticks == sorted(ticks)
    assert ticks[-1] == max(values)
    span = math.log10(max(values) / min(values))
    gaps = [math.log10(b / a) for a, b in pairwise(ticks)]
    assert all(g >= span / (2 * MAX_LABELLED_TICKS) * (1 - 1e-6) for g in gaps)


def _overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_legends_cover_no_panel() -> None:
    import matplotlib.pyplot as plt

    from verify.plotting import figure_legend, legend_outside

    fig, ax = plt.subplots()
    for i in range(12):  # as many entries as the construction sweeps draw
        ax.plot([1, 2], [i, i + 1], label=f"construction {i} (bound)")
    legend = legend_outside(ax)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert not _overlaps(legend.get_window_extent(renderer), ax.get_window_extent(renderer))
    plt.close(fig)

    fig, axes = plt.subplots(1, 3)
    for ax in axes:
        ax.plot([0, 1], [0, 1], label="MLP-2")
        ax.axhline(0.5, linestyle="--", label="dense")
        ax.legend()
    legend = figure_legend(fig, axes[0], title="model")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert all(ax.get_legend() is None for ax in axes) and len(legend.get_texts()) == 2
    assert not any(_overlaps(legend.get_window_extent(renderer), ax.get_window_extent(renderer))
                   for ax in axes)
    plt.close(fig)


def test_width_needed_draws_trivial_targets_instead_of_dropping_them() -> None:
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    from verify.plotting import plot_width_needed

    frame = pd.DataFrame({"value": [2, 3, 4, 5], "source_width": [336, 308, 880, 900],
                          "found": [True, True, True, False],
                          "trivial": [False, False, True, False]})
    fig, ax = plt.subplots()
    plot_width_needed(ax, frame, "C0", "proven", "trivial target")
    drawn = {line.get_label(): np.asarray(line.get_ydata(), dtype=float) for line in ax.lines}
    assert set(drawn) == {"proven", "trivial target"}
    np.testing.assert_array_equal(drawn["proven"], [336, 308, np.nan, np.nan])
    np.testing.assert_array_equal(drawn["trivial target"], [np.nan, np.nan, 880, np.nan])
    assert ax.lines[1].get_markerfacecolor() == "none"
    plt.close(fig)


def test_regular_ticks_are_one_two_five_steps() -> None:
    from verify.plotting import regular_ticks

    # IMP's weights remaining (100, 80.7, 65.2, ... 1.8%) get round ticks, not the levels
    assert regular_ticks(1.8, 100.0) == [2, 5, 10, 20, 50, 100]
    assert regular_ticks(0.013, 0.5) == [0.02, 0.05, 0.1, 0.2, 0.5]
    assert regular_ticks(60, 80) == []


def test_log_axis_regular_falls_back_to_the_values_on_a_short_range() -> None:
    import matplotlib.pyplot as plt

    from verify.plotting import log_axis

    fig, ax = plt.subplots()
    log_axis(ax, [100, 80.7, 65.2, 52.6, 42.4, 34.2, 27.6], invert=True, regular=True)
    assert list(ax.get_xticks()) == [50, 100]
    log_axis(ax, [80.7, 65.2], regular=True)
    assert list(ax.get_xticks()) == [65.2, 80.7]
    plt.close(fig)


def _saved_size(fig) -> tuple[int, int]:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=50, bbox_inches="tight")
    return Image.open(io.BytesIO(buffer.getvalue())).size


def test_panel_grid_keeps_a_readable_aspect() -> None:
    """Four variants in one row were 4.8:1 (mpt_width.png); in rows of two, with the legend
    beside them, the saved figure is at most 2:1."""
    import matplotlib.pyplot as plt

    from verify.plotting import figure_legend, panel_grid, use_style

    use_style()
    for panels in (1, 3, 4):
        fig, axes = panel_grid(panels, sharey=True)
        assert len(axes) == panels == len(fig.axes)
        for ax in axes:
            for width in ("x0.5", "x1", "x2"):
                ax.plot([0.1, 0.5], [50, 60], marker="o", label=width)
            ax.set(xlabel="kept fraction $k$", ylabel="test accuracy (%)", title="MPT-1/1 +BN")
        figure_legend(fig, axes[0], title="width\n(dashed: dense,\nweights trained)")
        fig.suptitle("MPT on mnist1d: width (MLP-3)")
        width, height = _saved_size(fig)
        assert width / height <= 2.0, (panels, width, height)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        for upper, lower in zip(axes, axes[2:], strict=False):  # a row and the one below it
            assert not _overlaps(upper.xaxis.label.get_window_extent(renderer),
                                 lower.title.get_window_extent(renderer))
        plt.close(fig)
    with pytest.raises(ValueError, match="panels >= 1"):
        panel_grid(0)


def test_figure_legend_starts_at_the_last_panel() -> None:
    """No empty margin between the panels and the legend (lth_accuracy.png had one)."""
    import matplotlib.pyplot as plt

    from verify.plotting import figure_legend

    fig, axes = plt.subplots(1, 2, figsize=(10.8, 4.2))
    for ax in axes:
        ax.plot([1, 2], [1, 2], label="IMP ticket")
    legend = figure_legend(fig, axes[0], title="arm")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    gap = legend.get_window_extent(renderer).x0 - axes[1].get_window_extent(renderer).x1
    assert 0 <= gap <= 0.02 * fig.bbox.width
    plt.close(fig)
