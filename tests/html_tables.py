"""The static tables a page drew (`dashboard.ui.small_table`: st.html elements holding one
`<table class="gs-table">`), read back from an AppTest run as columns of cell texts; a cell
that holds a link reads as its address. The rows of figures (`dashboard.ui.metrics`: one
`<div class="gs-metrics">` each) read back as figures with their label, value, change and help.
For tests of what a page shows, without a browser."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any


class _Table(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.header: list[str] = []
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self._in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "thead":
            self._in_head = True
        elif tag == "tr" and not self._in_head:
            self.rows.append([])
        elif tag in ("th", "td"):
            self._cell = []
        elif tag == "a" and self._cell is not None:
            self._cell.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "thead":
            self._in_head = False
        elif tag in ("th", "td") and self._cell is not None:
            text = "".join(self._cell)
            (self.header if self._in_head else self.rows[-1]).append(text)
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None and not (self._cell and self._cell[-1].startswith("http")):
            self._cell.append(data)


def parse_table(body: str) -> dict[str, list[str]]:
    """One static table's HTML as {column: [cell, ...]} (a link cell: its href)."""
    t = _Table()
    t.feed(body)
    return {name: [row[i] for row in t.rows] for i, name in enumerate(t.header)}


def html_tables(at: Any) -> list[dict[str, list[str]]]:
    """Every static table of an AppTest run, in page order."""
    return [
        parse_table(el.proto.body) for el in at.get("html") if 'class="gs-table"' in el.proto.body
    ]


@dataclass
class Figure:
    """One figure of a metric row as the page shows it: `direction` is "up", "down", "off"
    (a change with no arrow) or None (no change shown); `arrow` the arrow drawn, if any."""

    label: str = ""
    value: str = ""
    delta: str | None = None
    direction: str | None = None
    arrow: str = ""
    help: str | None = None


class _Metrics(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.figures: list[Figure] = []
        self._field: str | None = None
        self._hidden = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if "gs-metric" in classes:
            self.figures.append(Figure())
        elif "gs-label" in classes:
            self._field = "label"
        elif "gs-value" in classes:
            self._field = "value"
        elif "gs-delta" in classes:
            self._field = "delta"
            self.figures[-1].delta = ""
            self.figures[-1].direction = next(c for c in classes if c != "gs-delta")
        elif "gs-help" in classes:
            self.figures[-1].help = a.get("title")
            self._hidden = True
        elif a.get("aria-hidden") == "true":
            self._hidden = True

    def handle_endtag(self, tag: str) -> None:
        if self._hidden:
            self._hidden = False
        elif tag == "div":
            self._field = None

    def handle_data(self, data: str) -> None:
        f = self.figures[-1] if self.figures else None
        if f is None or self._field is None:
            return
        if self._hidden:
            if self._field == "delta":
                f.arrow += data.strip()
            return
        setattr(f, self._field, (getattr(f, self._field) or "") + data)


def parse_metrics(body: str) -> list[Figure]:
    """One row of figures' HTML, in order."""
    m = _Metrics()
    m.feed(body)
    return m.figures


def html_metrics(at: Any) -> list[Figure]:
    """Every figure of every metric row of an AppTest run, in page order."""
    return [
        f
        for el in at.get("html")
        if 'class="gs-metrics"' in el.proto.body
        for f in parse_metrics(el.proto.body)
    ]
