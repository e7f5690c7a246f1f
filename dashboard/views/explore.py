"""Explore & export, for researchers: search the filtered mentions, preview a bounded sample,
and download a documented dataset (zip with data card) built by `groundswell.export`.

The preview and the download apply the same ethics rules as the CLI (opted-out and deleted
content is never shown or exported, only counted). The zip is built in memory for the browser,
so the page refuses exports above `MAX_PAGE_EXPORT` mentions and points to the CLI, which
streams any size to disk.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import streamlit as st

from dashboard import audit, data, ui, wall_common
from dashboard.filters import sidebar_filters
from dashboard.roles import grant, refusal_text
from groundswell.export import ExportError, ExportFilters, ExportOptions, export_dataset
from groundswell.export.options import DATASETS, FORMATS, NETWORK_FORMATS
from storage.queries import export as xq

PREVIEW_ROWS = 100
# Shown at once as a static table; all PREVIEW_ROWS in a grid on demand.
PREVIEW_SHOWN = 20
MAX_PAGE_EXPORT = 200_000


def _pseudonym_key() -> bytes:
    """The same key as `groundswell export`: the environment's when set, else the per-store
    key file beside the config (raises KeyFileError, an ExportError, saying how to create it)."""
    from domain.settings.config import load_settings
    from groundswell.export.keyfile import key_path, read_key_file

    settings, config_path = load_settings()
    value = os.environ.get(settings.ethics.pseudonym_key_env, "").strip()
    if value:
        return value.encode("utf-8")
    return read_key_file(key_path(settings, config_path))


session = grant(wall_common.settings())
# Identified exports name people: researchers only. The checkbox is not drawn for anyone else
# and the role is checked again when the form is submitted (on the server, at every rerun).
may_identify = session.allows("export_identified")


def _viewer() -> str:
    """Who asked, for the export log: the signed-in person, else the dashboard itself."""
    return session.who or "dashboard (not signed in)"


f = sidebar_filters()
st.title("Explore & export")
st.caption(f.describe())
search = st.text_input(
    "Search the text of mentions", key="explore_search", placeholder="e.g. pledge"
).strip()
export_filters = ExportFilters(
    movement=f.movement["slug"],
    since=f.start,
    until=f.end,
    platforms=tuple(f.platforms),
    event=f.event["slug"] if f.event and f.preset == "event" else None,
    search=search or None,
)
try:
    # A named query through the dashboard's cache (and run ahead of the minute for a
    # rolling range, dashboard/ahead.py), as every other page's.
    counts = data.q(
        "export.preview",
        f.scope(),
        movement=export_filters.movement,
        event=export_filters.event,
        search=export_filters.search,
        limit=PREVIEW_ROWS,
    )
    rows = counts["rows"]
except Exception as exc:  # unreachable store, bad filter: a message, not a traceback
    st.error(f"Cannot read the store: {str(exc).splitlines()[0][:300]}")
    st.stop()

ui.metrics(
    [
        ui.Metric("Mentions in filter", f"{counts['in_filter']:,}"),
        ui.Metric("Exportable", f"{counts['exportable']:,}"),
        ui.Metric(
            "Withheld (opt-outs)",
            f"{counts['withheld']:,}",
            help="Authors who opted out, and term-only or in-thread matches of Mastodon accounts "
            "that did not opt in to search: counted, never shown or exported.",
        ),
        ui.Metric("Deleted by authors", f"{counts['deleted']:,}", help="Excluded everywhere."),
    ]
)

st.subheader("Preview")
if rows:
    preview = [
        {
            "When (UTC)": r["created_at"].astimezone(UTC).strftime("%d %b %Y %H:%M"),
            "Platform": r["platform"],
            "Author": ui.short(r.get("author") or "", 60),
            "Post": ui.short(" — ".join(x for x in (r.get("title"), r.get("text")) if x)),
            "Likes": r["like_count"],
            "Reposts": r["repost_count"],
            "Link": ui.safe_url(r.get("url")),
        }
        for r in rows
    ]

    def preview_grid() -> None:
        """The newest PREVIEW_ROWS in a grid to sort and scroll, drawn when asked for: the
        grid's code costs a new tab about a second of the browser's time, the static table
        above none of it (docs/benchmarks/pages.md)."""
        st.dataframe(
            preview,
            hide_index=True,
            width="stretch",
            key="explore_preview",
            column_config={
                "Post": st.column_config.TextColumn(width="large"),
                "Link": st.column_config.LinkColumn(display_text="open"),
            },
        )

    st.caption(f"The newest {min(len(preview), PREVIEW_SHOWN)} of these filters' mentions.")
    ui.small_table(preview[:PREVIEW_SHOWN], links=("Link",))
    ui.on_demand(
        f"Sort and scroll the newest {len(preview)} in a grid",
        key="explore_grid",
        draw=preview_grid,
    )
else:
    ui.empty("No exportable mentions match these filters.", ui.RANGE_HINT)

st.subheader("Download a dataset")
st.caption(
    "A zip with the files you choose, a README.md data card and datacard.json (query, "
    "collection completeness, counts, data dictionary). See docs/exports.md."
)
with st.form("export_form"):
    left, right = st.columns(2)
    # Pills, not drop-down boxes: a handful of fixed choices, all in view, and each box
    # costs a new tab about 0.15 s of the browser's time (docs/benchmarks/pages.md).
    formats = left.pills("Formats", list(FORMATS), selection_mode="multi", default=["csv"])
    datasets = left.pills("Tables", list(DATASETS), selection_mode="multi", default=list(DATASETS))
    network = left.pills(
        "Network (for Gephi)", list(NETWORK_FORMATS), selection_mode="multi", default=[]
    )
    ids_only = left.checkbox("ID-only (platform + native id; recipients run `groundswell hydrate`)")
    if may_identify:
        identified = right.checkbox(
            "Identified export (names people: handles, ids, URLs)",
            help="Exports are pseudonymised with the store's key unless you need names; an "
            "identified export is recorded in the export log with who asked and why.",
        )
        reason = right.text_input("Reason for an identified export", key="explore_reason")
    else:
        identified, reason = False, ""
        right.caption(refusal_text(wall_common.settings(), "export_identified"))
    drop_text = right.checkbox("Drop text")
    drop_urls = right.checkbox("Drop URLs")
    mask = right.checkbox("Mask personal data in text (emails, phones, NHS numbers, postcodes)")
    grain = (
        right.pills("Generalise times", ["exact", "hour", "day"], default="exact", required=True)
        or "exact"
    )
    submitted = st.form_submit_button("Prepare download")

if submitted:
    if counts["exportable"] > MAX_PAGE_EXPORT:
        st.warning(
            f"{counts['exportable']:,} mentions is more than this page builds in memory "
            f"({MAX_PAGE_EXPORT:,}). Narrow the filters, or run `groundswell export` on the "
            "server, which streams any size to disk."
        )
    elif not formats:
        st.warning("Choose at least one format.")
    elif identified and not grant(wall_common.settings()).allows("export_identified"):
        st.error(refusal_text(wall_common.settings(), "export_identified"))
    elif identified and not reason.strip():
        st.warning("An identified export names people: give the reason (it is logged).")
    elif ids_only and not identified:
        st.warning(
            "An ID-only export lists the platforms' post ids, which name their authors: tick "
            "Identified export and give the reason."
            if may_identify
            else "An ID-only export lists the platforms' post ids, which name their authors: "
            + refusal_text(wall_common.settings(), "export_identified")
        )
    else:
        try:
            options = ExportOptions(
                formats=tuple(formats),
                datasets=tuple(datasets) or DATASETS,
                network=tuple(network),
                ids_only=ids_only,
                pseudonym_key=None if identified else _pseudonym_key(),
                drop_text=drop_text,
                drop_urls=drop_urls,
                mask_personal_data=mask,
                generalise_times=None if grain == "exact" else grain,
            )
            stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
            name = f"groundswell-{f.movement['slug']}-{stamp}"
            with tempfile.TemporaryDirectory() as tmp:
                target = Path(tmp) / f"{name}.zip"
                with st.spinner("Building the dataset..."):
                    summary = export_dataset(
                        data.engine(),
                        target,
                        export_filters,
                        options,
                        tool="dashboard",
                        requested_by=_viewer(),
                        audit_actor=audit.actor(wall_common.settings()),
                        reason=reason.strip() if identified else None,
                    )
                st.session_state["explore_zip"] = (f"{name}.zip", target.read_bytes())
                st.session_state["explore_summary"] = summary.counts["mentions"]
        except (ExportError, xq.FilterError) as exc:
            st.error(str(exc))

if "explore_zip" in st.session_state:
    file_name, payload = st.session_state["explore_zip"]
    m = st.session_state.get("explore_summary", {})
    st.success(
        f"Ready: {m.get('exported', 0):,} mentions, "
        f"{m.get('withheld_opt_out_counted_only', 0):,} withheld by opt-outs (counted only)."
    )
    st.download_button(
        "Download zip",
        data=payload,
        file_name=file_name,
        mime="application/zip",
        key="explore_download",
    )
