"""Charts for HTML reports, drawn by matplotlib and returned as inline SVG strings.

Reports must work offline and be readable as one file, so every chart is an ``<svg>`` element
put straight into the page: no image files, no scripts, no fonts fetched. Text stays text
(``svg.fonttype = none``) so the page is searchable and the browser's own font draws it; each
chart gets its own id salt so several charts in one page never share element ids. The functions
take plain numbers and labels, not tables, so any report (the run report, a what-if comparison)
can draw with them.

Figures are made with :class:`matplotlib.figure.Figure`, not pyplot: pyplot's import, its
figure registry and backend switching add a quarter of a second to every run's summarize
step and nothing to an SVG.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import matplotlib
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# A colour-blind-safe palette (Okabe-Ito) so tiers and series stay apart for every reader.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
WIDTH_IN = 7.0
HEIGHT_IN = 3.6
LEGEND_INSIDE_MOST = 4
_chart_ids = itertools.count(1)


@dataclass(frozen=True)
class Guide:
    """A reference line on a chart: ``axis`` "x" draws a vertical line at ``value``, "y" a horizontal."""

    axis: Literal["x", "y"]
    value: float
    label: str


def colours_for(names: Sequence[str], fixed: Mapping[str, str] | None = None) -> dict[str, str]:
    """A colour per name: ``fixed`` ones first, the palette in order for the rest."""
    fixed = fixed or {}
    free = (colour for colour in itertools.cycle(PALETTE))
    return {name: fixed.get(name) or next(free) for name in names}


def _figure(height: float = HEIGHT_IN) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(WIDTH_IN, height), layout="constrained")
    axes = figure.subplots()
    axes.spines[["top", "right"]].set_visible(False)
    return figure, axes


def to_svg(figure: Figure) -> str:
    """The figure as an ``<svg>`` element for inlining (no XML prolog, no doctype), then closed."""
    buffer = io.StringIO()
    salt = f"tw{next(_chart_ids)}"
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    # The RDF metadata block names outside vocabularies; a page that works offline needs none of it.
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.DOTALL)
    # Ids of clip paths and markers are hashed with the salt; prefixing keeps them unique per page.
    svg = re.sub(r'id="([^"]+)"', rf'id="{salt}-\1"', svg)
    return re.sub(r'(url\(#|xlink:href="#|href="#)([^)"]+)', rf"\1{salt}-\2", svg)


def _titles(axes: Axes, title: str, x_label: str, y_label: str) -> None:
    axes.set_title(title, loc="left", fontsize=11)
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)


def _legend(axes: Axes, entries: int) -> None:
    """A legend when there is more than one series; outside the plot when it would cover the bars."""
    if entries <= 1:
        return
    if entries > LEGEND_INSIDE_MOST:
        axes.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        axes.legend(frameon=False, fontsize=8, loc="best")


def grouped_bars(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    title: str = "",
    x_label: str = "",
    y_label: str = "",
    colours: Mapping[str, str] | None = None,
) -> str:
    """Bars side by side: one group per category, one bar per series in each group."""
    figure, axes = _figure()
    names = list(series)
    palette = colours_for(names, colours)
    width = 0.8 / max(len(names), 1)
    for index, name in enumerate(names):
        offsets = [position + (index - (len(names) - 1) / 2) * width for position in range(len(categories))]
        axes.bar(offsets, list(series[name]), width=width, label=name, color=palette[name])
    axes.set_xticks(range(len(categories)), list(categories))
    _titles(axes, title, x_label, y_label)
    _legend(axes, len(names))
    return to_svg(figure)


def stacked_bars(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    title: str = "",
    x_label: str = "",
    y_label: str = "",
    colours: Mapping[str, str] | None = None,
    horizontal: bool = False,
) -> str:
    """One bar per category, each made of the series stacked in order."""
    figure, axes = _figure()
    palette = colours_for(list(series), colours)
    base = [0.0] * len(categories)
    for name, values in series.items():
        numbers = [float(value) for value in values]
        if horizontal:
            axes.barh(list(categories), numbers, left=base, label=name, color=palette[name])
        else:
            axes.bar(list(categories), numbers, bottom=base, label=name, color=palette[name])
        base = [low + value for low, value in zip(base, numbers, strict=True)]
    _titles(axes, title, x_label, y_label)
    _legend(axes, len(series))
    if not horizontal and len(categories) > 6:
        axes.tick_params(axis="x", labelrotation=30)
    return to_svg(figure)


def line_chart(
    x: Sequence[float] | Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    title: str = "",
    x_label: str = "",
    y_label: str = "",
    colours: Mapping[str, str] | None = None,
    markers: bool = True,
    guides: Sequence[Guide] = (),
) -> str:
    """One line per series over ``x`` (numbers, or labels in order), with optional reference lines."""
    figure, axes = _figure()
    palette = colours_for(list(series), colours)
    labelled = bool(x) and isinstance(x[0], str)
    positions: list[float] = [float(i) for i in range(len(x))] if labelled else [float(v) for v in x]
    for name, values in series.items():
        numbers = [float(value) for value in values]
        axes.plot(positions, numbers, marker="o" if markers else None, label=name, color=palette[name])
    for guide in guides:
        draw = axes.axvline if guide.axis == "x" else axes.axhline
        draw(guide.value, color="#666666", linestyle="--", linewidth=1)
        place = (
            {"x": guide.value, "y": 0.02, "transform": axes.get_xaxis_transform(), "rotation": 90}
            if guide.axis == "x"
            else {"x": 0.01, "y": guide.value, "transform": axes.get_yaxis_transform()}
        )
        axes.text(s=guide.label, fontsize=8, color="#444444", va="bottom", **place)  # type: ignore[arg-type]
    if labelled:
        axes.set_xticks(positions, [str(label) for label in x])
    _titles(axes, title, x_label, y_label)
    _legend(axes, len(series))
    return to_svg(figure)


def matrix_chart(
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    counts: Sequence[Sequence[float]],
    *,
    title: str = "",
    x_label: str = "",
    y_label: str = "",
) -> str:
    """A heat map of ``counts`` (rows by columns) with each count written in its cell."""
    figure, axes = _figure(height=max(HEIGHT_IN, 0.45 * len(row_labels) + 1.2))
    grid = [[float(value) for value in row] for row in counts]
    axes.imshow(grid, cmap="Blues", aspect="auto")
    axes.set_xticks(range(len(column_labels)), list(column_labels))
    axes.set_yticks(range(len(row_labels)), list(row_labels))
    top = max((value for row in grid for value in row), default=0.0)
    for row, values in enumerate(grid):
        for column, value in enumerate(values):
            colour = "white" if top and value > top / 2 else "black"
            axes.text(column, row, f"{value:,.0f}", ha="center", va="center", color=colour, fontsize=9)
    axes.spines[["left", "bottom"]].set_visible(False)
    _titles(axes, title, x_label, y_label)
    return to_svg(figure)
