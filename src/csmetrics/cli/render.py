"""Tables that fit the terminal: column kinds that are never cut, and the period grid.

Rich shrinks a table that is wider than the terminal by squeezing columns, and
cuts what no longer fits with "…". A number cut that way reads as another
number, so here:

- ``num`` and ``key`` columns (figures, ids, dates) get a fixed width, the
  width of their widest cell: Rich never squeezes them, their headers wrap
  at spaces instead;
- ``text`` columns (names, reasons, comments) take what is left and wrap;
- :func:`period_grid` lays out series x periods with periods as columns when
  they fit, else periods as rows (metrics as columns, in as many blocks as
  the width needs), with compact numbers when full ones do not fit.

The width is ``COLUMNS`` when set, else the terminal's; when stdout is not a
terminal and ``COLUMNS`` is unset, tables print at their natural width
(logs and pipes never wrap or cut).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

__all__ = ["Col", "Grid", "Layout", "fit_table", "fits", "light", "make_table", "natural_width", "period_grid",
           "print_tables", "terminal_width"]

Kind = Literal["num", "key", "text"]
Layout = Literal["auto", "wide", "transpose"]

_HUGE = 100_000
# A text column (names, reasons) squeezed below this many columns reads as a ladder of words.
TEXT_MIN = 20


def terminal_width() -> int | None:
    """Columns available on stdout: ``COLUMNS`` if set, else the terminal's; None when piped (no limit)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        if sys.stdout.isatty():
            return shutil.get_terminal_size().columns
    except (AttributeError, ValueError, OSError):
        pass
    return None


@dataclass(frozen=True)
class Col:
    """A column: ``num`` (right-aligned figure), ``key`` (id, date, label) or ``text`` (wraps)."""

    header: str
    kind: Kind = "text"
    justify: Literal["left", "right", "center"] | None = None
    style: str | None = None


def _cell_width(cell: str | Text) -> int:
    text = cell if isinstance(cell, Text) else Text.from_markup(cell)
    return max((Text(line).cell_len for line in text.plain.split("\n")), default=0)


def make_table(title: str | None, cols: Sequence[Col], rows: Iterable[Sequence[str | Text]], *,
               styles: Sequence[str | None] | None = None, show_lines: bool = False) -> Table:
    """A Rich table whose ``num`` and ``key`` columns are as wide as their widest cell, so never cut.

    Cells are Rich markup strings (or Text). A header wider than its column wraps at
    spaces (or at explicit newlines); text columns wrap to what is left.
    """
    rows = [list(r) for r in rows]
    t = _Table(title=title, show_lines=show_lines)
    for i, c in enumerate(cols):
        justify = c.justify or ("right" if c.kind == "num" else "left")
        if c.kind == "text":
            t.add_column(c.header, justify=justify, style=c.style, overflow="fold")
            texts = [x if isinstance(x, Text) else Text.from_markup(x) for x in (r[i] for r in rows)]
            longest_word = max((Text(w).cell_len for x in texts for w in x.plain.split()), default=0)
            natural = max((_cell_width(x) for x in texts), default=0)
            t.text_room += max(0, min(natural, TEXT_MIN) - longest_word)
            continue
        words = [w for line in c.header.split("\n") for w in line.split()]
        width = max([_cell_width(r[i]) for r in rows] + [Text(w).cell_len for w in words] + [1])
        t.add_column(c.header, justify=justify, style=c.style, width=width, overflow="fold")
    for j, r in enumerate(rows):
        t.add_row(*r, style=styles[j] if styles else None)
    return t


def light(table: Table) -> Table:
    """``table`` with a rule under the header only and one space between columns: 1-2 columns saved per column."""
    table.box = box.SIMPLE_HEAD
    table.show_edge = False
    table.pad_edge = False
    table.collapse_padding = True
    return table


def fit_table(build: Callable[[bool], Table], width: int | None) -> Table:
    """The first of ``build(False)``, ``build(True)`` (compact cells) and a light-boxed ``build(True)`` that fits.

    ``build(compact)`` makes the table with full or compact cells (1.03M, "n.r.").
    """
    t = build(False)
    if fits(t, width):
        return t
    t = build(True)
    return t if fits(t, width) else light(t)


class _Table(Table):
    """A table that knows how much more than their longest word its text columns want (see :func:`fits`)."""

    text_room: int = 0


def natural_width(table: Table) -> int:
    """Columns the table takes when nothing limits it."""
    return Console(width=_HUGE).measure(table).maximum


def fits(table: Table, width: int | None) -> bool:
    """Whether ``table`` fits in ``width`` columns with every text column at least ``TEXT_MIN`` wide.

    (Or as wide as its widest cell, if narrower; and never below its longest word.)
    """
    if width is None:
        return True
    m = Console(width=_HUGE).measure(table)
    return m.minimum + getattr(table, "text_room", 0) <= width


def print_tables(tables: Sequence[RenderableType], width: int | None) -> None:
    """Print tables to stdout at ``width`` (None: each at its natural width, never wrapped)."""
    for i, t in enumerate(tables):
        w = width if width is not None else max(80, natural_width(t)) if isinstance(t, Table) else _HUGE
        out = Console(width=w)
        if i and isinstance(t, Table) and isinstance(tables[i - 1], Table):
            out.print()
        # Text (a title naming a long path) wraps at the width like the tables; unbounded when piped.
        out.print(t, soft_wrap=not isinstance(t, Table) and width is None)


