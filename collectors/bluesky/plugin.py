"""Registry hooks (`collectors.registry`): the sources `[bluesky]` asks for, and the collector."""

from __future__ import annotations

from typing import TYPE_CHECKING

from collectors.base import CollectorContext
from collectors.bluesky.collector import BlueskyCollector
from domain.records import SourceSpec

if TYPE_CHECKING:
    from domain.settings.config import Settings

JETSTREAM_KEY = "bluesky:jetstream"


def source_specs(settings: Settings) -> list[SourceSpec]:
    bsky = settings.bluesky
    default = settings.collect.default_interval_s
    specs = [
        SourceSpec(
            key=query.key,
            platform="bluesky",
            kind="search",
            target={"tag": query.tag} if query.tag else {"q": query.q},
            interval_s=query.interval_s or default,
        )
        for query in bsky.queries
    ]
    if bsky.jetstream_url:
        specs.append(
            SourceSpec(
                key=JETSTREAM_KEY,
                platform="bluesky",
                kind="jetstream",
                target={"url": bsky.jetstream_url},
                interval_s=default,
            )
        )
    return specs


def build(context: CollectorContext) -> BlueskyCollector:
    return BlueskyCollector(context)
