"""`groundswell sources add-blog` and `groundswell serve-receiver`, run as a user would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from groundswell.cli import app
from tests.blog_helpers import count, wait_for
from tests.servers.blog_server import BlogServer

CONFIG = """
[[movements]]
slug = "nhscitizen"
name = "NHS Citizen"
hashtags = ["NHSCitizen"]
urls = ["https://www.nhscitizen.org.uk/pledge"]

[blogs]
allow_loopback = true
"""


@pytest.fixture
def blog():
    with BlogServer("Healthcare Radicals") as server:
        server.webmention_endpoint = "https://webmention.example/endpoint"
        server.add_post("assembly", "Assembly notes #NHSCitizen", "<p>#NHSCitizen</p>")
        yield server


def test_add_blog_finds_the_feed_reports_endpoints_and_adds_it(tmp_path, blog):
    from sqlalchemy import create_engine

    config = tmp_path / "groundswell.toml"
    config.write_text(CONFIG)
    db = f"sqlite:///{tmp_path / 'gs.db'}"
    result = CliRunner().invoke(
        app, ["sources", "add-blog", blog.url + "/", "--config", str(config), "--db", db]
    )
    assert result.exit_code == 0, result.output
    assert f"feed:       {blog.url}/feed/" in result.output
    assert f"pingback:   {blog.url}/xmlrpc.php" in result.output
    assert "webmention: https://webmention.example/endpoint" in result.output
    assert f'url = "{blog.url}/feed/"' in config.read_text()
    engine = create_engine(db)
    assert count(engine, "SELECT count(*) FROM source WHERE kind = 'feed'") == 1
    again = CliRunner().invoke(
        app, ["sources", "add-blog", blog.url + "/", "--config", str(config), "--db", db]
    )
    assert "already configured" in again.output


def test_add_blog_on_a_page_without_a_feed_says_so(tmp_path, blog):
    config = tmp_path / "groundswell.toml"
    config.write_text(CONFIG)
    blog.pages["/plain"] = (200, {}, b"<html><head><title>x</title></head></html>")
    result = CliRunner().invoke(
        app, ["sources", "add-blog", blog.url + "/plain", "--config", str(config), "--dry-run"]
    )
    assert result.exit_code == 1 and "advertises no feed" in result.output


def test_serve_receiver_refuses_to_start_without_owned_sites(tmp_path):
    config = tmp_path / "groundswell.toml"
    config.write_text(CONFIG)
    result = CliRunner().invoke(app, ["serve-receiver", "--config", str(config)])
    assert result.exit_code == 2 and "owned_sites" in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_receiver_runs_from_one_command_and_verifies_a_webmention(tmp_path, blog):
    from sqlalchemy import create_engine

    pledge = "https://www.nhscitizen.org.uk/pledge"
    blog.link_target = pledge
    port = _free_port()
    config = tmp_path / "groundswell.toml"
    config.write_text(
        CONFIG + f'\n[receiver]\nport = {port}\nowned_sites = ["https://www.nhscitizen.org.uk"]\n'
        "allow_loopback = true\n"
    )
    db = f"sqlite:///{tmp_path / 'gs.db'}"
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "groundswell.cli",
            "serve-receiver",
            "--config",
            str(config),
            "--db",
            db,
        ],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(base + "/healthz").status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_for(up, timeout_s=30), proc.stdout.read1().decode() if proc.stdout else ""
        res = httpx.post(
            base + "/webmention", data={"source": blog.url + "/mentions/1/", "target": pledge}
        )
        assert res.status_code == 201
        engine = create_engine(db)
        assert wait_for(lambda: count(engine, "SELECT count(*) FROM mention") == 1)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_config_with_blogs_and_a_tracked_post_fills_the_store_and_status_shows_problems(
    tmp_path, blog
):
    import json

    from sqlalchemy import create_engine

    from tests.servers.blog_server import T0, Ping

    with BlogServer("Patient Voices") as other, BlogServer("Broken Blog") as broken:
        tracked = blog.posts[0]
        reply = other.add_post(
            "reply",
            "Why I pledged #NHSCitizen",
            f'<p>Read <a href="{blog.post_url(tracked)}">the assembly notes</a></p>',
            published=T0.replace(hour=15),
        )
        tracked.pings = [Ping(other.post_url(reply), "Why I pledged")]
        config = tmp_path / "groundswell.toml"
        config.write_text(
            CONFIG
            + "enrich_delay_s = 0\n"
            + "".join(
                f'\n[[blogs.feeds]]\nurl = "{u}"\n'
                for u in (blog.url + "/feed/", other.url + "/feed/", broken.url + "/bozo/feed/")
            )
            + f'\n[[blogs.tracked_posts]]\nurl = "{blog.post_url(tracked)}"\n'
        )
        db = f"sqlite:///{tmp_path / 'gs.db'}"
        runner = CliRunner()
        collected = runner.invoke(app, ["collect", "--once", "--config", str(config), "--db", db])
        assert collected.exit_code == 0, collected.output
        status = runner.invoke(app, ["status", "--json", "--config", str(config), "--db", db])
    report = json.loads(status.output)
    problems = {s["key"]: s["problems"] for s in report["sources"]}
    assert "malformed feed" in problems[f"blog:feed:{broken.url}/bozo/feed/"][0]
    engine = create_engine(db)
    platforms = {
        r[0]: r[1]
        for r in engine.connect().exec_driver_sql(
            "SELECT platform, count(*) FROM mention GROUP BY platform"
        )
    }
    assert platforms == {"blog": 3, "pingback": 1}  # the bozo feed: one entry matches
    kinds = {r[0] for r in engine.connect().exec_driver_sql("SELECT kind FROM amplification")}
    assert kinds == {"link", "pingback"}


def test_status_shows_the_receiver_queue(tmp_path):
    import json

    from collectors.blogs.queue import accept
    from storage.engine import make_engine
    from storage.migrate import upgrade

    db = f"sqlite:///{tmp_path / 'gs.db'}"
    engine = make_engine(db)
    upgrade(engine)
    accept(engine, "webmention", "https://a.example/post", "https://www.nhscitizen.org.uk/")
    config = tmp_path / "groundswell.toml"
    config.write_text(CONFIG)
    text = CliRunner().invoke(app, ["status", "--config", str(config), "--db", db])
    assert "received pingbacks/webmentions: pending: 1" in text.output
    as_json = CliRunner().invoke(app, ["status", "--json", "--config", str(config), "--db", db])
    assert json.loads(as_json.output)["received"] == {"pending": 1}
