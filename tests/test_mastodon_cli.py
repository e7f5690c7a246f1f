"""The CLI with the Mastodon collector: `collect --once`, `status`, `mastodon-live`."""

from __future__ import annotations

import json
import threading
import time

from typer.testing import CliRunner

from groundswell.cli import app
from tests.servers.mastodon_server import MastodonServer, make_status, running


def config(tmp_path, *servers: MastodonServer, extra: str = "") -> str:
    blocks = "\n".join(
        f"""
[[mastodon.instances]]
base_url = "{s.base_url}"
backfill_days = 3650
timeout_s = 2
{extra}
"""
        for s in servers
    )
    path = tmp_path / "groundswell.toml"
    path.write_text(
        f"""
[[movements]]
slug = "nhscitizen"
name = "NHS Citizen"
hashtags = ["NHSCitizen", "ChangeDay"]
{blocks}
""",
        encoding="utf-8",
    )
    return str(path)


def test_collect_once_fills_the_store_from_two_instances_and_status_shows_the_cursors(tmp_path):
    with running(MastodonServer("alpha.test"), MastodonServer("beta.test", seq_salt=400)) as (
        a,
        b,
    ):
        for n in range(1, 6):
            s = a.carry(make_status("alpha.test", "ann", n))
            b.carry(s, origin="alpha.test")
        b.carry(make_status("beta.test", "bob", 9, tags=("ChangeDay",)))
        cfg, db = config(tmp_path, a, b), f"sqlite:///{tmp_path / 'gs.db'}"
        result = CliRunner().invoke(app, ["collect", "--once", "-c", cfg, "--db", db])
        assert result.exit_code == 0, result.output
        status = CliRunner().invoke(app, ["status", "--json", "-c", cfg, "--db", db])
        assert status.exit_code == 0, status.output
        data = json.loads(status.stdout)
    assert data["counts"]["mentions"] == 6
    mastodon = [s for s in data["sources"] if s["platform"] == "mastodon"]
    assert len(mastodon) == 4  # two instances x two hashtags
    assert all(s["status"] == "ok" and s["last_run"]["outcome"] == "ok" for s in mastodon)
    assert all(s["cursor"]["backfill_done"] for s in mastodon)
    assert all(s["budget"]["paging_budget"] == 300 for s in mastodon)
    assert all(0 < s["budget"]["remaining"] < 300 for s in mastodon)


def test_mastodon_live_streams_until_its_duration_ends(tmp_path, monkeypatch):
    monkeypatch.setenv("GS_TEST_LIVE_TOKEN", "cli-token")
    with running(MastodonServer("alpha.test", tokens=("cli-token",), heartbeat_s=0.1)) as (s,):
        cfg = config(tmp_path, s, extra='stream = true\ntoken_env = "GS_TEST_LIVE_TOKEN"')
        db = f"sqlite:///{tmp_path / 'gs.db'}"

        def post_when_listening() -> None:
            deadline = time.monotonic() + 10
            while s.stream_count() < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            s.carry(make_status("alpha.test", "ann", 1))

        poster = threading.Thread(target=post_when_listening, daemon=True)
        poster.start()
        result = CliRunner().invoke(
            app, ["mastodon-live", "-c", cfg, "--db", db, "--duration", "3"]
        )
        poster.join(timeout=10)
    assert result.exit_code == 0, result.output
    assert "1 new" in result.output
    status = CliRunner().invoke(app, ["status", "--json", "-c", cfg, "--db", db])
    assert json.loads(status.stdout)["counts"]["mentions"] == 1


def test_mastodon_live_without_streamed_instances_is_a_configuration_error(tmp_path):
    with running(MastodonServer("alpha.test")) as (s,):
        result = CliRunner().invoke(app, ["mastodon-live", "-c", config(tmp_path, s)])
    assert result.exit_code == 2
    assert "stream = true" in result.output


def test_collect_once_says_how_many_older_statuses_backfill_days_left_out(tmp_path):
    with running(MastodonServer("quiet.test")) as (s,):
        for n in range(1, 6):  # November 2026: older than a week
            s.carry(make_status("quiet.test", "ann", n))
        cfg = config(tmp_path, s)
        with open(cfg, encoding="utf-8") as fh:
            text = fh.read().replace("backfill_days = 3650", "backfill_days = 7")
        with open(cfg, "w", encoding="utf-8") as fh:
            fh.write(text)
        db = f"sqlite:///{tmp_path / 'gs.db'}"
        result = CliRunner().invoke(app, ["collect", "--once", "-c", cfg, "--db", db])
        status = CliRunner().invoke(app, ["status", "--json", "-c", cfg, "--db", db])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "5 older statuses left out by backfill_days" in said
    problems = {p for src in json.loads(status.stdout)["sources"] for p in src["problems"]}
    assert "5 older statuses left out by backfill_days = 7" in problems


def test_recheck_asks_the_configured_instance_at_its_base_url(tmp_path):
    from datetime import UTC, datetime

    with running(MastodonServer("alpha.test")) as (s,):
        now = datetime.now(UTC)
        kept = s.carry(make_status("alpha.test", "ann", 1, created_at=now))
        gone = s.carry(make_status("alpha.test", "ann", 2, created_at=now))
        cfg, db = config(tmp_path, s), f"sqlite:///{tmp_path / 'gs.db'}"
        assert CliRunner().invoke(app, ["collect", "--once", "-c", cfg, "--db", db]).exit_code == 0
        s.delete(gone["uri"])
        # The URIs name https://alpha.test/..., which does not resolve: only the configured
        # base URL reaches the instance, allowed as the collector allows it (no
        # --allow-loopback: the operator configured this address).
        result = CliRunner().invoke(
            app, ["recheck", "-c", cfg, "--db", db, "--platform", "mastodon"]
        )
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "2 mentions rechecked; 1 deleted since" in said
    assert kept["uri"] != gone["uri"]
