"""Shared set-up for the Mastodon tests: config for local servers, a runner, store look-ups."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

from collectors.base import CollectorContext
from collectors.mastodon.collector import MastodonCollector
from collectors.mastodon.plugin import source_specs
from collectors.runner import Runner
from domain.settings.config import Settings, parse_settings
from storage.catalog import sync_sources, upsert_movement
from storage.engine import write_tx
from tests.servers.mastodon_server import MastodonServer

MOVEMENT = {"slug": "nhscitizen", "name": "NHS Citizen", "hashtags": ["NHSCitizen"]}


def settings_for(
    *servers: MastodonServer,
    hashtags: tuple[str, ...] = ("NHSCitizen",),
    backfill_days: float = 3650,
    mastodon: dict[str, Any] | None = None,
    **instance: Any,
) -> Settings:
    instance.setdefault("timeout_s", 2.0)
    instance.setdefault("max_wait_s", 5.0)
    return parse_settings(
        {
            "movements": [MOVEMENT],
            "mastodon": {
                "instances": [
                    {
                        "base_url": s.base_url,
                        "hashtags": list(hashtags),
                        "backfill_days": backfill_days,
                        **instance,
                    }
                    for s in servers
                ],
                # Test statuses are dated November 2026, older than the default window.
                "boost_window_days": 3650,
                **(mastodon or {}),
            },
        }
    )


def sync(engine: Engine, settings: Settings) -> None:
    from domain.settings.config import MovementSettings

    with write_tx(engine) as conn:
        for m in settings.movements:
            upsert_movement(conn, MovementSettings.model_validate(m.model_dump()))
        sync_sources(conn, source_specs(settings))


def runner_for(engine: Engine, settings: Settings) -> tuple[Runner, MastodonCollector]:
    sync(engine, settings)
    context = CollectorContext(settings=settings, engine=engine)
    collector = MastodonCollector(context)
    runner = Runner(engine, context, {"mastodon": collector}, backoff_base_s=5.0)
    return runner, collector


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params))


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def sources(engine: Engine) -> dict[str, Any]:
    """Source rows by key, with the JSON columns decoded (raw SQL returns text on SQLite)."""
    from sqlalchemy import select

    from storage.models import Source

    with engine.connect() as conn:
        return {r.key: r for r in conn.execute(select(Source.__table__))}
