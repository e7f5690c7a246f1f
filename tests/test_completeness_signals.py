"""Completeness signals: collectors record rate-limit waits, result-cap splits, unreachable
servers and refused anonymous reads as counts on the run (`collector_run.signals`), and the
export data card and `groundswell status` read those counts instead of error wording.

Collectors run for real against the local protocol servers (tests/servers/*).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from groundswell.cli import app
from groundswell.export import ExportOptions, export_dataset
from storage.engine import write_tx
from storage.models import CollectorRun, Source
from tests import blog_helpers
from tests.bluesky_support import Env, add_posts, bluesky_env, now
from tests.factories import T0
from tests.mastodon_support import runner_for, settings_for
from tests.servers.bluesky_server import profile
from tests.servers.mastodon_server import MastodonServer, make_status, running

SEARCH = "app.bsky.feed.searchPosts"
PAGE = {"page_limit": 5}


def last_signals(engine: Engine) -> dict[str, Any]:
    runs: Any = CollectorRun.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return conn.execute(select(runs.c.signals).order_by(runs.c.id.desc()).limit(1)).scalar()


@pytest.fixture
def bsky(store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    with bluesky_env(store, tmp_path, monkeypatch) as env:
        yield env


@pytest.fixture
def alpha() -> Iterator[MastodonServer]:
    with running(MastodonServer("alpha.test", seq_salt=10)) as (a,):
        yield a


def statuses(server: MastodonServer, n: int) -> None:
    for i in range(1, n + 1):
        server.carry(make_status(server.domain, "ann", i))


# -- Bluesky ------------------------------------------------------------------------------------


def test_every_result_cap_split_is_counted_on_the_run_and_in_the_data_card(
    bsky: Env, tmp_path: Path
) -> None:
    bsky.configure(result_cap=10, page_limit=4)
    bsky.server.result_cap = 10
    uris = add_posts(bsky.server, 30, step_s=7)
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok", outcome.error
    assert bsky.native_ids() == sorted(uris)
    untils = {c.params.get("until", [""])[0] for c in bsky.server.log if c.nsid == SEARCH}
    splits = len(untils) - 1  # every split starts a query with a new `until`
    assert splits >= 2
    assert last_signals(bsky.engine) == {"result_cap_split": splits}
    assert outcome.signals == {"result_cap_split": splits}

    summary = export_dataset(bsky.engine, tmp_path / "out", options=ExportOptions())
    (source,) = [s for s in summary.card["sources"] if s["platform"] == "bluesky"]
    c = source["completeness"]
    assert c["result_cap_splits"] == splits and c["result_cap_overflows"] == 0
    assert c["runs_counted_from_wording"] == 0
    card = json.loads((tmp_path / "out" / "datacard.json").read_text())
    assert card["sources"][0]["completeness"]["signals"] == {"result_cap_split": splits}
    row = next(
        ln
        for ln in (tmp_path / "out" / "README.md").read_text().splitlines()
        if source["key"] in ln
    )
    assert f"| {splits} |" in row


def test_more_posts_than_the_cap_in_one_millisecond_is_counted_as_an_overflow(bsky: Env) -> None:
    bsky.configure(result_cap=10, page_limit=4)
    bsky.server.result_cap = 10
    add_posts(bsky.server, 1)  # one ordinary post, newest
    instant = now() - timedelta(minutes=5)  # then twelve sharing one millisecond
    for i in range(12):
        bsky.server.add_post(
            profile(f"did:plc:crowd{i:019d}", f"crowd{i}.bsky.social"),
            f"Crowd {i} #NHSCitizen",
            instant,
            indexed_at=instant,
        )
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok", outcome.error
    signals = last_signals(bsky.engine)
    assert signals["result_cap_overflow"] == 1
    assert signals["result_cap_split"] >= 1
    # (The source's wording problem is cleared once the sweep finishes; the count stays.)


def test_a_bluesky_429_is_a_rate_limit_wait_with_the_seconds_until_the_retry(bsky: Env) -> None:
    add_posts(bsky.server, 25)
    bsky.server.fail_next(SEARCH, "429", reset_in=40, after=1)
    (outcome,) = bsky.run()
    assert outcome.outcome == "transient"
    signals = last_signals(bsky.engine)
    assert signals["rate_limit_wait"] == 1
    assert 30 <= signals["rate_limit_wait_s"] <= 41


# -- Mastodon -----------------------------------------------------------------------------------


def test_a_mastodon_429_waited_out_records_a_rate_limit_wait_with_the_seconds(store, alpha):
    statuses(alpha, 12)
    alpha.fail_next("429", reset_in=0.3, after=1)
    runner, _ = runner_for(store, settings_for(alpha, mastodon=PAGE))
    [out] = runner.run_once()
    assert out.outcome == "ok", out.error
    signals = last_signals(store)
    assert signals["rate_limit_wait"] == 1
    assert 0 < signals["rate_limit_wait_s"] <= 2.5  # the reset it announced, 0.3 s away
    assert "429" not in json.dumps(signals)  # counted, not worded


def test_a_mastodon_429_too_long_to_wait_is_recorded_on_the_failed_run(store, alpha):
    statuses(alpha, 12)
    alpha.fail_next("429", reset_in=30, after=1)
    runner, _ = runner_for(store, settings_for(alpha, max_wait_s=1.0, mastodon=PAGE))
    [out] = runner.run_once()
    assert out.outcome == "transient"
    signals = last_signals(store)
    assert signals["rate_limit_wait"] == 1 and signals["rate_limit_wait_s"] >= 29


def test_the_mastodon_paging_budget_is_recorded_as_its_own_wait(sqlite_store, alpha):
    statuses(alpha, 29)
    settings = settings_for(
        alpha, paging_budget=3, paging_window_s=60, max_wait_s=0.5, mastodon=PAGE
    )
    runner, _ = runner_for(sqlite_store, settings)
    [out] = runner.run_once()
    assert out.outcome == "transient"
    signals = last_signals(sqlite_store)
    assert signals["paging_budget_wait"] == 1 and signals["paging_budget_wait_s"] > 0.5
    assert "rate_limit_wait" not in signals


def test_pacing_under_the_advertised_limit_is_recorded_as_pacing_waits(sqlite_store):
    with running(MastodonServer("tight.test", rate_limit=6, rate_window_s=2.0)) as (s,):
        statuses(s, 26)
        runner, _ = runner_for(sqlite_store, settings_for(s, mastodon={"page_limit": 2}))
        [out] = runner.run_once()
    assert out.outcome == "ok", out.error
    signals = last_signals(sqlite_store)
    waits = signals.get("pacing_wait", 0) + signals.get("rate_limit_wait", 0)
    assert waits >= 1
    assert signals.get("pacing_wait_s", 0) + signals.get("rate_limit_wait_s", 0) > 0


def test_an_instance_refusing_anonymous_reads_records_needs_token(sqlite_store):
    with running(MastodonServer("closed.test", timelines_access="authenticated")) as (s,):
        statuses(s, 1)
        runner, _ = runner_for(sqlite_store, settings_for(s))
        [out] = runner.run_once()
    assert out.outcome == "fatal"
    assert last_signals(sqlite_store) == {"needs_token": 1}


def test_an_instance_that_does_not_answer_records_unreachable(sqlite_store):
    with running(MastodonServer("gone.test")) as (s,):
        settings = settings_for(s)
    # the server has stopped: nobody listens on its port any more
    runner, _ = runner_for(sqlite_store, settings)
    [out] = runner.run_once()
    assert out.outcome == "transient"
    assert last_signals(sqlite_store)["unreachable"] == 1


def test_a_backfill_stopped_by_a_server_ignoring_max_id_records_a_gap(sqlite_store, alpha):
    statuses(alpha, 30)
    alpha.ignore_paging_ids = True
    runner, _ = runner_for(sqlite_store, settings_for(alpha, mastodon=PAGE))
    [out] = runner.run_once()
    assert out.outcome == "ok", out.error
    assert last_signals(sqlite_store).get("gap") == 1


def test_a_complete_backfill_records_no_gap(sqlite_store, alpha):
    statuses(alpha, 12)
    runner, _ = runner_for(sqlite_store, settings_for(alpha, mastodon=PAGE))
    [out] = runner.run_once()
    assert out.outcome == "ok", out.error
    assert "gap" not in last_signals(sqlite_store)


# -- blogs --------------------------------------------------------------------------------------


def test_a_blog_that_does_not_answer_records_unreachable(sqlite_store):
    settings = blog_helpers.blog_settings(feeds=["http://127.0.0.1:1/feed/"])
    runner = blog_helpers.runner_for(sqlite_store, settings)
    [out] = runner.run_once()
    assert out.outcome == "transient"
    assert last_signals(sqlite_store) == {"unreachable": 1}


# -- status and the data card -------------------------------------------------------------------


def test_status_shows_the_latest_runs_signals(store, alpha, tmp_path):
    statuses(alpha, 12)
    alpha.fail_next("429", reset_in=0.3, after=1)
    runner, _ = runner_for(store, settings_for(alpha, mastodon=PAGE))
    runner.run_once()
    config = tmp_path / "groundswell.toml"
    config.write_text(
        f"""
