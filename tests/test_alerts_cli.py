"""`groundswell alerts --once --at`, `alerts list`, `alerts ack`, `status` and `init` on a
demo store: the demo's event produces a spike and a new-place alert at the right times, each
sent to a real SMTP server and a webhook receiver exactly once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from groundswell.cli import app
from groundswell.demo.load import load_demo
from storage.engine import make_engine
from storage.migrate import upgrade
from tests.alert_servers import free_port, smtp_server, webhook_receiver

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # the demo's event: 14 Nov 09:30-15 Nov 17:00


def _config(tmp: Path, smtp_port: int, hook_url: str) -> Path:
    path = tmp / "gs.toml"
    path.write_text(
        f"""
[alerts]
allow_loopback = true

[[alerts.rules]]
name = "spike"
kind = "spike"
movement = "nhscitizen"

[[alerts.rules]]
name = "new-places"
kind = "new_place"
movement = "nhscitizen"

[alerts.email]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
sender = "groundswell@example.org"
to = ["comms@example.org"]

[[alerts.webhooks]]
name = "team"
url = "{hook_url}"
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    db = f"sqlite:///{tmp_path_factory.mktemp('alerts-demo') / 'demo.db'}"
    engine = make_engine(db)
    upgrade(engine)
    load_demo(engine, seed=7, mentions=3000, now=NOW)
    engine.dispose()
    return db


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_the_demo_event_raises_a_spike_and_a_new_place_sent_once_to_each_channel(demo_db, tmp_path):
    with smtp_server() as (port, box), webhook_receiver() as hook:
        cfg = str(_config(tmp_path, port, hook.url))
        before = _run("alerts", "--once", "--at", "2026-11-13T11:00", "-c", cfg, "--db", demo_db)
        during = _run("alerts", "--once", "--at", "2026-11-14T11:00", "-c", cfg, "--db", demo_db)
        sent = (len(box.messages), len(hook.posts))
        again = _run("alerts", "--once", "--at", "2026-11-14T11:00", "-c", cfg, "--db", demo_db)
        resent = (len(box.messages), len(hook.posts))
        recorded = json.loads(_run("alerts", "list", "--json", "-c", cfg, "--db", demo_db).output)
    assert before.exit_code == 0, before.output
    assert "Spike" not in before.output and "assembly.social" not in before.output
    assert during.exit_code == 0, during.output
    assert during.output.count("spike: Spike:") == 1
    assert "reached the Mastodon instance assembly.social" in during.output  # first at 10:09
    assert "0 new alert(s)" in again.output and resent == sent
    assert sent == (len(recorded), len(recorded))  # every alert once to each channel
    assert len({m["Message-ID"] for m in box.messages}) == len(recorded)
    assert len(hook.acted_on) == len(recorded)


def test_list_shows_unacknowledged_alerts_and_ack_removes_them(demo_db, tmp_path):
    cfg = str(_config(tmp_path, free_port(), "https://hooks.example/x"))
    _run("alerts", "--once", "--at", "2026-11-14T11:00", "-c", cfg, "--db", demo_db)
    listed = _run("alerts", "list", "--json", "-c", cfg, "--db", demo_db)
    assert listed.exit_code == 0, listed.output
    ids = [a["id"] for a in json.loads(listed.output)]
    assert ids
    acked = _run("alerts", "ack", str(ids[0]), "--by", "mo", "-c", cfg, "--db", demo_db)
    assert acked.exit_code == 0 and "acknowledged 1 alert(s) as mo" in acked.output
    after = json.loads(_run("alerts", "list", "--json", "-c", cfg, "--db", demo_db).output)
    assert ids[0] not in [a["id"] for a in after]
    missing = _run("alerts", "ack", "999999", "-c", cfg, "--db", demo_db)
    assert missing.exit_code == 1 and "no alert with id 999999" in missing.output


