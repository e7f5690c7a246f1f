"""Streamlit entry point: `groundswell dashboard` runs `streamlit run dashboard/app.py`.

Pages are thin (filters -> a storage query -> a figure built by a pure function in
`dashboard/figures/`). Each page lives in `dashboard/views/`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run` puts this file's folder on sys.path, not the project root.
_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import streamlit as st  # noqa: E402

from dashboard import wall_common  # noqa: E402
from dashboard.access import admitted, require_viewer  # noqa: E402
from dashboard.audit import note_sign_in  # noqa: E402
from dashboard.heap import freeze_start_up_heap  # noqa: E402

VIEWS = Path(__file__).parent / "views"

st.set_page_config(page_title="Groundswell", page_icon="🌱", layout="wide")
# No "Deploy" button or developer menu: this is an application, not a Streamlit sketch.
st.set_option("client.toolbarMode", "minimal")

pages = {
    "Conversation": [
        # The default page is served at "/" whatever its url_path; the hidden twin answers
        # "/overview" (a shared link, the menu's own name for it) instead of "Page not found".
        st.Page(
            str(VIEWS / "overview.py"),
            title="Overview",
            icon=":material/insights:",
            default=True,
            url_path="home",
        ),
        st.Page(
            str(VIEWS / "overview.py"),
            title="Overview",
            icon=":material/insights:",
            url_path="overview",
            visibility="hidden",
        ),
        st.Page(
            str(VIEWS / "spread.py"), title="Spread", icon=":material/share:", url_path="spread"
        ),
        st.Page(
            str(VIEWS / "amplifiers.py"),
            title="Amplifiers",
            icon=":material/campaign:",
            url_path="amplifiers",
        ),
        st.Page(
            str(VIEWS / "people.py"), title="People", icon=":material/group:", url_path="people"
        ),
        st.Page(
            str(VIEWS / "events.py"), title="Events", icon=":material/event:", url_path="events"
        ),
        st.Page(
            str(VIEWS / "alerts.py"),
            title="Alerts",
            icon=":material/notifications:",
            url_path="alerts",
        ),
    ],
    "Research": [
        st.Page(str(VIEWS / "explore.py"), title="Explore & export", icon="🔎", url_path="explore"),
    ],
    "Live wall": [
        st.Page(
            str(VIEWS / "wall.py"), title="Wall", icon=":material/co_present:", url_path="wall"
        ),
        st.Page(
            str(VIEWS / "moderate.py"),
            title="Moderate wall",
            icon=":material/shield:",
            url_path="moderate",
        ),
        st.Page(
            str(VIEWS / "audit.py"),
            title="Audit trail",
            icon=":material/history:",
            url_path="audit",
        ),
    ],
}
# Every page, the projected wall included, sits behind the optional access gate
# (docs/dashboard.md, "Putting the dashboard behind a login"); off unless configured.
# `?embed=true` (the projected wall) shows no navigation: the room must never see the menu,
# let alone the moderator page; nor does anyone not yet let in. (Streamlit keeps `embed` out
# of st.query_params.) Navigation is resolved before the gate, so the page asked for is the
# page shown once the visitor is in.
settings = wall_common.settings()
hide_menu = st.context.is_embedded or not admitted(settings)
page = st.navigation(pages, position="hidden" if hide_menu else "sidebar")
require_viewer(settings)
note_sign_in(settings)  # once per session and identity
page.run()
# Once per process, after the first page has loaded its modules (dashboard/heap.py says why).
freeze_start_up_heap()
