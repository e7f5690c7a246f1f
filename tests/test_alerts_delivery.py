"""The outbox: alerts are committed with their deliveries, sent to a real SMTP server and a
webhook receiver on loopback, marked delivered only once accepted, retried with back-off when
the server is unreachable, and never lost or acted on twice across a crash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from domain.settings.config import parse_settings
from groundswell.alerts.deliver import deliver_due, policy, retry_delay, send_one
from net.fetcher import Fetcher
from storage.alerts import AD, CLAIM_S, NewAlert, claim_due, outbox_counts, record_alert
from storage.engine import write_tx
from tests.alert_servers import free_port, smtp_server, webhook_receiver

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


def _cfg(smtp_port: int | None = None, hook_url: str | None = None, **alerts):
    a = {"allow_loopback": True, **alerts}
    if smtp_port is not None:
        a["email"] = {
            "host": "127.0.0.1",
            "port": smtp_port,
            "security": "none",
            "sender": "gs@example.org",
            "to": ["comms@example.org"],
        }
    if hook_url is not None:
        a["webhooks"] = [{"name": "team", "url": hook_url, "format": "json"}]
    return parse_settings({"alerts": a}).alerts


def _alert(engine, channels, episode="e1", **kw):
    with write_tx(engine) as conn:
        return record_alert(
            conn,
            NewAlert(
                rule="spike",
                kind="spike",
                episode=episode,
                fired_at=NOW,
                title="Spike: 120 mentions in 60 min, 6.0x the usual",
                body="120 mentions <script>x</script> between 11:00 and 12:00",
                link="http://127.0.0.1:8501/overview?mv=nhscitizen",
                **kw,
            ),
            channels,
            now=NOW,
        )


def _statuses(engine):
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(AD.c.channel, AD.c.status, AD.c.attempts).order_by(AD.c.id)
            )
        ]


def test_an_alert_is_recorded_once_per_episode_with_one_delivery_per_channel(store):
    first = _alert(store, ["email", "team"])
    again = _alert(store, ["email", "team"])
    assert first is not None and again is None
    assert _statuses(store) == [("email", "queued", 0), ("team", "queued", 0)]


def test_smtp_and_webhook_each_receive_the_alert_exactly_once(sqlite_store):
    with smtp_server() as (port, box), webhook_receiver() as hook:
        cfg = _cfg(port, hook.url)
        _alert(sqlite_store, ["email", "team"])
        report = deliver_due(sqlite_store, cfg, now=NOW)
        again = deliver_due(sqlite_store, cfg, now=NOW + timedelta(hours=1))
    assert len(report.delivered) == 2 and not again.delivered
    assert len(box.messages) == 1 and len(hook.posts) == 1
    msg = box.messages[0]
    assert msg["Subject"].startswith("[Groundswell] Spike")
    assert msg.get_body(("plain",)).get_content().startswith("Spike: 120")
    html = msg.get_body(("html",)).get_content()
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert hook.posts[0]["json"]["kind"] == "spike"
    assert _statuses(sqlite_store) == [("email", "delivered", 1), ("team", "delivered", 1)]


@pytest.mark.parametrize("fmt", ["slack", "mattermost"])
def test_slack_and_mattermost_hooks_get_an_incoming_webhook_text_body(sqlite_store, fmt):
    with webhook_receiver() as hook:
        cfg = parse_settings(
            {
                "alerts": {
                    "allow_loopback": True,
                    "webhooks": [{"name": "team", "url": hook.url, "format": fmt}],
                }
            }
        ).alerts
        _alert(sqlite_store, ["team"])
        deliver_due(sqlite_store, cfg, now=NOW)
    body = hook.posts[0]["json"]
    assert set(body) <= {"text", "username"} and "Open in the dashboard" in body["text"]
    if fmt == "slack":
        assert (
            "&lt;script&gt;" in body["text"] and "<http://127.0.0.1:8501/overview" in body["text"]
        )


def test_an_unreachable_server_leaves_the_alert_queued_with_a_doubling_delay(store):
    cfg = _cfg(free_port(), f"http://127.0.0.1:{free_port()}/hook", retry_base_s=60)
    _alert(store, ["email", "team"])
    first = deliver_due(store, cfg, now=NOW)
    assert len(first.retrying) == 2 and not first.delivered
    with store.connect() as conn:
        rows = conn.execute(select(AD.c.status, AD.c.next_attempt_at, AD.c.last_error)).all()
        assert outbox_counts(conn) == {"queued": 2}
    assert all(
        r.status == "queued" and r.next_attempt_at == NOW + timedelta(seconds=60) for r in rows
    )
    assert any("unreachable" in r.last_error for r in rows)
    assert not deliver_due(store, cfg, now=NOW + timedelta(seconds=30)).retrying  # not due yet
    second = deliver_due(store, cfg, now=NOW + timedelta(seconds=60))
    assert len(second.retrying) == 2
    assert retry_delay(cfg, 2) == 120 and retry_delay(cfg, 30) == 6 * 3600


def test_a_delivery_fails_for_good_after_max_attempts(sqlite_store):
    cfg = _cfg(hook_url=f"http://127.0.0.1:{free_port()}/hook", max_attempts=2, retry_base_s=1)
    _alert(sqlite_store, ["team"])
    deliver_due(sqlite_store, cfg, now=NOW)
    last = deliver_due(sqlite_store, cfg, now=NOW + timedelta(seconds=5))
    assert last.failed and _statuses(sqlite_store) == [("team", "failed", 2)]


def test_a_queued_alert_is_sent_once_the_server_is_back(sqlite_store):
    port = free_port()
    cfg = _cfg(port)
    _alert(sqlite_store, ["email"])
    deliver_due(sqlite_store, cfg, now=NOW)
    with smtp_server(port) as (_, box):
        deliver_due(sqlite_store, cfg, now=NOW + timedelta(hours=1))
    assert len(box.messages) == 1 and _statuses(sqlite_store) == [("email", "delivered", 2)]


def test_a_crash_between_claim_and_send_loses_nothing(store):
    with webhook_receiver() as hook:
        cfg = _cfg(hook_url=hook.url)
        _alert(store, ["team"])
        with write_tx(store) as conn:
            assert len(claim_due(conn, now=NOW)) == 1  # claimed, then the sender died
        assert not deliver_due(store, cfg, now=NOW + timedelta(seconds=10)).delivered  # claim held
        after = deliver_due(store, cfg, now=NOW + timedelta(seconds=CLAIM_S + 1))
    assert after.delivered and len(hook.posts) == 1


def test_a_crash_between_send_and_mark_resends_with_the_same_key_so_it_is_acted_on_once(store):
    with webhook_receiver() as hook, smtp_server() as (port, box):
        cfg = _cfg(port, hook.url)
        _alert(store, ["email", "team"])
        with write_tx(store) as conn:
            claimed = claim_due(conn, now=NOW)
        with Fetcher(policy(cfg)) as fetcher:  # the real sends; the process dies before marking
            for d in claimed:
                send_one(cfg, fetcher, d)
        deliver_due(store, cfg, now=NOW + timedelta(seconds=CLAIM_S + 1))
        final = deliver_due(store, cfg, now=NOW + timedelta(days=1))
    # at-least-once on the wire: sent twice, with one idempotency key / Message-ID
    assert len(hook.posts) == 2 and len(hook.acted_on) == 1
    assert len(box.messages) == 2 and len({m["Message-ID"] for m in box.messages}) == 1
    assert not final.delivered and {s for _, s, _ in _statuses(store)} == {"delivered"}


def test_loopback_needs_the_explicit_setting(sqlite_store):
    with webhook_receiver() as hook, smtp_server() as (port, box):
        email = {"host": "127.0.0.1", "port": port, "security": "none", "sender": "a@b.org"}
        cfg = parse_settings(
            {
                "alerts": {
                    "webhooks": [{"name": "team", "url": hook.url}],
                    "email": {**email, "to": ["c@d.org"]},
                }
            }
        ).alerts
        _alert(sqlite_store, ["team", "email"])
        report = deliver_due(sqlite_store, cfg, now=NOW)
    assert len(report.failed) == 2 and not hook.posts and not box.messages
    with sqlite_store.connect() as conn:
        errors = dict(conn.execute(select(AD.c.channel, AD.c.last_error)).all())
        assert conn.execute(select(func.count()).select_from(AD)).scalar() == 2
    assert "loopback" in errors["team"]
    assert errors["email"].startswith("alerts.email.host:") and "allow_loopback" in errors["email"]


def test_the_collect_loop_thread_evaluates_the_rules_and_delivers(sqlite_store):
    import threading

    from groundswell.alerts.loop import start_alerts_thread
    from storage.write import write_batch
    from tests.factories import batch, mention, movement

    rules = movement(sqlite_store)
    now = datetime.now(UTC)
    posts = [mention(i, created_at=now - timedelta(minutes=5, seconds=i)) for i in range(3)]
    with write_tx(sqlite_store) as conn:
        write_batch(conn, batch(*posts), rules)
    with webhook_receiver() as hook:
        settings = parse_settings(
            {
                "alerts": {
                    "allow_loopback": True,
                    "rules": [{"name": "places", "kind": "new_place"}],
                    "webhooks": [{"name": "team", "url": hook.url}],
                }
            }
        )
        stop = threading.Event()
        thread = start_alerts_thread(sqlite_store, settings, stop, every_s=0.2)
        assert thread is not None
        for _ in range(200):  # progress, not a time limit: stop as soon as it arrived
            if hook.posts:
                break
            stop.wait(0.1)
        stop.set()
        thread.join()
    assert hook.posts and {p["json"]["kind"] for p in hook.posts} == {"new_place"}
    assert len(hook.acted_on) == len(hook.posts)  # each alert once
