"""Log-axis tick choice and labels (verify/plotting.py)."""

from __future__ import annotations

import math
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from verify.plotting import MAX_LABELLED_TICKS, plain_number, spaced_ticks


def test_close_widths_are_not_both_labelled() -> None:
    widths = [4, 8, 16, 32, 56, 64, 112, 128, 224, 256, 448, 512, 896, 1024, 1792]
    # 1024 and 896 lie within 1/16 of the log range of a kept neighbour; 9 remain, stride 2
    assert spaced_ticks(widths) == [8, 32, 128, 512, 1792]


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
