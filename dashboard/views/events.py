"""Events: what each event (or programme session) brought into the room."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from dashboard import audit, data, ui, wall_common
from dashboard.figures.events import event_window_figure, lift_figure
from dashboard.filters import PILLS_MAX, one_of, sidebar_filters
from dashboard.roles import permitted, refusal_text
from domain.ics import MAX_BYTES as ICS_MAX_BYTES
from domain.ics import IcsError, parse_ics, slugify
from domain.settings.config import EventSettings
from storage.engine import write_tx
from storage.queries.events import delete_events, save_events

f = sidebar_filters()
scope = f.scope()
st.title("Events")
st.caption(
    f"{f.movement['name']} · {', '.join(f.platforms) or 'all platforms'} · "
    "lift = rate during ÷ rate in the equally long window just before"
)
events = data.events(scope.movement_id)
reports = data.q(
    "events.compare_events", movement_id=scope.movement_id, platforms=tuple(f.platforms)
)


def local_time(ts: int, tz: str) -> str:
    return datetime.fromtimestamp(ts, UTC).astimezone(ZoneInfo(tz)).strftime("%a %d %b %H:%M")


def naive_local(dt: datetime, tz: str | None) -> datetime:
    """Wall-clock time in the event's own zone, as the editor shows it."""
    return dt.astimezone(ZoneInfo(tz or "UTC")).replace(tzinfo=None)


def lift_text(lift: float | None) -> str:
    return "new (no baseline)" if lift is None else f"{lift:.2f}×"


if not events:
    ui.empty(
        "No events for this movement yet.",
        "Add one below, import a programme (.ics), or declare events in the config file.",
    )
else:
    st.subheader("Compare events")
    ui.small_table(
        [
            {
                "Event": ui.short(r["name"], 80),
                "Starts (event's zone)": f"{local_time(r['start_ts'], r['timezone'])} "
                f"{r['timezone']}",
                "Hours": round((r["end_ts"] - r["start_ts"]) / 3600, 1),
                "Mentions": r["mentions"],
                "Per hour": round(r["rate_per_hour"], 1),
                "Baseline per hour": round(r["baseline_rate_per_hour"], 1),
                "Lift": lift_text(r["lift"]),
                "New authors": r["new_authors"],
                "After-glow (h)": r["afterglow_hours"],
            }
            for r in reports
        ]
    )
    ui.on_demand(
        "Draw the lift of each event",
        key="events_draw_lift",
        draw=lambda: ui.plot(lift_figure, reports, key="events_lift"),
    )

    slugs = [e["slug"] for e in events]
    names = {e["slug"]: e["name"] for e in events}
    default = f.event["slug"] if f.event and f.event["slug"] in slugs else slugs[-1]
    # As many events as pills as the sidebar shows (its list has "(none)" besides).
    chosen = one_of(
        st,
        "Event in detail",
        slugs,
        default=default,
        format_func=names.get,
        pills_up_to=PILLS_MAX - 1,
    )
    event = next(e for e in events if e["slug"] == chosen)
    report = next(r for r in reports if r["slug"] == chosen)
    ez = event["timezone"] or "UTC"
    st.subheader(ui.short(event["name"], 120))
    st.caption(
        f"{local_time(event['start_ts'], ez)} – {local_time(event['end_ts'], ez)} ({ez})"
        + (f" · {ui.short(event['place'], 100)}" if event.get("place") else "")
    )
    ui.metrics(
        [
            ui.Metric("Mentions during", f"{report['mentions']:,}"),
            ui.Metric("Baseline (same length before)", f"{report['baseline_mentions']:,}"),
            ui.Metric("Lift", lift_text(report["lift"])),
            ui.Metric("New authors brought in", f"{report['new_authors']:,}"),
            ui.Metric("After-glow", f"{report['afterglow_hours']} h"),
        ]
    )

    def window_drawing() -> None:
        """The hours around the chosen event, queried and drawn when asked for."""
        around = data.q(
            "events.hourly_around",
            movement_id=scope.movement_id,
            event=tuple(sorted((k, event[k]) for k in ("start_ts", "end_ts", "name"))),
            platforms=tuple(f.platforms),
        )
        if around["rows"]:
            ui.plot(event_window_figure, around, event, report, f.tz, key="events_window")
        else:
            ui.empty(
                "No mentions around this event.",
                "Check the platform filter or the event's times.",
            )

    ui.on_demand("Draw the hours around the event", key="events_draw_window", draw=window_drawing)
    st.markdown("**Top posts during the event**")
    posts = data.q(
        "overview.top_posts", scope.shifted(event["start_ts"], event["end_ts"]), limit=10
    )
    if posts:
        ui.posts_table(posts, f.tz, key="events_top")
    else:
        st.caption("No displayable posts during this event.")

