"""Small page helpers: headline metrics, safe post tables, empty states.

Untrusted text (posts, handles, titles) only ever reaches the page as plain text cells of
`st.dataframe`, or HTML-escaped cells of a static table (`small_table`, `table_html`), after
`domain.sanitize.clean_text` (bidi overrides and control characters removed, length capped);
links only when they are http(s), their address escaped in a quoted attribute. Never
`unsafe_allow_html`.
"""

from __future__ import annotations

import html
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st

from dashboard import basic_charts
from dashboard.data import TTL_S
from dashboard.filters import url_toggle
from domain.sanitize import clean_text
from storage.queries.overview import HEADLINE_LABELS

LABELS = HEADLINE_LABELS
HELP = {
    "mentions": "Posts, statuses, blog entries and pingbacks matching the movement in the range.",
    "people": "Distinct authors of those mentions.",
    "new_voices": "Authors whose first ever mention of the movement falls in the range.",
    "platforms": "Platforms with at least one mention in the range.",
    "instances": "Distinct home instances of the Mastodon authors in the range.",
    "blogs": "Distinct blog sites with an entry in the range.",
}


def previous_period(seconds: int) -> str:
    """How the comparison period reads: "the previous 7 days", "the previous hour", or, for a
    range that is no whole number of days or hours, "the equally long period before"."""
    for unit, name in ((86400, "day"), (3600, "hour")):
        if seconds >= unit and seconds % unit == 0:
            n = seconds // unit
            return f"the previous {name}" if n == 1 else f"the previous {n:,} {name}s"
    return "the equally long period before"


def change_text(value: int, change: int | None) -> str | None:
    """The change beside a figure: the absolute difference and, when there was something to
    compare with, the percentage ("+120 (+15%)"); "new" when the previous period had none;
    "no change" for 0. The period compared with is said once, above the row
    (`metric_row`): repeated in every pill it was cut to "vs previo…" at six figures a row."""
    if change is None:
        return None
    if change == 0:
        return "no change"
    before = value - change
    pct = f"{change / before:+.0%}" if before > 0 else "new"
    return f"{change:+,} ({pct})"


def metric_row(changes: Mapping[str, Mapping[str, int | None]], period: str) -> None:
    """The headline figures in one row, each with its change against `period` ("the previous
    7 days"), which a caption names once."""
    if any(c.get("change") is not None for c in changes.values()):
        st.caption(f"Changes are against {period}.")
    items = []
    for key, label in LABELS.items():
        c = changes.get(key, {})
        value, delta = int(c.get("value") or 0), c.get("change")
        items.append(Metric(label, f"{value:,}", change_text(value, delta), delta or 0, HELP[key]))
    metrics(items)


@dataclass(frozen=True)
class Metric:
    """One figure of a metric row: its label, value as shown, the change beside it (None for
    none), the change's sign (colour and arrow: up green, down red, 0 grey with no arrow),
    and the help its "?" shows on hover."""

    label: str
    value: str
    delta: str | None = None
    sign: int = 0
    help: str | None = None


def metrics_html(items: Sequence[Metric]) -> str:
    """A row of figures as inert HTML in the look of `st.metric` (label, large value, the
    change as a pill). Every text escaped. The row wraps on a narrow screen. Pure, so it is
    tested without a browser (tests/html_tables.py reads it back)."""
    cells = []
    for m in items:
        help_html = (
            f'<span class=gs-help title="{html.escape(m.help, quote=True)}" role=img '
            f'aria-label="{html.escape(m.help, quote=True)}">?</span>'
            if m.help
            else ""
        )
        delta_html = ""
        if m.delta is not None:
            cls, arrow = (
                ("up", "↑ ") if m.sign > 0 else ("down", "↓ ") if m.sign < 0 else ("off", "")
            )
            delta_html = (
                f'<div class="gs-delta {cls}"><span aria-hidden=true>{arrow}</span>'
                f"{html.escape(m.delta)}</div>"
            )
        cells.append(
            f"<div class=gs-metric><div class=gs-label>{html.escape(m.label)}{help_html}</div>"
            f"<div class=gs-value>{html.escape(m.value)}</div>{delta_html}</div>"
        )
    return f'<div class="gs-metrics">{"".join(cells)}</div>'


def metrics(items: Sequence[Metric]) -> None:
    """A row of figures (`metrics_html`), drawn as one piece of HTML: `st.metric` renders its
    label through Streamlit's Markdown and a tooltip per figure, which cost a new tab about
    20 ms of the browser's time per figure (the Overview has twelve; docs/benchmarks/
    pages.md)."""
    if items:
        st.html(_METRIC_STYLE + metrics_html(items))


