"""Feeds that moved (issue 16 item 3): after a permanent redirect (301, 308) the feed is polled
where it went and `status` shows the move; a temporary one (302, 307) changes nothing. The real
runner, httpx and feedparser against a local blog. Both stores."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from storage.status import source_status
from tests.blog_helpers import blog_settings, count, runner_for
from tests.servers.blog_server import BlogServer

OLD = "/old/feed/"


@pytest.fixture
def blog():
    with BlogServer("Patient Voices") as server:
        server.add_post("assembly", "Assembly notes #NHSCitizen", "<p>#NHSCitizen</p>")
        yield server


def _moved(blog: BlogServer, status: int) -> None:
    blog.pages[OLD] = (status, {"Location": blog.url + "/feed/"}, b"")


@pytest.mark.parametrize("code", [301, 308])
def test_after_a_permanent_redirect_the_feed_is_polled_where_it_went(store, blog, code):
    _moved(blog, code)
    runner = runner_for(store, blog_settings(feeds=[blog.url + OLD]))
    [first] = runner.run_once()
    assert first.outcome == "ok"
    assert count(store, "SELECT count(*) FROM mention WHERE platform = 'blog'") == 1

    runner.run_once()

    assert blog.hits(OLD) == 1  # the second poll went straight to the new address
    assert blog.hits("/feed/") == 2
    assert blog.requests[-1].headers.get("if-none-match")  # and was conditional there
    with store.connect() as conn:
        [source] = source_status(conn)
    assert source["cursor"]["moved_to"] == blog.url + "/feed/"
    assert any(f"moved permanently to {blog.url}/feed/" in p for p in source["problems"])


@pytest.mark.parametrize("code", [302, 307])
def test_a_temporary_redirect_changes_nothing(store, blog, code):
    _moved(blog, code)
    runner = runner_for(store, blog_settings(feeds=[blog.url + OLD]))
    runner.run_once()
    runner.run_once()

    assert blog.hits(OLD) == 2
    with store.connect() as conn:
        [source] = source_status(conn)
    assert "moved_to" not in (source["cursor"] or {})
    assert not any("moved" in p for p in source["problems"])


def test_status_names_the_new_address_of_a_moved_feed(tmp_path, blog):
    from groundswell.cli import app
    from tests.test_blog_cli import CONFIG

    _moved(blog, 301)
    config = tmp_path / "groundswell.toml"
    config.write_text(CONFIG + f'\n[[blogs.feeds]]\nurl = "{blog.url}{OLD}"\n')
    db = f"sqlite:///{tmp_path / 'gs.db'}"
    runner = CliRunner()
    assert (
        runner.invoke(app, ["collect", "--once", "--config", str(config), "--db", db]).exit_code
        == 0
    )
    shown = runner.invoke(app, ["status", "--json", "--config", str(config), "--db", db])
    [source] = json.loads(shown.output)["sources"]
    assert source["problems"] == [
        f"moved permanently to {blog.url}/feed/ (polled there now; put that URL in the config)"
    ]
