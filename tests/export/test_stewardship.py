"""Recheck turns deletions into tombstones (and stores new opt-outs); purge removes raw
payloads past the retention horizon, also from `collect --loop`'s housekeeping thread."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from domain.records import Batch
from groundswell.export.lookup import Lookups
from groundswell.export.recheck import recheck
from groundswell.export.retention import purge, start_retention_thread
from net.fetcher import FetchPolicy
from storage.engine import write_tx
from storage.models import Mention, MentionPayload
from storage.queries.ethics import mention_displayable
from storage.write import write_batch
from tests.factories import account, movement
from tests.servers.lookup_server import LookupServer

NOW = datetime.now(UTC).replace(microsecond=0)


def _mention(native_id: str, platform: str, author, when=None):
    from domain.records import MentionRecord

    return MentionRecord(
        platform=platform,
        native_id=native_id,
        created_at=when or NOW - timedelta(days=1),
        author=author,
        text="Pledged #NHSCitizen",
        hashtags=["NHSCitizen"],
        raw={"id": native_id},
    )


def _deleted(store) -> set[str]:
    m = Mention.__table__
    with store.connect() as conn:
        return {
            r[0] for r in conn.execute(select(m.c.native_id).where(m.c.deleted_at.is_not(None)))
        }


def test_recheck_tombstones_deleted_posts_and_leaves_errors_alone(store):
    rules = movement(store)
    with LookupServer() as server:
        alive = server.add_status("1", "alice", "Pledged")
        deleted = server.status_uri("2", "alice")
        failing = server.status_uri("3", "alice")
        server.failing.add("3")
        b_alive = server.add_post("3kalive", "bob.bsky.social", "hi")
        b_deleted = "at://did:plc:abc123/app.bsky.feed.post/3kgone"
        old_deleted = server.status_uri("4", "alice")  # outside the recheck window
        alice = account(1)
        bob = account(2, platform="bluesky")
        posts = [
            _mention(alive, "mastodon", alice),
            _mention(deleted, "mastodon", alice),
            _mention(failing, "mastodon", alice),
            _mention(b_alive, "bluesky", bob),
            _mention(b_deleted, "bluesky", bob),
            _mention(old_deleted, "mastodon", alice, when=NOW - timedelta(days=30)),
        ]
        with write_tx(store) as conn:
            write_batch(conn, Batch(mentions=posts), rules)
        lookups = Lookups(policy=FetchPolicy(allow_loopback=True), bluesky_base_url=server.url)
        report = recheck(store, lookups, since=NOW - timedelta(days=7), page_size=2)
    assert _deleted(store) == {deleted, b_deleted}
    assert (report.checked, report.tombstoned, report.errors) == (5, 2, 1)
    with store.connect() as conn:
        payloads = conn.execute(select(func.count()).select_from(MentionPayload.__table__))
        assert payloads.scalar() == 4  # the tombstones' payloads are gone


def test_recheck_stores_an_opt_out_seen_since_so_exports_withhold_the_author(store):
    rules = movement(store)
    with LookupServer() as server:
        uri = server.add_status("9", "carol", "Now private", noindex=True)
        with write_tx(store) as conn:
            from domain.records import Batch

            write_batch(conn, Batch(mentions=[_mention(uri, "mastodon", account(3))]), rules)
        lookups = Lookups(policy=FetchPolicy(allow_loopback=True), bluesky_base_url=server.url)
        report = recheck(store, lookups, since=NOW - timedelta(days=7))
    assert report.opted_out == 1
    m = Mention.__table__
    from storage.models import Account

    a = Account.__table__
    with store.connect() as conn:
        shown = conn.execute(
            select(func.count())
            .select_from(m.outerjoin(a, a.c.id == m.c.account_id))
            .where(mention_displayable(m, a))
        ).scalar()
    assert shown == 0


def _payload_store(store):
    from domain.records import Batch

    rules = movement(store)
    posts = [
        _mention(f"https://x.example/users/a/statuses/{i}", "mastodon", account(1))
        for i in range(4)
    ]
    with write_tx(store) as conn:
        write_batch(conn, Batch(mentions=posts), rules, now=NOW)
        p = MentionPayload.__table__
        old = [posts[0].id, posts[1].id]
        conn.execute(
            update(p).where(p.c.mention_id.in_(old)).values(fetched_at=NOW - timedelta(days=40))
        )
    return posts


def _payload_count(store) -> int:
    with store.connect() as conn:
        return conn.execute(select(func.count()).select_from(MentionPayload.__table__)).scalar()


def test_purge_removes_payloads_past_the_horizon_and_keeps_the_mentions(store):
    _payload_store(store)
    assert purge(store, days=30, now=NOW, batch=1) == 2
    assert _payload_count(store) == 2
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Mention.__table__)).scalar() == 4
    assert purge(store, days=30, now=NOW) == 0


def test_the_collect_loop_housekeeping_thread_purges(store):
    _payload_store(store)
    stop = threading.Event()
    thread = start_retention_thread(store, 30, stop, every_s=3600)
    assert thread is not None
    for _ in range(200):
        if _payload_count(store) == 2:
            break
        stop.wait(0.05)
    stop.set()
    thread.join(timeout=10)
    assert _payload_count(store) == 2
    assert start_retention_thread(store, None, stop) is None


def test_the_purge_command_without_configured_horizons_keeps_only_the_audit_default(
    sqlite_store, tmp_path
):
    from typer.testing import CliRunner

    from groundswell.cli import app

    url = str(sqlite_store.url)
    _payload_store(sqlite_store)
    res = CliRunner().invoke(app, ["purge", "--db", url], env={"GROUNDSWELL_CONFIG": ""})
    # Only the audit trail has a horizon by default (400 days); payloads stay.
    assert res.exit_code == 0, res.output
    assert "audit_event: purged 0 rows older than 400 days" in res.output
    assert "mention_payload" not in res.output
    res = CliRunner().invoke(app, ["purge", "--db", url, "--days", "30"])
    assert res.exit_code == 0, res.output
    assert "mention_payload: purged 2 raw payloads" in res.output


def test_recheck_visits_blog_entries_by_their_page_url_and_tombstones_removed_ones(store):
    from domain.records import MentionRecord
    from tests.servers.blog_server import BlogServer

    rules = movement(store)
    with BlogServer() as blog:
        post = blog.add_post("pledge", "Why I pledged", "<p>#NHSCitizen</p>")
        kept = MentionRecord(
            platform="blog",
            native_id=f"{blog.host},2026:post-1",  # a feed guid, not a URL
            url=blog.post_url(post),
            created_at=NOW - timedelta(days=1),
            author=account(5, platform="blog"),
            text="Why I pledged #NHSCitizen",
            hashtags=["NHSCitizen"],
        )
        removed = MentionRecord(
            platform="blog",
            native_id=f"{blog.host},2026:post-2",
            url=blog.url + "/gone",
            created_at=NOW - timedelta(days=1),
            author=account(5, platform="blog"),
            text="Second thoughts #NHSCitizen",
            hashtags=["NHSCitizen"],
        )
        with write_tx(store) as conn:
            write_batch(conn, Batch(mentions=[kept, removed]), rules)
        lookups = Lookups(policy=FetchPolicy(allow_loopback=True))
        report = recheck(store, lookups, since=NOW - timedelta(days=7))
    assert _deleted(store) == {removed.native_id}
    assert (report.checked, report.tombstoned, report.errors) == (2, 1, 0)


# -- retention horizons beyond raw payloads (issue 17 item 7) ------------------------------


def _horizon_store(store):
    """Old and new rows in every table a horizon covers."""
    from storage.models import Account, Amplification, CollectorRun
    from storage.models_blogs import ReceivedPing
    from storage.models_export import ExportLog

    rules = movement(store)
    old, new = NOW - timedelta(days=400), NOW - timedelta(days=1)
    author = account(1)
    posts = [
        _mention("https://x.example/users/a/statuses/old", "mastodon", author, when=old),
        _mention("https://x.example/users/a/statuses/new", "mastodon", author, when=new),
    ]
    with write_tx(store) as conn:
        write_batch(conn, Batch(mentions=posts), rules, now=NOW)
        p = MentionPayload.__table__
        conn.execute(update(p).where(p.c.mention_id == posts[1].id).values(fetched_at=old))
        a = Account.__table__
        ids = {"lonely_old": 9001, "lonely_new": 9002, "amplifier_old": 9003}
        for key, i in ids.items():
            when = new if key == "lonely_new" else old
            conn.execute(
                a.insert().values(
                    id=i,
                    platform="mastodon",
                    native_id=f"{key}@x.example",
                    updated_at=when,
                    person_id=i,
                )
            )
        conn.execute(
            Amplification.__table__.insert().values(
                id=77,
                kind="boost",
                platform="mastodon",
                source_account_id=ids["amplifier_old"],
                target_mention_id=posts[0].id,
                created_at=old,
                created_ts=int(old.timestamp()),
            )
        )
        for when in (old, new):
            conn.execute(
                CollectorRun.__table__.insert().values(
                    started_at=when, outcome="ok", skip_reasons={}
                )
            )
            conn.execute(
                ExportLog.__table__.insert().values(
                    created_at=when,
                    destination="/x",
                    filters={},
                    options={},
                    counts={},
                    tool="cli",
                )
            )
            for status in ("verified", "pending"):
                conn.execute(
                    ReceivedPing.__table__.insert().values(
                        key=hash((status, when)) & 0x7FFFFFFFFFFF,
                        kind="pingback",
                        attempts=0,
                        source=f"https://b.example/{status}/{when.date()}",
                        target="https://mine.example/post",
                        status=status,
                        received_at=when,
                        updated_at=when,
                    )
                )
    return posts


HORIZONS = dict(payloads=30, text=365, accounts=365, pings=90, run_log=180, export_log=365)


def test_purge_dry_run_counts_each_horizon_per_table_and_changes_nothing(store):
    from groundswell.export.retention import Horizons, purge_all

    _horizon_store(store)
    counts = purge_all(store, Horizons(**HORIZONS), now=NOW, dry_run=True)
    assert counts == {
        "mention_payload": 1,
        "mention (text redacted)": 1,
        "account": 1,  # lonely and old; the amplifier and the author are still referenced
        "received_ping": 1,  # settled and old; the pending one waits for verification
        "collector_run": 1,
        "export_log": 1,
    }
    assert purge_all(store, Horizons(**HORIZONS), now=NOW, dry_run=True) == counts


def test_each_horizon_purges_only_what_is_past_it(store):
    from groundswell.export.retention import Horizons, purge_all
    from storage.models import Account, CollectorRun
    from storage.models_blogs import ReceivedPing
    from storage.models_export import ExportLog

    posts = _horizon_store(store)
    done = purge_all(store, Horizons(**HORIZONS), now=NOW, batch=1)
    assert set(done.values()) == {1}
    m, a = Mention.__table__, Account.__table__
    with store.connect() as conn:
        texts = dict(conn.execute(select(m.c.id, m.c.text)).all())
        assert texts == {posts[0].id: None, posts[1].id: "Pledged #NHSCitizen"}
        assert conn.execute(select(func.count()).select_from(m)).scalar() == 2  # rows stay
        accounts = set(conn.execute(select(a.c.native_id)).scalars())
        assert "lonely_old@x.example" not in accounts
        assert {"lonely_new@x.example", "amplifier_old@x.example"} <= accounts
        for model, left in ((ReceivedPing, 3), (CollectorRun, 1), (ExportLog, 1)):
            n = conn.execute(select(func.count()).select_from(model.__table__)).scalar()
            assert n == left, model
    assert purge_all(store, Horizons(**HORIZONS), now=NOW) == dict.fromkeys(done, 0)


def test_the_purge_command_prints_counts_per_table_with_dry_run(sqlite_store, tmp_path):
    from typer.testing import CliRunner

    from groundswell.cli import app

    config = tmp_path / "groundswell.toml"
    config.write_text("[ethics]\nrun_log_retention_days = 30\nexport_log_retention_days = 30\n")
    _horizon_store(sqlite_store)
    url = str(sqlite_store.url)
    res = CliRunner().invoke(app, ["purge", "--db", url, "--config", str(config), "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "collector_run: would purge 1 rows older than 30 days" in res.output
    assert "export_log: would purge 1 rows older than 30 days" in res.output
    res = CliRunner().invoke(app, ["purge", "--db", url, "--config", str(config)])
    assert "collector_run: purged 1 rows" in res.output