# st.metric's look (Streamlit 1.5x, light theme): 14 px label, 2.25 rem value, the change as a
# pill, green up, red down, grey when there is none.
_METRIC_STYLE = (
    "<style>"
    ".gs-metrics{display:grid;grid-template-columns:repeat(auto-fit,minmax(8.5rem,1fr));"
    "gap:1rem;margin-bottom:1rem;font-family:'Source Sans',sans-serif;color:rgb(49,51,63)}"
    ".gs-label{font-size:0.875rem;line-height:1.6;display:flex;align-items:center;gap:0.25rem}"
    ".gs-help{display:inline-flex;align-items:center;justify-content:center;width:0.95rem;"
    "height:0.95rem;border:1.5px solid rgba(49,51,63,0.6);border-radius:50%;font-size:0.65rem;"
    "font-weight:600;color:rgba(49,51,63,0.6);cursor:help}"
    ".gs-value{font-size:2.25rem;line-height:1.4;padding-bottom:0.25rem;white-space:nowrap;"
    "font-variant-numeric:tabular-nums}"
    ".gs-delta{display:inline-block;font-size:0.875rem;line-height:1.4;padding:0.05rem 0.5rem;"
    "border-radius:1rem;white-space:nowrap}"
    ".gs-delta.up{color:rgb(21,130,55);background:rgba(33,195,84,0.1)}"
    ".gs-delta.down{color:rgb(214,39,40);background:rgba(255,43,43,0.09)}"
    ".gs-delta.off{color:rgba(49,51,63,0.6);background:rgba(49,51,63,0.1)}"
    "</style>"
)


def short(text: str | None, n: int = 280) -> str:
    t = clean_text(text)
    return t if len(t) <= n else t[: n - 1] + "…"


def safe_url(url: str | None) -> str | None:
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None


def when(ts: int, tz: str) -> str:
    return datetime.fromtimestamp(ts, UTC).astimezone(ZoneInfo(tz)).strftime("%d %b %H:%M")


def posts_table(posts: Sequence[Mapping[str, Any]], tz: str, key: str) -> None:
    """Top posts as an inert static table: time, platform, author, text, engagement, link.
    Ten rows read as well without a grid, and a page with no grid skips the grid's bundle
    (docs/benchmarks/pages.md). `key` is kept for callers; a static table needs none."""
    del key
    small_table(
        [
            {
                f"When ({tz})": when(p["created_ts"], tz),
                "Platform": p["platform"],
                "Author": short(p.get("display_name") or p.get("handle") or "", 60),
                "Post": short(" — ".join(x for x in (p.get("title"), p.get("text")) if x)),
                "Likes": p["like_count"],
                "Reposts": p["repost_count"],
                "Replies": p["reply_count"],
                "Link": p.get("url"),
            }
            for p in posts
        ],
        links=("Link",),
    )


def number(x: float) -> str:
    """A float as a table cell reads it: no trailing zeros ("26.9", "0", not st.table's
    "26.9000", "0.0000"), thousands separated."""
    return f"{x:,.4f}".rstrip("0").rstrip(".")


# The static tables' look: Streamlit's own table (st.table) in its light theme, so a page's
# tables read as before; numbers right-aligned. Sent with each table (a few hundred bytes):
# st.html keeps a <style> element in the page while its table is shown.
_TABLE_STYLE = (
    "<style>"
    ".gs-table{border-collapse:collapse;width:100%;font-size:0.875rem;line-height:1.5;"
    "color:rgb(49,51,63);margin-bottom:1rem;font-family:'Source Sans',sans-serif}"
    ".gs-table th,.gs-table td{border-bottom:1px solid rgba(49,51,63,0.1);"
    "padding:0.25rem 0.375rem;text-align:left;vertical-align:top}"
    ".gs-table td.w{overflow-wrap:anywhere;min-width:10rem}"
    ".gs-table th{color:rgba(49,51,63,0.6);font-weight:400;"
    "border-top:1px solid rgba(49,51,63,0.1)}"
    ".gs-table td.n,.gs-table th.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".gs-table a{color:rgb(0,104,201)}"
    "</style>"
)


def _cell(value: Any, link: bool) -> tuple[str, bool]:
    """A table cell's HTML and whether it holds a number: text escaped, a link only to an
    http(s) URL (with a fixed text), floats without trailing zeros."""
    if link:
        safe = safe_url(value if isinstance(value, str) else None)
        if safe is None:
            return "", False
        href = html.escape(safe, quote=True)
        return (
            f'<a href="{href}" target="_blank" rel="noopener noreferrer nofollow">open</a>',
            False,
        )
    if value is None:
        return "", False
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, float):
        return number(value), True
    if isinstance(value, int):
        return f"{value:,}", True
    return html.escape(str(value), quote=False), False


