"""Registry hooks: the configured instance x hashtag (and instance x timeline) sources, and
the collector."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from collectors.base import CollectorContext
from collectors.mastodon.collector import MastodonCollector
from domain.matching import normalise_hashtag
from domain.records import SourceSpec
from domain.settings.checks import secret_from_env
from domain.settings.mastodon import MastodonInstance

if TYPE_CHECKING:
    from domain.settings.config import Settings


def source_key(base_url: str, hashtag: str) -> str:
    return f"mastodon:{urlsplit(base_url).netloc}:#{normalise_hashtag(hashtag)}"


def timeline_key(base_url: str, timeline: str) -> str:
    return f"mastodon:{urlsplit(base_url).netloc}:{timeline} timeline"


def source_specs(settings: Settings) -> list[SourceSpec]:
    """One source per instance x hashtag; an instance without hashtags follows every
    movement's hashtags. Each of an instance's `timelines` ("local", "public") is one more
    source, paged, paced and budgeted like a hashtag.

    Every poll spends at least one request carrying `min_id` from the instance's paging budget
    (Mastodon: 300 per 15 minutes per IP or user, DESIGN.md section 4), so the hashtags of one
    instance are spread over that budget: the interval is raised to at least
    `hashtags x paging_window_s / paging_budget` (10 hashtags: 30 s), never lowered.
    """
    movement_tags: list[str] = []
    for m in settings.movements:
        movement_tags.extend(m.hashtags)
    # instance -> (settings, kind, what, key): kind "hashtag" (what: the tag) or "timeline"
    per_instance: dict[str, list[tuple[MastodonInstance, str, str, str]]] = {}
    seen: set[str] = set()
    for inst in settings.mastodon.instances:
        wanted = [
            ("hashtag", tag, source_key(inst.base_url, tag))
            for tag in inst.hashtags or movement_tags
        ]
        wanted += [("timeline", t, timeline_key(inst.base_url, t)) for t in inst.timelines]
        for kind, what, key in wanted:
            if key not in seen:
                seen.add(key)
                per_instance.setdefault(inst.base_url, []).append((inst, kind, what, key))
    specs: list[SourceSpec] = []
    for pairs in per_instance.values():
        budget = min(inst.paging_budget / inst.paging_window_s for inst, *_ in pairs)
        floor = math.ceil(len(pairs) / budget)
        for inst, kind, what, key in pairs:
            specs.append(
                SourceSpec(
                    key=key,
                    platform="mastodon",
                    kind=kind,
                    target={
                        "base_url": inst.base_url,
                        kind: what,
                        "token_env": inst.token_env,
                        # Whether a token is set (never the token): exporting one changes the
                        # spec, which restarts a source stopped as "needs a token".
                        "has_token": secret_from_env(inst.token_env, what="token") is not None,
                    },
                    interval_s=max(floor, inst.interval_s or settings.collect.default_interval_s),
                )
            )
    return specs


def build(context: CollectorContext) -> MastodonCollector:
    return MastodonCollector(context)
