"""Shared set-up for the blog tests: a config pointing at local blog servers, a runner on a
store, and small queries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

from collectors.base import CollectorContext
from collectors.blogs.plugin import build, source_specs
from collectors.blogs.settings import BlogFeed, BlogsSettings, TrackedPost
from collectors.runner import Runner
from groundswell.config import MovementSettings, Settings
from storage.catalog import sync_sources, upsert_movement
from storage.engine import write_tx

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
    **blogs: Any,
) -> Settings:
    blogs.setdefault("allow_loopback", True)
    blogs.setdefault("timeout_s", 3.0)
    blogs.setdefault("enrich_delay_s", 0.0)
    return Settings(
        movements=[NHS],
        blogs=BlogsSettings(
            feeds=[BlogFeed(url=u) for u in feeds],
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


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params))


def count(engine: Engine, sql: str, **params: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar() or 0)
