"""Parked sources (issue 15, Bluesky 2): a source stopped by a refused login must not sit
parked for ever in silence. `collect --once` exits non-zero while any source is parked and
names its fix, `status` lists parked sources first, and a refused login is retried by the
runner after a long back-off, so a fixed password is picked up without anyone noticing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from collectors.base import CollectorContext
from collectors.bluesky.collector import BlueskyCollector
from collectors.runner import Runner
from groundswell.cli import app
from tests.bluesky_support import APP_PASSWORD, Env, add_posts, bluesky_env, now

LOGIN = "com.atproto.server.createSession"
KEY = "bluesky:tag:NHSCitizen"


@pytest.fixture
def bsky(store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    with bluesky_env(store, tmp_path, monkeypatch) as env:
        yield env


def runner_at(env: Env, offset: timedelta) -> Runner:
    """A fresh runner (as a new process would have) whose clock is `offset` from now."""
    context = CollectorContext(settings=env.settings, engine=env.engine)
    return Runner(
        env.engine,
        context,
        {"bluesky": BlueskyCollector(context)},
        clock=lambda: now() + offset,
    )


def test_a_refused_login_is_retried_after_a_long_backoff_and_recovers_once_fixed(
    bsky: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_posts(bsky.server, 3)
    monkeypatch.setenv("GROUNDSWELL_BSKY_APP_PASSWORD", "wrong-wrong-wrong")
    (first,) = bsky.run()
    assert first.outcome == "fatal" and bsky.source().status == "auth_failed"
    monkeypatch.setenv("GROUNDSWELL_BSKY_APP_PASSWORD", APP_PASSWORD)  # the user fixes it
    assert runner_at(bsky, timedelta(minutes=10)).run_once() == []  # no login hammering
    assert bsky.server.calls[LOGIN] == 1
    (retried,) = runner_at(bsky, timedelta(hours=7)).run_once()
    assert retried.outcome == "ok", retried.error
    assert bsky.source().status == "ok" and bsky.mentions() == 3


def write_config(tmp_path: Path, env: Env) -> str:
    path = tmp_path / "groundswell.toml"
    path.write_text(
        f"""
[[movements]]
slug = "nhscitizen"
name = "NHS Citizen"
hashtags = ["NHSCitizen"]

[bluesky]
base_url = "{env.server.base_url}"
session_file = "{tmp_path / "cli-session.json"}"
timeout_s = 2

[[bluesky.queries]]
tag = "NHSCitizen"
""",
        encoding="utf-8",
    )
    return str(path)


def test_collect_once_exits_non_zero_and_names_the_fix_while_a_source_is_parked(
    bsky: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_posts(bsky.server, 2)
    cfg = write_config(tmp_path, bsky)
    db = bsky.engine.url.render_as_string(hide_password=False)
    cli = CliRunner(env={"COLUMNS": "250"})
    monkeypatch.setenv("GROUNDSWELL_BSKY_APP_PASSWORD", "wrong-wrong-wrong")

    failed = cli.invoke(app, ["collect", "--once", "-c", cfg, "--db", db])
    assert failed.exit_code == 1
    assert f"{KEY} (auth_failed)" in failed.output and "groundswell init" in failed.output

    # Nothing is due any more: 0 sources polled, and still not a success.
    again = cli.invoke(app, ["collect", "--once", "-c", cfg, "--db", db])
    assert again.exit_code == 1, again.output
    assert "0 sources polled" in again.output and "parked" in again.output

    status = cli.invoke(app, ["status", "--json", "-c", cfg, "--db", db])
    first = json.loads(status.stdout)["sources"][0]
    assert (first["key"], first["parked"]) == (KEY, True)
    assert "app password" in first["fix"] and "retried on its own at" in first["fix"]
    plain = cli.invoke(app, ["status", "-c", cfg, "--db", db]).stdout
    assert plain.index("source(s) parked") < plain.index("last success")  # before the table

    monkeypatch.setenv("GROUNDSWELL_BSKY_APP_PASSWORD", APP_PASSWORD)
    assert cli.invoke(app, ["init", "-c", cfg, "--db", db]).exit_code == 0
    fixed = cli.invoke(app, ["collect", "--once", "-c", cfg, "--db", db])
    assert fixed.exit_code == 0, fixed.output
    assert "parked" not in fixed.output
