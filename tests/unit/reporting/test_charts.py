"""The chart builders give inline SVG that can sit many to a page."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from tierwise.reporting import charts


def _all() -> list[str]:
    return [
        charts.grouped_bars(["A", "B"], {"customers": [3, 4], "revenue": [5, 1]}, title="mix"),
        charts.stacked_bars(["2026-01", "2026-02"], {"A": [1, 2], "B": [3, 1]}, title="over time"),
        charts.stacked_bars(["orders"], {"bad_date": [2], "bad_amount": [5]}, horizontal=True),
        charts.line_chart([0, 0.5, 1], {"revenue": [0, 0.8, 1]}, guides=[charts.Guide("x", 0.5, "A|B")]),
        charts.matrix_chart(["A", "B"], ["A", "B"], [[1, 2], [3, 4]], title="moves"),
        charts.line_chart(["2025-11-30", "2025-12-31"], {"gold": [3, 4], "silver": [5, 2]}),
        charts.stacked_bars(["orders"], {f"reason {n}": [n] for n in range(9)}, horizontal=True),
    ]


def test_each_chart_is_one_well_formed_svg_element() -> None:
    for svg in _all():
        assert svg.startswith("<svg")
        assert ET.fromstring(svg).tag.endswith("svg")
        assert "<?xml" not in svg and "DOCTYPE" not in svg


def test_ids_do_not_clash_between_charts_and_references_follow_them() -> None:
    page = "".join(_all())
    ids = re.findall(r'id="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    referenced = set(re.findall(r'(?:url\(#|href="#)([^)"]+)', page))
    assert referenced and referenced <= set(ids)


def test_text_stays_text_so_labels_are_in_the_dom() -> None:
    svg = charts.matrix_chart(["gold"], ["silver"], [[1234]], title="moves from gold")
    assert "moves from gold" in svg and "1,234" in svg and "silver" in svg


def test_no_external_reference() -> None:
    assert not any(re.search(r"https?://(?!www\.w3\.org/)", svg) for svg in _all())


def test_fixed_colours_win_and_the_palette_fills_the_rest() -> None:
    colours = charts.colours_for(["A", "B", "C"], {"B": "#123456"})
    assert colours["B"] == "#123456"
    assert colours["A"] == charts.PALETTE[0] and colours["C"] == charts.PALETTE[1]


def test_labels_on_x_are_kept_in_order() -> None:
    svg = charts.line_chart(["2025-11-30", "2025-12-31"], {"gold": [3, 4]})
    assert 0 < svg.index("2025-11-30") < svg.index("2025-12-31")