def table_html(rows: Sequence[Mapping[str, Any]], links: Sequence[str] = ()) -> str:
    """A short table as inert HTML: the header from the first row's keys, every text cell
    escaped (post text stays text: no markup, no link made of an address in it), links only
    in the columns named in `links`. Pure, so it is tested without a browser."""
    columns = list(rows[0]) if rows else []
    numeric = {c: all(_cell(r.get(c), c in links)[1] for r in rows) for c in columns}
    # Long text (a post, a page's address) may break anywhere, so one unbroken string cannot
    # push the table past the page; short cells break only between words.
    wide = {c: c not in links and any(len(str(r.get(c) or "")) > 40 for r in rows) for c in columns}
    kind = {c: " class=n" if numeric[c] else " class=w" if wide[c] else "" for c in columns}
    head = "".join(
        f'<th scope="col"{" class=n" if numeric[c] else ""}>{html.escape(str(c))}</th>'
        for c in columns
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td{kind[c]}>{_cell(r.get(c), c in links)[0]}</td>" for c in columns)
        + "</tr>"
        for r in rows
    )
    return f'<table class="gs-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def small_table(rows: Sequence[Mapping[str, Any]], links: Sequence[str] = ()) -> None:
    """A short static table, drawn as one piece of plain HTML (`table_html`) instead of an
    interactive grid or `st.table`: a grid costs the browser far more to draw, and st.table
    renders every cell through Streamlit's Markdown, which on the Overview's 100-odd cells
    cost a new tab about 0.3 s of the browser's time (docs/benchmarks/pages.md). Text cells
    escaped; the columns named in `links` hold URLs and become "open" links (http(s) only).
    Streamlit sanitises st.html's content as well (DOMPurify)."""
    if rows:
        st.html(_TABLE_STYLE + table_html(rows, links))


def page_text(url: str) -> str:
    """A canonical URL as a reader scans it: no scheme, no "www.", the rest kept (two pages
    may differ only in their query), cut when long."""
    rest = url.split("://", 1)[-1]
    return short(rest.removeprefix("www."), 90)


def shares_tables(travels: Mapping[str, Sequence[Mapping[str, Any]]], key: str) -> None:
    """Top linked domains and co-occurring hashtags side by side, top linked pages under them
    (storage.queries.shares.travels): static tables, inert cells, links only when http(s).
    `key` is kept for callers; static tables need none."""
    del key

    def table(rows: list[dict[str, Any]], label: str, empty_text: str, **kw: Any) -> None:
        st.markdown(f"**{label}**")
        if rows:
            small_table(rows, **kw)
        else:
            st.caption(empty_text)

    left, right = st.columns(2)
    with left:
        table(
            [{"Site": short(r["value"], 80), "Mentions": r["mentions"]} for r in travels["domain"]],
            "Linked sites",
            "No linked sites in this range.",
        )
    with right:
        table(
            [
                {"Hashtag": "#" + short(r["value"], 80), "Mentions": r["mentions"]}
                for r in travels["tag"]
            ],
            "Hashtags used with it",
            "No other hashtags in this range.",
        )
    table(
        [
            {"Page": page_text(r["value"]), "Mentions": r["mentions"], "Link": r["value"]}
            for r in travels["url"]
        ],
        "Linked pages",
        "No linked pages in this range.",
        links=("Link",),
    )


@st.cache_data(
    ttl=TTL_S,
    show_spinner=False,
    max_entries=256,
    hash_funcs={types.FunctionType: lambda f: f"{f.__module__}.{f.__qualname__}"},
)
def _built(builder: Callable[..., go.Figure], *args: Any, **kwargs: Any) -> tuple[str, bool]:
    """A figure's JSON and whether the basic bundle draws it, built once per inputs."""
    fig = builder(*args, **kwargs)
    return fig.to_json(), basic_charts.supports(fig)


def plot(
    builder: Callable[..., go.Figure], *args: Any, key: str, alt: str | None = None, **kwargs: Any
) -> None:
    """The Plotly figure `builder(*args, **kwargs)` at the container's width.

    Built once for the same inputs and kept as long as the queries it draws (`data.TTL_S`):
    plotly checks every property it is given, and building a page's figures again for every
    new tab was most of a warm view's server time (tens of ms a figure;
    docs/benchmarks/pages.md). `builder` must be a pure function of its arguments, as every
    builder in `dashboard/figures/` is, and defined at module level (the cache knows it by its
    name). Scatter, bar and pie figures (every chart of the
    analysis pages but Spread's icicles) are drawn with plotly.js's basic bundle
    (`basic_charts`), which a new tab starts in a third of the time of Streamlit's full
    plotly.js; the rest through `st.plotly_chart`."""
    figure, basic = _built(builder, *args, **kwargs)
    if basic:
        basic_charts.draw(figure, key=key, alt=alt)
    else:
        st.plotly_chart(pio.from_json(figure), width="stretch", key=key)


@st.fragment
def on_demand(label: str, key: str, draw: Callable[[], None], *, param: str | None = None) -> None:
    """A switch that draws `draw`'s figures only when the reader asks: a page then settles
    with its numbers and tables, and the figures that cost the browser most wait
    (docs/benchmarks/pages.md). A fragment, so the switch reruns this section alone; with
    `param`, the switch's state is kept in the URL like the page's other choices."""
    on = url_toggle(label, param=param, key=key) if param else st.toggle(label, key=key)
    if on:
        draw()


def empty(what: str, hint: str) -> None:
    st.info(f"{what} {hint}")


RANGE_HINT = (
    "Widen the time range (e.g. 'All time') or clear the platform filter in the sidebar; "
    "if the store is new, run `groundswell collect` or load demo data with `groundswell demo`."
)
