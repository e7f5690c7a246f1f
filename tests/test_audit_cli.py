"""`groundswell audit list|export` and the command line's own audit rows (issue 23;
docs/access.md, "The audit trail")."""

from __future__ import annotations

import csv
import getpass
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from typer.testing import CliRunner

from groundswell.cli import app
from storage.alerts import NewAlert, record_alert
from storage.audit import AuditFilter, list_actions, record_action
from storage.engine import write_tx
from storage.models import Mention
from storage.write import write_batch
from tests.factories import T0, account, batch, mention, movement

ME = f"cli:{getpass.getuser()}"


def _run(*args: str):
    return CliRunner().invoke(app, list(args), env={"GROUNDSWELL_CONFIG": ""})


def _trail(store) -> int:
    """Three rows: a shown post hidden, an opted-out author's post hidden, a word blocked."""
    rules = movement(store)
    shown, opted_out = mention(1, author=account(1)), mention(2, author=account(2, noindex=True))
    with write_tx(store) as conn:
        write_batch(conn, batch(shown, opted_out), rules)
    m = Mention.__table__
    with store.connect() as conn:
        ids = dict(conn.execute(select(m.c.native_id, m.c.id)).all())
    with write_tx(store) as conn:
        for i, target in enumerate((ids[shown.native_id], ids[opted_out.native_id])):
            record_action(
                conn,
                actor="Ana <ana@org.example>",
                role="moderator",
                action="wall.hide",
                target_kind="mention",
                target_id=target,
                at=T0 + timedelta(minutes=i),
            )
        record_action(
            conn,
            actor="shared password: ben",
            role="moderator",
            action="wall.block",
            target_kind="word",
            target_id="spam*",
            at=T0 + timedelta(minutes=5),
        )
    return ids[shown.native_id]


def test_audit_export_writes_csv_oldest_first_without_withheld_ids_and_is_itself_audited(
    sqlite_store, tmp_path
):
    shown_id = _trail(sqlite_store)
    out = tmp_path / "audit.csv"
    res = _run("audit", "export", "--db", str(sqlite_store.url), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "wrote 3 audit rows" in res.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["actor"], r["action"], r["target_id"], r["withheld"]) for r in rows] == [
        ("Ana <ana@org.example>", "wall.hide", str(shown_id), "False"),
        ("Ana <ana@org.example>", "wall.hide", "", "True"),
        ("shared password: ben", "wall.block", "spam*", "False"),
    ]
    with sqlite_store.connect() as conn:
        [audited] = list_actions(conn, AuditFilter(action="audit.export"))
    assert (audited["actor"], audited["role"]) == (ME, "operator")
    assert audited["detail"]["rows"] == 3 and audited["target_id"] == "audit.csv"
    again = _run("audit", "export", "--db", str(sqlite_store.url), "--out", str(out))
    assert again.exit_code == 2 and "--overwrite" in again.output


def test_audit_export_filters_by_actor_and_time_and_writes_jsonl(sqlite_store, tmp_path):
    _trail(sqlite_store)
    out = tmp_path / "ana.jsonl"
    res = _run(
        "audit", "export", "--db", str(sqlite_store.url), "--out", str(out),
        "--actor", "Ana <ana@org.example>", "--since", "2026-11-02T09:01", "--until", "2026-11-03",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    [row] = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["withheld"] is True and row["target_id"] is None
    assert datetime.fromisoformat(row["at"]) == T0 + timedelta(minutes=1)
    bad = _run("audit", "export", "--db", str(sqlite_store.url), "--out", str(tmp_path / "x.xls"))
    assert bad.exit_code == 2 and ".csv or .jsonl" in bad.output


def test_audit_list_prints_the_newest_rows(sqlite_store):
    _trail(sqlite_store)
    url = str(sqlite_store.url)
    res = _run("audit", "list", "--db", url, "--action", "wall.block", "--json")
    assert res.exit_code == 0, res.output
    assert [r["actor"] for r in json.loads(res.output)] == ["shared password: ben"]
    res = _run("audit", "list", "--db", url, "--limit", "2", "--json")
    assert [r["target_id"] for r in json.loads(res.output)] == ["spam*", None]
    assert "No audit rows match" in _run("audit", "list", "--db", url, "--actor", "x").output


def test_acknowledging_from_the_command_line_is_audited_with_the_os_user(sqlite_store):
    new = NewAlert(rule="spike/x", kind="spike", episode="e1", fired_at=T0, title="t", body="b")
    with write_tx(sqlite_store) as conn:
        alert_id = record_alert(conn, new, [], now=T0)
    res = _run("alerts", "ack", str(alert_id), "--by", "mo", "--db", str(sqlite_store.url))
    assert res.exit_code == 0, res.output
    with sqlite_store.connect() as conn:
        [row] = list_actions(conn)
    assert (row["actor"], row["role"], row["action"]) == (ME, "operator", "alerts.acknowledge")
    assert (row["target_kind"], row["target_id"], row["detail"]) == (
        "alert",
        str(alert_id),
        {"as": "mo"},
    )
    assert row["at"] > datetime.now(UTC) - timedelta(minutes=5)
