"""The dashboard as an application: no deprecated Streamlit arguments (Streamlit removes
`use_container_width` after 2025-12-31), no "Deploy" button, an upload box that states the
limit the parser enforces, and every page at its own address."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

import pytest
import streamlit
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from tests.test_dashboard_pages import PAGES, _run, data_url  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("page", [*PAGES, "views/explore.py"])
def test_no_page_uses_a_deprecated_streamlit_argument(page, data_url, monkeypatch):  # noqa: F811
    from streamlit import deprecation_util

    said: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            said.append(record.getMessage())

    monkeypatch.setattr(deprecation_util, "_shown_warnings", set())  # shown once per process
    handler = Collect(level=logging.WARNING)
    log = logging.getLogger(deprecation_util.__name__)
    log.addHandler(handler)
    try:
        at = _run(data_url, monkeypatch, page)
    finally:
        log.removeHandler(handler)
    assert not at.exception
    assert [m for m in said if "will be removed" in m] == []


def test_the_streamlit_the_suite_runs_is_inside_the_pinned_range():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (spec,) = [d.removeprefix("streamlit") for d in deps if d.startswith("streamlit")]
    allowed = SpecifierSet(spec)
    assert Version(streamlit.__version__) in allowed
    assert Version("2.0") not in allowed and Version("1.40") not in allowed


def test_the_dashboard_hides_the_deploy_button(data_url, monkeypatch):  # noqa: F811
    _run(data_url, monkeypatch)
    assert streamlit.get_option("client.toolbarMode") == "minimal"


def test_the_ics_upload_box_states_the_limit_the_parser_enforces(data_url, monkeypatch):  # noqa: F811
    from domain.ics import MAX_BYTES

    monkeypatch.setenv("GROUNDSWELL_MODERATOR_PASSWORD", "a moderator's password")
    at = _run(data_url, monkeypatch)
    at.session_state["gs_moderator"] = "Mo"  # signed in on the Moderate page (events editor)
    at.switch_page("views/events.py")
    at.run()
    (box,) = [u for u in at.get("file_uploader") if u.proto.label == "iCalendar file"]
    assert box.proto.max_upload_size_mb * 1_000_000 <= MAX_BYTES * 1.05


def test_the_dashboard_command_hides_the_deploy_button_and_states_the_upload_limit():
    from groundswell.commands.dashboard import streamlit_command

    cmd = streamlit_command(8501)
    assert cmd[cmd.index("--client.toolbarMode") + 1] == "minimal"
    assert cmd[cmd.index("--server.maxUploadSize") + 1] == "2"


def test_the_dashboard_runs_no_full_garbage_collection_after_every_page_view():
    """Streamlit's default gc.collect(2) after each script run walked the whole heap on every
    page view (0.08-0.3 CPU-s on the benchmark machines, docs/benchmarks/pages.md)."""
    from groundswell.commands.dashboard import streamlit_command

    cmd = streamlit_command(8501)
    assert cmd[cmd.index("--runner.postScriptGC") + 1] == "false"


def test_text_in_a_static_table_cell_stays_text():
    """Post text is hostile: markup, a would-be link, an address that a Markdown renderer
    would link (e-mail, www., http://) all read as the same characters, inert."""
    from dashboard.ui import table_html
    from tests.html_tables import parse_table

    hostile = (
        "![x](http://evil.example/p.png) [click](javascript:alert(1)) **b** <b>x</b> "
        "<script>alert(1)</script> organiser@evil.example www.a.io http://evil.example/x &amp;"
    )
    out = table_html([{"Post <i>": hostile, "Likes": 3}])
    assert "<b>" not in out and "<script>" not in out and "<i>" not in out
    assert out.count("<a ") == 0  # no link made of the text
    assert parse_table(out) == {"Post <i>": [hostile], "Likes": ["3"]}


def test_the_repository_streamlit_config_matches_what_the_dashboard_command_passes():
    """`streamlit run dashboard/app.py` from the repository root reads .streamlit/config.toml;
    `groundswell dashboard` passes flags: both hide the Deploy button and say 2 MB."""
    from groundswell.commands.dashboard import streamlit_command

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    cmd = streamlit_command(8501)
    for section, options in config.items():
        for name, value in options.items():
            flag = f"--{section}.{name}"
            assert flag in cmd, flag
            assert cmd[cmd.index(flag) + 1] == str(value).lower(), flag


def test_a_static_table_link_goes_only_to_http_and_its_url_cannot_break_out_of_the_link():
    from dashboard.ui import table_html
    from tests.html_tables import parse_table

    ok = "https://example.org/p/1?a=b&c=d#top"
    out = table_html([{"Link": ok}], links=("Link",))
    assert '<a href="https://example.org/p/1?a=b&amp;c=d#top" target="_blank"' in out
    assert parse_table(out) == {"Link": [ok]}
    for bad in ("javascript:alert(1)", None, "data:text/html,x", " javascript:x", 7):
        assert "<a " not in table_html([{"Link": bad}], links=("Link",)), bad
    hostile = 'https://ok.example/x" onmouseover="alert(1)" a="<b>'
    out = table_html([{"Link": hostile}], links=("Link",))
    assert out.count('"') == 4 + 6  # class, href, target, rel: the address's quotes escaped
    assert "<b>" not in out and parse_table(out) == {"Link": [hostile]}


def test_a_static_table_aligns_counts_and_writes_them_as_a_reader_reads_them():
    from dashboard.ui import table_html
    from tests.html_tables import parse_table

    out = table_html(
        [{"Who": "A", "Mentions": 12345, "Share": 26.9}, {"Who": "B", "Mentions": 2, "Share": 0.0}]
    )
    assert parse_table(out) == {
        "Who": ["A", "B"],
        "Mentions": ["12,345", "2"],
        "Share": ["26.9", "0"],
    }
    assert '<th scope="col" class=n>Mentions</th>' in out and "<td class=n>12,345</td>" in out
    assert '<th scope="col">Who</th>' in out


def test_a_row_of_figures_reads_like_st_metric_and_escapes_every_text():
    """The headline figures are one piece of HTML (st.metric cost a new tab ~20 ms of browser
    time per figure): label, value, the change with its arrow and colour, the help on hover;
    nothing in a label or help can become markup."""
    from dashboard.ui import Metric, metrics_html
    from tests.html_tables import parse_metrics

    out = metrics_html(
        [
            Metric("Mentions", "11,820", "+7,353 (+165%)", 7353, "Posts <b>matching</b>"),
            Metric("Platforms", "4", "no change", 0),
            Metric("Blogs <script>", "2", "-1 (-33%)", -1),
            Metric("Lift", "3.1×"),
        ]
    )
    shown = [(f.label, f.value, f.delta, f.direction, f.arrow, f.help) for f in parse_metrics(out)]
    assert shown == [
        ("Mentions", "11,820", "+7,353 (+165%)", "up", "↑", "Posts <b>matching</b>"),
        ("Platforms", "4", "no change", "off", "", None),
        ("Blogs <script>", "2", "-1 (-33%)", "down", "↓", None),
        ("Lift", "3.1×", None, None, "", None),
    ]
    assert "<script>" not in out and "<b>" not in out
    assert "aria-hidden=true" in out  # the arrow is not read out; the sign is in the text


def test_the_sidebar_offers_its_short_lists_as_pills_and_no_drop_down_box_for_one_movement(
    data_url,  # noqa: F811
    monkeypatch,
):
    """Each drop-down box costs a new tab ~0.15 s of the browser's time (docs/benchmarks/
    pages.md): the time range, the platforms, a movement's few events and the time zones are
    pills, and a store of one movement has no box to choose it. The pills still steer the
    page and the URL."""
    at = _run(data_url, monkeypatch)
    pills = {b.label: b for b in at.sidebar.button_group}
    assert set(pills) == {"Time range", "Platforms (none = all)", "Event", "Time zone"}
    assert [s.label for s in at.sidebar.selectbox] == []
    assert pills["Time range"].value == "7d"
    assert pills["Event"].value == "" and pills["Time zone"].value == "UTC"
    pills["Time range"].set_value("30d").run()
    pills = {b.label: b for b in at.sidebar.button_group}
    pills["Platforms (none = all)"].set_value(["mastodon"]).run()
    assert not at.exception
    assert at.query_params["range"] == "30d" and at.query_params["pf"] == "mastodon"
    assert "mastodon" in at.caption[0].value and "Last" not in at.caption[0].value
    pills = {b.label: b for b in at.sidebar.button_group}
    pills["Event"].set_value("assembly").run()
    pills = {b.label: b for b in at.sidebar.button_group}
    pills["Time zone"].set_value("Europe/London").run()
    assert not at.exception
    assert at.query_params["ev"] == "assembly" and at.query_params["tz"] == "Europe/London"
    assert "Citizen Assembly" in at.caption[0].value and "(Europe/London)" in at.caption[0].value


def test_a_time_zone_from_a_shared_link_is_offered_beside_the_usual_ones(data_url, monkeypatch):  # noqa: F811
    at = _run(data_url, monkeypatch, params={"tz": "Asia/Tokyo"})
    (zone,) = [b for b in at.sidebar.button_group if b.label == "Time zone"]
    assert zone.value == "Asia/Tokyo"
    assert "(Asia/Tokyo)" in at.caption[0].value


def test_a_movement_with_many_events_chooses_one_in_a_drop_down_box(tmp_path, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from dashboard.filters import PILLS_MAX
    from domain.settings.config import EventSettings
    from storage.catalog import upsert_event
    from storage.engine import make_engine, write_tx
    from storage.migrate import upgrade
    from tests.dashboard_data import small_conversation

    url = f"sqlite:///{tmp_path / 'events.db'}"
    engine = make_engine(url)
    upgrade(engine)
    small_conversation(engine)  # one event; PILLS_MAX more make too many for pills
    now = datetime.now(UTC)
    with write_tx(engine) as conn:
        mv = conn.exec_driver_sql("SELECT id FROM movement WHERE slug = 'nhscitizen'").scalar()
        for k in range(PILLS_MAX):
            upsert_event(
                conn,
                EventSettings(
                    slug=f"webinar-{k}",
                    name=f"Webinar {k}",
                    movement="nhscitizen",
                    starts=now - timedelta(days=k + 1),
                    ends=now - timedelta(days=k + 1) + timedelta(hours=1),
                ),
                {"nhscitizen": mv},
            )
    engine.dispose()
    at = _run(url, monkeypatch)
    assert [s.label for s in at.sidebar.selectbox] == ["Event"]
    assert "Event" not in {b.label for b in at.sidebar.button_group}
    at.sidebar.selectbox[0].select("webinar-2").run()
    assert not at.exception and at.query_params["ev"] == "webinar-2"
    at.switch_page("views/events.py").run()
    assert not at.exception
    assert [s.label for s in at.main.selectbox] == ["Event in detail"]


def test_the_events_page_offers_a_few_events_as_pills(data_url, monkeypatch):  # noqa: F811
    at = _run(data_url, monkeypatch, "views/events.py", params={"range": "all"})
    assert not at.exception
    (detail,) = [b for b in at.main.button_group if b.label == "Event in detail"]
    assert detail.value == "assembly" and not at.main.selectbox
    assert "Citizen Assembly" in [s.value for s in at.subheader]


def _store_of_movements(path, n: int) -> str:
    """A store of `n` movements: the small conversation's, and `n - 1` more."""
    from storage.engine import make_engine, write_tx
    from storage.migrate import upgrade
    from tests.dashboard_data import small_conversation

    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    small_conversation(engine)
    with write_tx(engine) as conn:
        for k in range(n - 1):
            conn.exec_driver_sql(
                "INSERT INTO movement (slug, name, hashtags, terms, urls) "
                f"VALUES ('movement{k}', 'NHS Movement {k}', '[]', '[]', '[]')"
            )
    engine.dispose()
    return url


def test_a_store_of_a_few_movements_offers_them_as_pills(tmp_path, monkeypatch):
    """Two movements are two pills (a drop-down box costs a new tab of every page ~0.2 s of
    the browser's time, docs/benchmarks/pages.md); choosing one steers the page and the URL."""
    at = _run(_store_of_movements(tmp_path / "two.db", 2), monkeypatch)
    assert [s.label for s in at.sidebar.selectbox] == []
    (movement,) = [b for b in at.sidebar.button_group if b.label == "Movement"]
    assert movement.value in ("nhscitizen", "movement0")
    movement.set_value("movement0").run()
    assert not at.exception and at.query_params["mv"] == "movement0"
    assert "NHS Movement 0" in at.caption[0].value


def test_a_store_of_more_movements_than_pills_offers_a_box(tmp_path, monkeypatch):
    from dashboard.filters import PILLS_MAX

    at = _run(_store_of_movements(tmp_path / "many.db", PILLS_MAX + 1), monkeypatch)
    assert [s.label for s in at.sidebar.selectbox] == ["Movement"]
    assert "Movement" not in {b.label for b in at.sidebar.button_group}
