"""Issue 3's "done when": one `groundswell collect --once` with two Mastodon instances and
Bluesky queries fills the store from the local servers, and `groundswell status` shows each
source's cursor, counts and last error."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from groundswell.cli import app
from tests.bluesky_support import APP_PASSWORD, HANDLE
from tests.servers.bluesky_server import BlueskyServer, profile
from tests.servers.mastodon_server import MastodonServer, make_status, running


def write_config(tmp_path: Path, bsky: BlueskyServer, *instances: MastodonServer) -> str:
    blocks = "".join(
        f"""
[[mastodon.instances]]
base_url = "{s.base_url}"
backfill_days = 3650
timeout_s = 2
"""
        for s in instances
    )
    path = tmp_path / "groundswell.toml"
    path.write_text(
        f"""
[[movements]]
slug = "nhscitizen"
name = "NHS Citizen"
hashtags = ["NHSCitizen"]
terms = ["NHS Citizen"]
{blocks}
[bluesky]
base_url = "{bsky.base_url}"
session_file = "{tmp_path / "bsky-session.json"}"
timeout_s = 2

[[bluesky.queries]]
tag = "NHSCitizen"

[[bluesky.queries]]
q = "NHS Citizen"
""",
        encoding="utf-8",
    )
    return str(path)


def test_collect_once_fills_the_store_from_both_platforms_and_status_explains_each_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROUNDSWELL_BSKY_HANDLE", HANDLE)
    monkeypatch.setenv("GROUNDSWELL_BSKY_APP_PASSWORD", APP_PASSWORD)
    now = datetime.now(UTC)
    with (
        running(MastodonServer("alpha.test"), MastodonServer("beta.test", seq_salt=400)) as (a, b),
        BlueskyServer() as bsky,
    ):
        bsky.add_account(HANDLE, APP_PASSWORD)
        for n in range(1, 5):  # federated: every status is on both instances, one mention each
            b.carry(a.carry(make_status("alpha.test", "ann", n)), origin="alpha.test")
        author = profile("did:plc:doneauthor0000000000000", "done.bsky.social")
        for n in range(6):
            bsky.add_post(author, f"Pledge {n} #NHSCitizen", now - timedelta(minutes=n + 1))
        bsky.add_post(author, "The NHS Citizen assembly, no hashtag", now - timedelta(minutes=9))
        cfg, db = write_config(tmp_path, bsky, a, b), f"sqlite:///{tmp_path / 'gs.db'}"

        result = CliRunner().invoke(app, ["collect", "--once", "-c", cfg, "--db", db])
        assert result.exit_code == 0, result.output
        bsky.fail_next("app.bsky.feed.searchPosts", "500")  # the next poll fails once
        CliRunner().invoke(app, ["collect", "--once", "-c", cfg, "--db", db])
        status = CliRunner().invoke(app, ["status", "--json", "-c", cfg, "--db", db])
        assert status.exit_code == 0, status.output
        data = json.loads(status.stdout)

    assert data["counts"]["mentions"] == 4 + 7
    by_key = {s["key"]: s for s in data["sources"]}
    mastodon = [s for s in data["sources"] if s["platform"] == "mastodon"]
    assert len(mastodon) == 2 and all(s["status"] == "ok" for s in mastodon)
    tag, text = by_key["bluesky:tag:NHSCitizen"], by_key["bluesky:q:NHS Citizen"]
    assert tag["cursor"]["done_until"] and tag["cursor"]["sweep"] is None
    failed = [s for s in (tag, text) if s["status"] == "backoff"]
    assert len(failed) == 1 and "server error 500" in failed[0]["last_error"]
    assert bsky.calls["com.atproto.server.createSession"] == 1  # the session was reused