def test_an_unreachable_server_leaves_alerts_queued_and_visible_in_status(tmp_path):
    db = f"sqlite:///{tmp_path / 'gs.db'}"
    engine = make_engine(db)
    upgrade(engine)
    load_demo(engine, seed=7, mentions=3000, now=NOW)
    engine.dispose()
    cfg = str(_config(tmp_path, free_port(), f"http://127.0.0.1:{free_port()}/hook"))
    run = _run("alerts", "--once", "--at", "2026-11-14T11:00", "-c", cfg, "--db", db)
    assert run.exit_code == 0, run.output
    assert "0 delivered" in run.output and "queued for retry" in run.output
    status = _run("status", "-c", cfg, "--db", db)
    assert status.exit_code == 0, status.output
    line = next(x for x in status.output.splitlines() if x.startswith("alert deliveries:"))
    assert line.startswith("alert deliveries: queued: ") and "delivered" not in line
    assert "QUEUED email" in status.output and "unreachable" in status.output


def test_a_missing_smtp_password_variable_is_an_error_at_init_naming_the_key(tmp_path, monkeypatch):
    monkeypatch.delenv("GS_TEST_SMTP_PASSWORD", raising=False)
    monkeypatch.setenv("GS_TEST_SMTP_USER", "mo")
    cfg = tmp_path / "gs.toml"
    cfg.write_text(
        """
[alerts.email]
host = "smtp.example.org"
port = 587
sender = "gs@example.org"
to = ["comms@example.org"]
username_env = "GS_TEST_SMTP_USER"
password_env = "GS_TEST_SMTP_PASSWORD"
""",
        encoding="utf-8",
    )
    result = _run("init", "-c", str(cfg), "--db", f"sqlite:///{tmp_path / 'gs.db'}")
    assert result.exit_code == 2
    assert "alerts.email.password_env" in result.output and "GS_TEST_SMTP_PASSWORD" in result.output


def test_a_wrong_smtp_port_is_an_error_at_init_naming_the_key(tmp_path):
    cfg = tmp_path / "gs.toml"
    cfg.write_text(
        '[alerts.email]\nhost = "smtp.example.org"\nport = 465\nsecurity = "starttls"\n'
        'sender = "gs@example.org"\nto = ["comms@example.org"]\n',
        encoding="utf-8",
    )
    result = _run("init", "-c", str(cfg), "--db", f"sqlite:///{tmp_path / 'gs.db'}")
    assert result.exit_code == 2
    assert "alerts.email" in result.output and 'security = "ssl"' in result.output


def test_the_day_digest_is_emailed_with_the_overviews_headline_numbers(demo_db, tmp_path):
    from dashboard.filters import resolve_filters
    from storage.queries.overview import headline_with_change
    from storage.queries.scope import list_events, list_movements

    with smtp_server() as (port, box):
        cfg = str(_config(tmp_path, port, "https://hooks.example/x"))
        args = ["digest", "--period", "day", "--at", "2026-11-15T08:00", "-c", cfg]
        sent = _run(*args, "--db", demo_db, "--send", "--out", str(tmp_path / "d.html"))
        again = _run(*args, "--db", demo_db, "--send")
    assert sent.exit_code == 0, sent.output
    assert "1 delivered" in sent.output and "already sent" in again.output
    (msg,) = box.messages  # HTML with a plain-text alternative, sent once
    html = msg.get_body(("html",)).get_content()
    text = msg.get_body(("plain",)).get_content()
    assert html.strip() == (tmp_path / "d.html").read_text(encoding="utf-8")
    assert "<script" not in html and "http" not in html.split("<a ")[0].split("xmlns")[0]
    link = next(w for w in text.split() if w.startswith("http://127.0.0.1:8501/overview?"))
    from urllib.parse import parse_qs, urlsplit

    params = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    engine = make_engine(demo_db)
    with engine.connect() as conn:
        f = resolve_filters(
            params,
            now=NOW,
            movements=list_movements(conn),
            events_of=lambda m: list_events(conn, m),
            span_of=lambda m: None,
        )
        overview = headline_with_change(conn, f.scope())
    assert f.preset == "custom" and params["from"] == params["to"] == "2026-11-14"
    assert overview["mentions"]["value"] > 100  # the first day of the event
    for key, label in (
        ("mentions", "Mentions"),
        ("people", "People"),
        ("new_voices", "New voices"),
    ):
        assert f"{label}: {overview[key]['value']:,} " in text
        assert f">{overview[key]['value']:,}</div>" in html
