"""A small conversation for the wall's tests, written through the real write path.

Stands in for the demo replay (`groundswell.demo`) until it lands: ordinary posts from several
platforms and instances, plus the hostile ones the wall must render inert (script, HTML,
zero-width and right-to-left characters, a giant word, a 5,000-character post, a broken image
URL, a content warning and a sensitive image).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from domain.records import AccountRecord, Batch, EdgeRecord, MentionRecord
from domain.settings.config import MovementSettings
from storage.catalog import load_rules, upsert_movement
from storage.engine import write_tx
from storage.write import write_batch

MOVEMENT = MovementSettings(slug="nhscitizen", name="NHS Citizen", hashtags=["NHSCitizen"])

PEOPLE = [
    ("mastodon", "ada@mastodon.example", "Ada Lovelace", "mastodon.example"),
    ("mastodon", "grace@health.example", "Grace Hopper", "health.example"),
    ("bluesky", "did:plc:mary", "Mary Seacole", None),
    ("bluesky", "did:plc:florence", "Florence N.", None),
    ("blog", "blog.nhsvoices.example", "NHS Voices blog", "blog.nhsvoices.example"),
    ("mastodon", "troll@spam.example", "Troll", "spam.example"),
]

ORDINARY = [
    "Great to be at the assembly today #NHSCitizen",
    "The session on community health was brilliant #NHSCitizen",
    "Pledged to listen more to patients #NHSCitizen",
    "Who else is watching the livestream? #NHSCitizen",
    "Carers need a seat at this table #NHSCitizen",
    "Loving the energy in the room #NHSCitizen",
]

HOSTILE = [
    "<script>alert('x')</script> hello #NHSCitizen",
    '<img src=x onerror=alert(1)><b>bold?</b> <a href="javascript:alert(1)">link</a> #NHSCitizen',
    "zero\u200bwidth\u200d and \u202eright-to-left override\u202c text #NHSCitizen",
    "giant " + "W" * 400 + " word #NHSCitizen",
    "long post #NHSCitizen " + ("lorem ipsum dolor sit amet " * 190)[:4980],
]


def author(i: int) -> AccountRecord:
    platform, native, name, inst = PEOPLE[i % len(PEOPLE)]
    handle = native if platform != "bluesky" else native.removeprefix("did:plc:") + ".bsky.social"
    return AccountRecord(
        platform=platform, native_id=native, handle=handle, display_name=name, instance=inst
    )


def post(n: int, text: str, at: datetime, **kw: object) -> MentionRecord:
    a = author(n)
    native = {
        "mastodon": f"https://{a.instance}/users/x/statuses/{n}",
        "bluesky": f"at://{a.native_id}/app.bsky.feed.post/{n}",
        "blog": f"https://{a.instance}/{n}",
    }[a.platform]
    return MentionRecord(
        platform=a.platform,
        native_id=native,
        created_at=at,
        author=a,
        text=text,
        instance=a.instance,
        hashtags=["NHSCitizen"],
        **kw,  # type: ignore[arg-type]
    )


def conversation(start: datetime, *, hostile: bool = True) -> list[MentionRecord]:
    """Posts one second apart from `start`: ordinary ones, then the hostile corpus."""
    posts = [post(i, t, start + timedelta(seconds=i)) for i, t in enumerate(ORDINARY)]
    n = len(posts)
    if hostile:
        posts += [post(n + i, t, start + timedelta(seconds=n + i)) for i, t in enumerate(HOSTILE)]
        n = len(posts)
        posts.append(
            post(
                n,
                "A photo from the hall #NHSCitizen",
                start + timedelta(seconds=n),
                media=[
                    {"type": "image", "url": "http://127.0.0.1:9/broken.png", "description": "hall"}
                ],
            )
        )
        posts.append(
            post(
                n + 1,
                "Hard story #NHSCitizen",
                start + timedelta(seconds=n + 1),
                spoiler_text="hospital stay",
            )
        )
    return posts


def ensure_movement(engine: Engine) -> None:
    with write_tx(engine) as conn:
        upsert_movement(conn, MOVEMENT)


def boosts(posts: list[MentionRecord]) -> list[EdgeRecord]:
    """Boosts and reposts of the ordinary posts: Grace amplifies most, then Mary."""
    out = []
    for p in posts[: len(ORDINARY)]:
        for i in (1, 2) if p.platform == "bluesky" else (1,):
            fan = author(i)
            if fan.native_id != (p.author.native_id if p.author else None):
                kind = "repost" if p.platform == "bluesky" else "boost"
                out.append(
                    EdgeRecord(kind, p.platform, fan, (p.platform, p.native_id), p.created_at)
                )
    return out


def write(engine: Engine, *posts: MentionRecord, edges: list[EdgeRecord] | None = None) -> None:
    with engine.connect() as conn:
        rules = load_rules(conn)
    with write_tx(engine) as conn:
        write_batch(conn, Batch(mentions=list(posts), edges=list(edges or [])), rules)


def replay(engine: Engine, posts: list[MentionRecord], *, gap_s: float) -> Iterator[MentionRecord]:
    """Write posts one at a time, `gap_s` apart in real time, stamped with the current time."""
    ensure_movement(engine)
    for p in posts:
        p.created_at = datetime.now(UTC)
        write(engine, p)
        yield p
        time.sleep(gap_s)
