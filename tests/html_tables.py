"""The static tables a page drew (`dashboard.ui.small_table`: st.html elements holding one
`<table class="gs-table">`), read back from an AppTest run as columns of cell texts; a cell
that holds a link reads as its address. For tests of what a page shows, without a browser."""

from __future__ import annotations

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
