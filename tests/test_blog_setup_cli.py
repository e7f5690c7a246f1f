"""Setting up a blog as a new user would (issue 16 item 8): a WordPress home page advertises no
pingback endpoint (WordPress does so on single posts only), `add-blog` says why and offers
`--track-posts N`; an address refused by the SSRF guard names the one setting that allows it,
with its brackets intact in the terminal (rich markup would eat `[blogs]`)."""

from __future__ import annotations

import logging
import tomllib

import httpx
import pytest
from typer.testing import CliRunner

from collectors.blogs.receiver import create_app
from groundswell.cli import app
from storage.catalog import upsert_movement
from storage.engine import write_tx
from tests.blog_helpers import NHS, count, serve
from tests.servers.blog_server import T0, BlogServer
from tests.test_blog_receiver import PLEDGE, receiver_settings

MOVEMENT = """
[[movements]]
slug = "nhscitizen"
name = "NHS Citizen"
hashtags = ["NHSCitizen"]
urls = ["https://www.nhscitizen.org.uk/pledge"]
"""
LOOPBACK_OK = MOVEMENT + "\n[blogs]\nallow_loopback = true\n"
WIDE = {"COLUMNS": "400"}  # one line per table row, whatever the terminal


@pytest.fixture
def wordpress():
    """A WordPress-like blog: pingback advertised on its posts, not on its home page."""
    with BlogServer("Healthcare Radicals") as server:
        server.pingback_on_home = False
        for hour in (8, 9, 10):  # posts[-1] is the newest
            server.add_post(
                f"hour-{hour}",
                f"At {hour} #NHSCitizen",
                "<p>#NHSCitizen</p>",
                published=T0.replace(hour=hour),
            )
        yield server


def _add_blog(tmp_path, config_text: str, *args: str):
    config = tmp_path / "groundswell.toml"
    config.write_text(config_text)
    db = f"sqlite:///{tmp_path / 'gs.db'}"
    argv = ["sources", "add-blog", *args, "--config", str(config), "--db", db]
    return CliRunner().invoke(app, argv, env=WIDE), config, db


def test_add_blog_on_a_wordpress_home_page_says_pingback_is_advertised_on_posts(
    tmp_path, wordpress
):
    result, _, _ = _add_blog(tmp_path, LOOPBACK_OK, wordpress.url + "/", "--dry-run")
    assert result.exit_code == 0, result.output
    newest = wordpress.post_url(wordpress.posts[-1])
    assert "WordPress advertises its pingback endpoint on single posts" in result.output
    assert f"the latest post ({newest}) advertises {wordpress.url}/xmlrpc.php" in result.output
    assert "--track-posts N" in result.output


def test_add_blog_track_posts_adds_the_n_latest_posts_as_tracked_posts(tmp_path, wordpress):
    from sqlalchemy import create_engine

    result, config, db = _add_blog(tmp_path, LOOPBACK_OK, wordpress.url + "/", "--track-posts", "2")
    assert result.exit_code == 0, result.output
    written = tomllib.loads(config.read_text())
    newest_two = [wordpress.post_url(p) for p in wordpress.posts[::-1][:2]]
    assert [p["url"] for p in written["blogs"]["tracked_posts"]] == newest_two
    assert [f["url"] for f in written["blogs"]["feeds"]] == [wordpress.url + "/feed/"]
    engine = create_engine(db)
    assert count(engine, "SELECT count(*) FROM source WHERE kind = 'pingbacks'") == 2
    again, _, _ = _add_blog(tmp_path, config.read_text(), wordpress.url + "/", "--track-posts", "2")
    assert "already configured" in again.output


def test_add_blog_refused_by_the_ssrf_guard_names_blogs_allow_loopback(tmp_path, wordpress):
    result, _, _ = _add_blog(tmp_path, MOVEMENT, wordpress.url + "/")
    assert result.exit_code == 2
    assert "set [blogs].allow_loopback = true" in result.output


def test_collect_and_status_name_blogs_allow_loopback_with_its_brackets(tmp_path, wordpress):
    config = tmp_path / "groundswell.toml"
    config.write_text(MOVEMENT + f'\n[[blogs.feeds]]\nurl = "{wordpress.url}/feed/"\n')
    db = f"sqlite:///{tmp_path / 'gs.db'}"
    runner = CliRunner()
    argv = ["--config", str(config), "--db", db]
    collected = runner.invoke(app, ["collect", "--once", *argv], env=WIDE)
    status = runner.invoke(app, ["status", *argv], env=WIDE)
    assert "set [blogs].allow_loopback = true" in collected.output
    assert "set [blogs].allow_loopback = true" in status.output


def test_a_receiver_refusal_logs_the_receiver_setting_for_the_operator(sqlite_store, caplog):
    with write_tx(sqlite_store) as conn:
        upsert_movement(conn, NHS)
    settings = receiver_settings(allow_loopback=False)
    caplog.set_level(logging.WARNING, logger="groundswell.receiver")
    with serve(create_app(sqlite_store, settings, verify_in_background=False)) as url:
        res = httpx.post(
            url + "/webmention", data={"source": "http://localhost:9/p", "target": PLEDGE}
        )
    assert res.status_code == 400 and "127.0.0.1" not in res.text
    assert "set [receiver].allow_loopback = true" in caplog.text
