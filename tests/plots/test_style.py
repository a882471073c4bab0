"""bz.plots.style: the house template prints numbers the same way in every figure."""

from __future__ import annotations

import numpy as np
import pytest

from batteryzoom.plots import style


def test_template_prints_numbers_without_thousands_separators_or_si_suffixes():
    layout = style.figure().layout.template.layout
    # plotly's default ".," separates 4-digit numbers only when they have decimals:
    # "8342" beside "8,341.5" on one colour bar
    assert layout.separators == "."
    # an axis in µm reads 15000, not "15k" (kilo-µm)
    assert layout.xaxis.exponentformat == "none" and layout.yaxis.exponentformat == "none"


@pytest.mark.parametrize("lo, hi", [(2.5, 4.2), (3.97, 4.18), (0.0, 2.05), (8340.1, 8342.3), (0.0, 25.0),
                                    (0.0, 18400.0), (0.0, 1.29), (-130.0, 130.0), (1e-4, 7e-4)])
def test_tick_format_gives_every_label_the_same_decimals(lo, hi, assert_uniform_ticks):
    assert_uniform_ticks(style.tick_format(lo, hi), lo, hi)
    assert_uniform_ticks(style.tick_format(lo, hi, 6), lo, hi, 6)


def test_tick_format_uses_no_more_decimals_than_the_ticks_need():
    # the finest step plotly can take on 0-25 is 5: integers, no ".0"
    assert style.tick_format(0, 25) == ".0f"
    assert style.colorbar_ticks(8340.1, 8343.6) == {"nticks": 6, "tickformat": ".0f"}
    assert style.tick_format(1.0, 1.0) is None and style.tick_format(0.0, np.nan) is None
    assert style.colorbar_ticks(None, 3.0) == {}
