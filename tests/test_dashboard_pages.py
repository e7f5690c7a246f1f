"""Every dashboard page runs under Streamlit's AppTest without exceptions, on an empty store,
on an unreachable store and on data, and shows the expected headline numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from storage.engine import make_engine
from storage.migrate import upgrade
from tests.dashboard_data import small_conversation, small_demo
from tests.html_tables import html_metrics, html_tables

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
PAGES = ["views/overview.py", "views/spread.py", "views/amplifiers.py", "views/events.py"]


def _run(url: str, monkeypatch, page: str | None = None, params: dict | None = None) -> AppTest:
    monkeypatch.setenv("GROUNDSWELL_DB_URL", url)
    monkeypatch.delenv("GROUNDSWELL_DASHBOARD_PASSWORD", raising=False)  # the gate stays open
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    return at


@pytest.fixture
def empty_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    upgrade(make_engine(url))
    return url


@pytest.fixture(scope="module")
def data_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('dash') / 'data.db'}"
    engine = make_engine(url)
    upgrade(engine)
    small_conversation(engine)
    engine.dispose()
    return url


@pytest.mark.parametrize("page", PAGES)
def test_each_page_on_an_empty_store_says_what_to_do(page, empty_url, monkeypatch):
    at = _run(empty_url, monkeypatch, page)
    assert not at.exception
    assert any("groundswell demo" in i.value for i in at.info)


@pytest.mark.parametrize("page", PAGES)
def test_each_page_on_an_unreachable_store_shows_a_message_not_a_traceback(
    page, tmp_path, monkeypatch
):
    at = _run(f"sqlite:///{tmp_path / 'missing' / 'x.db'}", monkeypatch, page)
    assert not at.exception
    assert any("Cannot read the store" in e.value for e in at.error)


@pytest.mark.parametrize("page", PAGES)
def test_each_page_renders_on_data_without_exceptions(page, data_url, monkeypatch):
    at = _run(data_url, monkeypatch, page)
    assert not at.exception, at.exception


def test_overview_shows_the_headline_numbers(data_url, monkeypatch):
    at = _run(data_url, monkeypatch, params={"range": "7d"})
    assert not at.exception
    shown = {m.label: m.value for m in html_metrics(at)[:6]}
    assert shown == {
        "Mentions": "12",
        "People": "6",
        "New voices": "6",
        "Platforms": "3",
        "Mastodon instances": "2",
        "Blogs": "1",
    }


def test_overview_keeps_the_filters_in_the_url(data_url, monkeypatch):
    at = _run(data_url, monkeypatch, params={"range": "today", "pf": "mastodon"})
    assert at.query_params["range"] == ["today"] or at.query_params["range"] == "today"
    assert "mastodon" in str(at.query_params["pf"])


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return small_demo(tmp_path_factory.mktemp("demo") / "demo.db")


@pytest.mark.parametrize("page", PAGES)
def test_each_page_renders_on_the_demo_conversation(page, demo, monkeypatch):
    at = _run(demo[0], monkeypatch, page, params={"range": "all"})
    assert not at.exception, at.exception
    assert not at.error


def test_overview_on_the_demo_shows_its_size(demo, monkeypatch):
    url, summary = demo
    at = _run(url, monkeypatch, params={"range": "all"})
    shown = {m.label: m.value for m in html_metrics(at)[:6]}
    assert shown["Mentions"] == f"{summary.mentions:,}"
    assert shown["Platforms"] == str(len(summary.platforms))
    assert shown["Blogs"] == str(summary.blogs)


def test_events_page_on_the_demo_shows_the_assembly_lifting_the_conversation(demo, monkeypatch):
    url, summary = demo
    at = _run(url, monkeypatch, "views/events.py", params={"range": "all"})
    metrics = {m.label: m.value for m in html_metrics(at)}
    assert float(metrics["Lift"].rstrip("×")) > 1
    assert summary.event_name in [s.value for s in at.subheader]


def test_overview_on_the_demo_shows_what_travels_with_the_conversation(demo, monkeypatch):
    at = _run(demo[0], monkeypatch, params={"range": "all"})
    assert "What travels with it" in [s.value for s in at.subheader]
    tables = {tuple(t): t for t in html_tables(at) if "Mentions" in t}
    sites = tables[("Site", "Mentions")]
    tags = tables[("Hashtag", "Mentions")]
    pages = tables[("Page", "Mentions", "Link")]
    assert sites["Site"] and tags["Hashtag"] and pages["Page"]
    # Largest first; the movement's own hashtag is not "used with it".
    counts = [int(n.replace(",", "")) for n in sites["Mentions"]]
    assert counts == sorted(counts, reverse=True)
    assert "#nhscitizen" not in tags["Hashtag"]
    # a static table's link cell: an "open" link to the page, http(s) only
    assert all(link.startswith(("https://", "http://")) for link in pages["Link"])