st.subheader("Edit events")
# Events steer every page's lift and baseline: changing them is an editor's job, not a
# viewer's. The editor and the importer below are not even drawn for anyone else, and this
# check runs on the server at every rerun (a replayed widget message reaches nothing).
if not permitted(wall_common.settings(), "edit_events"):
    st.info(refusal_text(wall_common.settings(), "edit_events"))
    st.stop()
st.caption(
    "Change names or times in the table, add rows, or delete rows; then save. Times are in each "
    "row's time zone (an IANA name such as Europe/London)."
)
table = pd.DataFrame(
    [
        {
            "slug": e["slug"],
            "name": e["name"],
            "starts": naive_local(e["starts_at"], e["timezone"]),
            "ends": naive_local(e["ends_at"], e["timezone"]),
            "timezone": e["timezone"] or "UTC",
            "place": e.get("place") or "",
        }
        for e in events
    ],
    columns=["slug", "name", "starts", "ends", "timezone", "place"],
).astype({"starts": "datetime64[ns]", "ends": "datetime64[ns]"})
edited = st.data_editor(
    table,
    num_rows="dynamic",
    hide_index=True,
    key="events_editor",
    column_config={
        "slug": st.column_config.TextColumn("Slug (blank = from name)"),
        "name": st.column_config.TextColumn("Name", required=True),
        "starts": st.column_config.DatetimeColumn("Starts", required=True),
        "ends": st.column_config.DatetimeColumn("Ends", required=True),
        "timezone": st.column_config.TextColumn("Time zone"),
        "place": st.column_config.TextColumn("Place"),
    },
)
if st.button("Save events", key="events_save"):
    settings, problems = [], []
    for i, r in enumerate(edited.to_dict("records")):
        if not r.get("name") or pd.isna(r.get("starts")) or pd.isna(r.get("ends")):
            problems.append(f"row {i + 1}: needs a name, a start and an end")
            continue
        tz = (r.get("timezone") or "UTC").strip()
        try:
            zone = ZoneInfo(tz)
            starts = pd.Timestamp(r["starts"]).to_pydatetime().replace(tzinfo=zone)
            ends = pd.Timestamp(r["ends"]).to_pydatetime().replace(tzinfo=zone)
            if ends <= starts:
                raise ValueError("ends before it starts")
            settings.append(
                EventSettings(
                    slug=(r.get("slug") or "").strip() or slugify(r["name"], str(starts)),
                    name=r["name"],
                    starts=starts,
                    ends=ends,
                    timezone=tz,
                    place=r.get("place") or None,
                )
            )
        except (ValueError, KeyError, ValidationError) as exc:
            why = str(exc).splitlines()[0][:160]
            problems.append(f"row {i + 1} ({ui.short(r.get('name'), 40)}): {why}")
    if problems:
        for p in problems:
            st.error(p)
    else:
        keep = {s.slug for s in settings}
        gone = [e["slug"] for e in events if e["slug"] not in keep]
        with write_tx(data.engine()) as conn:
            save_events(conn, settings, f.movement["slug"])
            delete_events(conn, gone)
            audit.record(
                conn,
                wall_common.settings(),
                role="editor",
                action="events.save",
                target_kind="movement",
                target_id=f.movement["slug"],
                detail={"saved": sorted(s.slug for s in settings), "deleted": sorted(gone)},
            )
        data.clear()
        st.success(f"Saved {len(settings)} events, deleted {len(gone)}.")
        st.rerun()

st.subheader("Import a programme (.ics)")
upload = st.file_uploader(
    "iCalendar file",
    type=["ics"],
    key="events_ics",
    max_upload_size=max(1, ICS_MAX_BYTES // 1_000_000),  # the box says what parse_ics takes
)
if upload is not None:
    try:
        imported = parse_ics(upload.getvalue(), default_tz=f.tz, movement=f.movement["slug"])
    except IcsError as exc:
        st.error(f"{upload.name}: {exc}")
    else:
        for p in imported.problems:
            st.warning(p)
        if imported.events:
            st.dataframe(
                [
                    {
                        "Session": ui.short(e.name, 80),
                        "Starts": e.starts.strftime("%a %d %b %H:%M"),
                        "Minutes": int((e.ends - e.starts) / timedelta(minutes=1)),
                        "Zone": e.timezone,
                    }
                    for e in imported.events
                ],
                hide_index=True,
                key="events_ics_preview",
            )
            if st.button(f"Import {len(imported.events)} sessions", key="events_ics_import"):
                with write_tx(data.engine()) as conn:
                    save_events(conn, imported.events, f.movement["slug"], origin="ics")
                    audit.record(
                        conn,
                        wall_common.settings(),
                        role="editor",
                        action="events.import",
                        target_kind="movement",
                        target_id=f.movement["slug"],
                        detail={"sessions": len(imported.events), "file": upload.name[:200]},
                    )
                data.clear()
                st.success(f"Imported {len(imported.events)} sessions; each has its own lift.")
                st.rerun()
