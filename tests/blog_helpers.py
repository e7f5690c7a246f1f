"""Shared set-up for the blog tests: a config pointing at local blog servers, a runner on a
store, and small queries."""

from __future__ import annotations

import html
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, text

from collectors.base import CollectorContext
from collectors.blogs.plugin import build, source_specs
from collectors.runner import Runner
from domain.settings.blogs import BlogFeed, BlogsSettings, TrackedPost
from domain.settings.config import MovementSettings, Settings
from storage.catalog import sync_sources, upsert_movement
from storage.engine import write_tx
from tests.servers.blog_server import T0, BlogServer

NHS = MovementSettings(
    slug="nhscitizen",
    name="NHS Citizen",
    hashtags=["NHSCitizen"],
    terms=["NHS Citizen"],
    urls=["https://www.nhscitizen.org.uk/pledge"],
)


def blog_settings(
    feeds: list[str] = (),  # type: ignore[assignment]
    posts: list[str] = (),  # type: ignore[assignment]
    *,
    comments_feed: bool | None = None,
    **blogs: Any,
) -> Settings:
    """Settings following `feeds` and tracking `posts`; `comments_feed=False` opts the feeds
    out of their site-wide comments feed (read by default), for tests that count requests or
    parses of the feed alone."""
    blogs.setdefault("allow_loopback", True)
    blogs.setdefault("timeout_s", 3.0)
    blogs.setdefault("enrich_delay_s", 0.0)
    return Settings(
        movements=[NHS],
        blogs=BlogsSettings(
            feeds=[BlogFeed(url=u, pingbacks=comments_feed) for u in feeds],
            tracked_posts=[TrackedPost(url=u) for u in posts],
            **blogs,
        ),
    )


def runner_for(engine: Engine, settings: Settings) -> Runner:
    with write_tx(engine) as conn:
        for m in settings.movements:
            upsert_movement(conn, m)
        sync_sources(conn, source_specs(settings))
    context = CollectorContext(settings=settings, engine=engine)
    return Runner(engine, context, {"blog": build(context)}, backoff_base_s=1)


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run an ASGI app on uvicorn in a thread on a free loopback port; yields its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # Keep-alive outlives a loaded machine's pauses: with uvicorn's 5 s, a client's pooled
    # connection could be closed by the server just as the client reused it (a reset, not an
    # answer), which is a property of the test machine, not of the app under test.
    server = uvicorn.Server(
        uvicorn.Config(
            app, log_level="warning", lifespan="on", access_log=False, timeout_keep_alive=120
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def wait_for(predicate: Any, timeout_s: float = 30.0) -> bool:
    """Poll `predicate` until true (a bound on waiting, never an assertion about speed)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params))


def count(engine: Engine, sql: str, **params: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar() or 0)


@dataclass(frozen=True)
class RecordedPingback:
    """One pingback comment of WordPress's theme-unit-test export: what a real WordPress
    stored for a real pingback (the source post's URL, its title as the comment author, the
    excerpt WordPress quoted)."""

    source: str
    title: str
    excerpt: str


def wordpress_pingbacks() -> list[RecordedPingback]:
    """The pingback comments (`<wp:comment_type>pingback`) of WordPress's theme-unit-test
    export (WordPress/theme-test-data, GPL-2.0-or-later; read where it lies, never copied)."""
    from defusedxml import ElementTree

    from tests.recordings import recorded

    data = recorded("WordPress/theme-test-data", "themeunittestdata.wordpress.xml")
    wp = "{https://wordpress.org/export/1.2/}"
    out = []
    for c in ElementTree.fromstring(data).iter(f"{wp}comment"):
        if (c.findtext(f"{wp}comment_type") or "") == "pingback":
            out.append(
                RecordedPingback(
                    source=c.findtext(f"{wp}comment_author_url") or "",
                    title=html.unescape(c.findtext(f"{wp}comment_author") or ""),
                    excerpt=c.findtext(f"{wp}comment_content") or "",
                )
            )
    return out


@contextmanager
def pinging_blog() -> Iterator[BlogServer]:
    """A second blog, "Patient Voices", whose post "Why I pledged" pings the tracked post."""
    with BlogServer("Patient Voices") as server:
        server.add_post(
            "why-i-pledged", "Why I pledged", "<p>Notes</p>", published=T0 + timedelta(hours=3)
        )
        yield server