# ----------------------------------------------------------------------------- period grid


@dataclass
class Grid:
    """Series x periods of pre-formatted cells, in a full and a compact form.

    ``cells[(name, group, period)] = (full, compact)``. ``names`` are the series
    (metric names, themes), ``groups`` the values of the --by column ([None]
    without one).
    """

    title: str
    name_header: str
    periods: list[str]
    names: list[str]
    groups: list[str | None] = field(default_factory=lambda: [None])
    group_header: str | None = None
    cells: dict[tuple[str, str | None, str], tuple[str, str]] = field(default_factory=dict)
    # Row label shown for a series (e.g. a theme's number and words); default: the name.
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def grouped(self) -> bool:
        return self.group_header is not None

    def cell(self, name: str, group: str | None, period: str, compact: bool) -> str:
        full_compact = self.cells.get((name, group, period))
        if full_compact is None:
            return ""
        return full_compact[1] if compact else full_compact[0]


def _columns_table(g: Grid, compact: bool) -> Table:
    """Series as rows, periods as columns."""
    cols = [Col(g.name_header, "key")]
    if g.grouped:
        cols.append(Col(str(g.group_header), "key"))
    cols += [Col(p, "num") for p in g.periods]
    rows = []
    for name in g.names:
        for group in g.groups:
            if not any((name, group, p) in g.cells for p in g.periods):
                continue
            head = [g.labels.get(name, name)] + ([str(group)] if g.grouped else [])
            rows.append(head + [g.cell(name, group, p, compact) for p in g.periods])
    return make_table(g.title, cols, rows)


def _header_lines(name: str, width: int) -> str:
    """``customer_retention_rate`` as lines of at most ``width`` (or its longest piece), broken after ``_``."""
    pieces = [p + "_" for p in name.split("_")]
    pieces[-1] = pieces[-1][:-1]
    width = max([width, *(len(p) for p in pieces)])
    lines: list[str] = []
    for p in pieces:
        if lines and len(lines[-1]) + len(p) <= width:
            lines[-1] += p
        else:
            lines.append(p)
    return "\n".join(lines)


def _rows_table(g: Grid, names: list[str], compact: bool, title: str | None) -> Table:
    """Periods as rows, series as columns."""
    cols = [Col("period", "key")]
    if g.grouped:
        cols.append(Col(str(g.group_header), "key"))
    for name in names:
        cell_w = max((len(g.cell(name, grp, p, compact)) for grp in g.groups for p in g.periods), default=1)
        label = g.labels.get(name, name)
        header = _header_lines(label, max(cell_w, 6)) if " " not in label else label
        cols.append(Col(header, "num"))
    rows = []
    for p in g.periods:
        for group in g.groups:
            if not any((n, group, p) in g.cells for n in names):
                continue
            rows.append([p] + ([str(group)] if g.grouped else []) + [g.cell(n, group, p, compact) for n in names])
    return make_table(title, cols, rows)


def _split(g: Grid, width: int, compact: bool) -> list[list[str]]:
    """The series in as few blocks as fit ``width`` as period-row tables, of sizes as even as possible."""
    def fits_block(names: list[str]) -> bool:
        return len(names) == 1 or natural_width(_rows_table(g, names, compact, None)) <= width

    greedy: list[list[str]] = [[]]
    for name in g.names:
        if greedy[-1] and not fits_block([*greedy[-1], name]):
            greedy.append([])
        greedy[-1].append(name)
    k = len(greedy)
    size = -(-len(g.names) // k)
    even = [g.names[i:i + size] for i in range(0, len(g.names), size)]
    return even if len(even) == k and all(fits_block(b) for b in even) else greedy


def _blocks(g: Grid, width: int, compact: bool) -> list[RenderableType]:
    """Periods as rows, the series split into as few tables as the width needs, under one title."""
    blocks = _split(g, width, compact)
    if len(blocks) == 1:
        return [_rows_table(g, blocks[0], compact, g.title)]
    out: list[RenderableType] = [Text(g.title, style="bold")]
    done = 0
    for b in blocks:
        out.append(_rows_table(g, b, compact, f"{g.name_header}s {done + 1}-{done + len(b)} of {len(g.names)}"))
        done += len(b)
    return out


def period_grid(g: Grid, width: int | None, layout: Layout = "auto") -> list[RenderableType]:
    """The tables to print for ``g`` at ``width`` columns (None: no limit).

    ``auto``: periods as columns with full numbers if that fits, else with compact
    numbers; else periods as rows (full numbers if one table fits, else compact
    numbers in as many tables as needed). ``wide``: periods as columns, full numbers,
    whatever the width. ``transpose``: periods as rows, fitted as in ``auto``.
    """
    if layout == "wide":
        return [_columns_table(g, compact=False)]
    if layout == "auto":
        for compact in (False, True):
            t = _columns_table(g, compact)
            if width is None or natural_width(t) <= width:
                return [t]
    full = _rows_table(g, g.names, False, g.title)
    if width is None or natural_width(full) <= width:
        return [full]
    return _blocks(g, width, compact=True)
