"""Plotly figures (as JSON for the page's chart loader) and tiny SVG sparklines.

Figures are built server-side with plotly.graph_objects and embedded as JSON
in ``<script type="application/json">`` blocks; ``<``, ``>`` and ``&`` are
escaped so no data value can close the block. The browser loads Plotly from
the installed package (``/static/plotly.min.js``), never from a CDN.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import plotly.graph_objects as go
from markupsafe import Markup
from plotly.utils import PlotlyJSONEncoder

GREEN, YELLOW, RED, BLUE, GREY = "#2e9e5b", "#e0b000", "#d64545", "#3069c6", "#8a94a6"
LAYOUT = {
    "margin": {"l": 50, "r": 20, "t": 40, "b": 40},
    "height": 340,
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "font": {"family": "system-ui, sans-serif", "size": 12},
    "legend": {"orientation": "h", "y": -0.2},
}


def to_json(fig: go.Figure) -> Markup:
    """Figure JSON that is safe inside a ``<script type="application/json">`` element."""
    text = json.dumps(fig.to_plotly_json(), cls=PlotlyJSONEncoder)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 - escaped above for the script-data context


def _fig(title: str, category_x: bool = True, **layout: object) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title={"text": title, "x": 0}, **LAYOUT)
    fig.update_layout(**layout)
    if category_x:
        # Period labels (2025-05, 2025-Q2, 2025-W19) are shown as they are, not parsed as dates.
        fig.update_xaxes(type="category")
    return fig


def line(title: str, x: Sequence[str], series: dict[str, Sequence[float | None]], percent: bool = False,
         errors: dict[str, Sequence[float | None]] | None = None) -> Markup:
    fig = _fig(title)
    for name, ys in series.items():
        err = (errors or {}).get(name)
        fig.add_trace(go.Scatter(
            x=list(x), y=[None if v is None else (100 * v if percent else v) for v in ys], name=name,
            mode="lines+markers",
            error_y={"type": "data", "array": [0 if e is None else e for e in err], "visible": True} if err else None,
        ))
    if percent:
        fig.update_yaxes(ticksuffix="%")
    return to_json(fig)


def movements(x: Sequence[str], parts: dict[str, Sequence[float | None]]) -> Markup:
    """Stacked bars of the MRR movements per period; losses below zero."""
    fig = _fig("MRR movements per period", barmode="relative")
    colors = {"new": GREEN, "reactivation": "#6cc18f", "expansion": BLUE, "contraction": YELLOW, "churned": RED}
    for name, ys in parts.items():
        sign = -1 if name in ("contraction", "churned") else 1
        fig.add_trace(go.Bar(x=list(x), y=[None if v is None else sign * v for v in ys], name=name,
                             marker_color=colors.get(name, GREY)))
    return to_json(fig)


def waterfall(label: str, start: float, steps: dict[str, float], end: float) -> Markup:
    """The MRR bridge of one period: starting MRR, each movement, ending MRR."""
    names = ["starting MRR", *steps, "ending MRR"]
    values = [start, *steps.values(), end]
    measure = ["absolute", *["relative"] * len(steps), "total"]
    fig = _fig(f"MRR bridge, {label}")
    # Zoom the value axis onto the bars' range so that small movements stay visible.
    levels = [start]
    for v in steps.values():
        levels.append(levels[-1] + v)
    lo, hi = min(levels + [end]), max(levels + [end])
    pad = max((hi - lo) * 0.5, abs(hi) * 0.02, 1.0)
    fig.update_yaxes(range=[max(lo - pad, 0) if lo >= 0 else lo - pad, hi + pad])
    fig.add_trace(go.Waterfall(x=names, y=values, measure=measure,
                               increasing={"marker": {"color": GREEN}}, decreasing={"marker": {"color": RED}},
                               totals={"marker": {"color": BLUE}}))
    return to_json(fig)


def heatmap(title: str, x: Sequence[str], y: Sequence[str], z: Sequence[Sequence[float | None]]) -> Markup:
    fig = _fig(title, height=max(300, 28 * len(y) + 120))
    fig.add_trace(go.Heatmap(
        x=list(x), y=list(y), z=[[None if v is None else round(100 * v, 1) for v in row] for row in z],
        colorscale="Blues", zmin=0, zmax=100, colorbar={"ticksuffix": "%"},
        hovertemplate="cohort %{y}<br>%{x}: %{z}%<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category")
    return to_json(fig)


def timeline(subs: list[dict[str, object]], events: list[dict[str, object]], today: str) -> Markup:
    """Subscriptions as horizontal bars; tickets and survey answers as markers."""
    fig = _fig("Timeline", category_x=False, height=260 + 18 * len(subs))
    for s in subs:
        fig.add_trace(go.Scatter(x=[s["start"], s["end"] or today], y=[s["label"]] * 2, mode="lines",
                                 line={"width": 10, "color": BLUE}, name=str(s["label"]), showlegend=False,
                                 hovertext=str(s["hover"]), hoverinfo="text"))
    kinds: dict[str, list[dict[str, object]]] = {}
    for e in events:
        kinds.setdefault(str(e["kind"]), []).append(e)
    for kind, es in kinds.items():
        fig.add_trace(go.Scatter(x=[e["at"] for e in es], y=[kind] * len(es), mode="markers", name=kind,
                                 hovertext=[str(e["hover"]) for e in es], hoverinfo="text+x",
                                 marker={"size": 10}))
    fig.update_yaxes(type="category")
    return to_json(fig)


def bars(title: str, x: Sequence[str], series: dict[str, Sequence[float | None]],
         colors: dict[str, str] | None = None, stacked: bool = True) -> Markup:
    fig = _fig(title, barmode="stack" if stacked else "group")
    for name, ys in series.items():
        fig.add_trace(go.Bar(x=list(x), y=list(ys), name=name, marker_color=(colors or {}).get(name)))
    return to_json(fig)


def sparkline(values: Sequence[float | None], width: int = 120, height: int = 32) -> Markup:
    """An inline SVG polyline of the values (gaps for nulls); empty when fewer than two values."""
    pts = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(pts) < 2:
        return Markup("")
    lo = min(v for _, v in pts)
    hi = max(v for _, v in pts)
    span = (hi - lo) or 1.0
    n = max(len(values) - 1, 1)
    coords = " ".join(
        f"{2 + (width - 4) * i / n:.1f},{height - 2 - (height - 4) * (v - lo) / span:.1f}" for i, v in pts
    )
    return Markup(
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="trend"><polyline fill="none" stroke="currentColor" stroke-width="1.5" '
        f'points="{coords}"/></svg>'
    )
