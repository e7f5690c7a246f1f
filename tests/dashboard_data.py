"""A small conversation with known numbers, written through the real write path, for the
dashboard's page tests (until/besides the demo generator)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from domain.records import EdgeRecord
from domain.settings.config import EventSettings
from groundswell.demo.load import DemoSummary
from storage.catalog import upsert_event
from storage.engine import make_engine, write_tx
from storage.migrate import upgrade
from storage.write import write_batch
from tests.factories import account, batch, mention, movement

HOSTILE = "<script>alert(1)</script> \u202eevil\u202c " + "x" * 400 + " 🎉 #NHSCitizen"


def small_conversation(engine: Engine, now: datetime | None = None) -> dict[str, int]:
    """12 mentions by 6 people on 3 platforms over the last 3 hours, an event, edges.

    Returns the headline numbers the Overview must show for the last 7 days.
    """
    now = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    rules = movement(engine)
    people = [
        account(1, instance="mastodon.social"),
        account(2, instance="kolektiva.social"),
        account(3, instance="mastodon.social"),
        account(4, platform="bluesky"),
        account(5, platform="bluesky"),
        account(6, platform="blog", instance="blog.example.org"),
    ]
    mentions = []
    for i in range(12):
        who = people[i % 6]
        mentions.append(
            mention(
                100 + i,
                platform=who.platform,
                author=who,
                created_at=now - timedelta(minutes=170 - i * 14),
                like_count=i,
                text=HOSTILE if i == 11 else f"Pledge {i} #NHSCitizen",
                url=f"https://example.org/p/{i}",
            )
        )
    edges = [
        EdgeRecord(
            kind="boost",
            platform="mastodon",
            source=people[2],
            target=(mentions[0].platform, mentions[0].native_id),
            target_account=people[0],
            created_at=now - timedelta(minutes=100),
        ),
        EdgeRecord(
            kind="reply",
            platform="mastodon",
            source=people[1],
            target=(mentions[0].platform, mentions[0].native_id),
            target_account=people[0],
            via=(mentions[1].platform, mentions[1].native_id),
            created_at=mentions[1].created_at,
        ),
    ]
    with write_tx(engine) as conn:
        write_batch(conn, batch(*mentions, edges=edges), rules)
        upsert_event(
            conn,
            EventSettings(
                slug="assembly",
                name="Citizen Assembly",
                movement="nhscitizen",
                starts=now - timedelta(minutes=90),
                ends=now - timedelta(minutes=30),
            ),
            {"nhscitizen": rules[0].id},
        )
    return {
        "mentions": 12,
        "people": 6,
        "new_voices": 6,
        "platforms": 3,
        "instances": 2,
        "blogs": 1,
    }


def small_demo(path: Path) -> tuple[str, DemoSummary]:
    """The offline demo conversation, 500 mentions from a fixed seed, in a new SQLite store at
    `path`: the store URL and what was loaded (the page tests' shared conversation)."""
    from groundswell.demo import load_demo

    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    summary = load_demo(engine, seed=7, mentions=500)
    engine.dispose()
    return url, summary


APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")


def open_page(page: str, params: dict[str, str] | None = None) -> AppTest:
    """A new session of the dashboard from its real entry point (the store and passwords from
    the environment), with `params` in the URL, moved to `page` ("views/spread.py") as the
    sidebar menu would, and drawn without an exception."""
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at
