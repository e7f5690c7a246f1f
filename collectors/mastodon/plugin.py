"""Registry hooks: the configured instance x hashtag sources, and the collector."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from collectors.base import CollectorContext, SourceSpec
from collectors.mastodon.collector import MastodonCollector
from groundswell.config import secret_from_env
from groundswell.matching import normalise_hashtag

if TYPE_CHECKING:
    from groundswell.config import Settings


def source_key(base_url: str, hashtag: str) -> str:
    return f"mastodon:{urlsplit(base_url).netloc}:#{normalise_hashtag(hashtag)}"


def source_specs(settings: Settings) -> list[SourceSpec]:
    """One source per instance x hashtag; an instance without hashtags follows every
    movement's hashtags."""
    movement_tags: list[str] = []
    for m in settings.movements:
        movement_tags.extend(m.hashtags)
    specs: dict[str, SourceSpec] = {}
    for inst in settings.mastodon.instances:
        for tag in inst.hashtags or movement_tags:
            key = source_key(inst.base_url, tag)
            if key in specs:
                continue
            specs[key] = SourceSpec(
                key=key,
                platform="mastodon",
                kind="hashtag",
                target={
                    "base_url": inst.base_url,
                    "hashtag": tag,
                    "token_env": inst.token_env,
                    # Whether a token is set (never the token): exporting one changes the spec,
                    # which restarts a source stopped as "needs a token".
                    "has_token": secret_from_env(inst.token_env, what="token") is not None,
                },
                interval_s=inst.interval_s or settings.collect.default_interval_s,
            )
    return list(specs.values())


def build(context: CollectorContext) -> MastodonCollector:
    return MastodonCollector(context)