[[movements]]
slug = "nhscitizen"
name = "NHS Citizen"
hashtags = ["NHSCitizen"]

[[mastodon.instances]]
base_url = "{alpha.base_url}"
""",
        encoding="utf-8",
    )
    url = store.url.render_as_string(hide_password=False)
    as_json = CliRunner().invoke(app, ["status", "--json", "-c", str(config), "--db", url])
    assert as_json.exit_code == 0, as_json.output
    (source,) = json.loads(as_json.stdout)["sources"]
    assert source["last_run"]["signals"]["rate_limit_wait"] == 1
    table = CliRunner(env={"COLUMNS": "250"}).invoke(
        app, ["status", "-c", str(config), "--db", url]
    )
    assert table.exit_code == 0, table.output
    assert "rate_limit_wait 1" in table.output


def _source_with_runs(store: Engine, runs: list[tuple[int, str, str | None, Any]]) -> None:
    with write_tx(store) as conn:
        sid = conn.execute(
            Source.__table__.insert().values(  # type: ignore[attr-defined]
                key="mastodon:alpha.test:NHSCitizen",
                platform="mastodon",
                kind="hashtag",
                target={"hashtag": "NHSCitizen"},
                enabled=True,
                interval_s=60,
                status="ok",
                problems=[],
                consecutive_failures=0,
            )
        ).inserted_primary_key[0]
        for minute, outcome, error, signals in runs:
            conn.execute(
                CollectorRun.__table__.insert().values(  # type: ignore[attr-defined]
                    source_id=sid,
                    started_at=T0 + timedelta(minutes=minute),
                    outcome=outcome,
                    error=error,
                    skip_reasons={},
                    signals=signals,
                )
            )


def test_the_data_card_counts_signals_whatever_the_error_says(store, tmp_path):
    _source_with_runs(
        store,
        [
            (0, "ok", None, {"rate_limit_wait": 2, "rate_limit_wait_s": 12.5}),
            # wording that names no rate limit, but the run says it waited for one
            (
                1,
                "transient",
                "alpha.test: slow down",
                {"rate_limit_wait": 1, "rate_limit_wait_s": 300},
            ),
            (2, "ok", None, {"paging_budget_wait": 1, "paging_budget_wait_s": 40}),
            (3, "transient", "alpha.test: gave up", {"unreachable": 1, "gap": 1}),
            # wording that would have been read as a 429 and as a split: counted as nothing
            (4, "transient", "HTTP 429 after a result cap split", {}),
        ],
    )
    summary = export_dataset(store, tmp_path / "out", options=ExportOptions())
    (source,) = summary.card["sources"]
    c = source["completeness"]
    assert c["rate_limit_waits"] == 4 and c["rate_limit_wait_seconds"] == 352.5
    assert c["unreachable_runs"] == 1 and c["result_cap_splits"] == 0
    assert c["reported_gaps"] == 1
    assert c["runs_counted_from_wording"] == 0
    assert "inferred from the error wording" not in (tmp_path / "out" / "README.md").read_text()


def test_runs_recorded_before_signals_fall_back_to_the_wording_and_say_so(store, tmp_path):
    _source_with_runs(
        store,
        [
            (0, "transient", "alpha.test: rate limited (429) on #NHSCitizen", None),
            (1, "transient", "alpha.test: slow down", {"rate_limit_wait": 1}),
        ],
    )
    summary = export_dataset(store, tmp_path / "out", options=ExportOptions())
    c = summary.card["sources"][0]["completeness"]
    assert c["rate_limit_waits"] == 2 and c["runs_counted_from_wording"] == 1
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "1 run(s) were recorded before" in readme
