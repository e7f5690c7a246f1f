"""Registry hooks for the blog platform: which sources the config asks for, and the collector."""

from __future__ import annotations

from typing import TYPE_CHECKING

from collectors.base import CollectorContext
from collectors.blogs.collector import BlogCollector
from domain.records import SourceSpec

if TYPE_CHECKING:
    from domain.settings.blogs import BlogFeed
    from domain.settings.config import Settings


def feed_key(url: str) -> str:
    return f"blog:feed:{url}"


def pingbacks_key(url: str) -> str:
    return f"blog:pingbacks:{url}"


def _site_pingbacks(settings: Settings, feed: BlogFeed) -> bool:
    """Whether a followed blog's comments feed is read for its pingbacks: as set, else for
    every blog you follow that is not one of your own sites (their pings reach the receiver)."""
    if feed.pingbacks is not None:
        return feed.pingbacks
    from collectors.blogs.receiver import owns

    return not owns(list(settings.receiver.owned_sites), feed.url)


def source_specs(settings: Settings) -> list[SourceSpec]:
    """One `feed` source per configured feed, one `pingbacks` source per tracked post.

    A tracked post without a movement belongs to the only movement when there is exactly one
    (the common case); otherwise its pingbacks are matched on their content like any mention.
    """
    blogs = settings.blogs
    only = settings.movements[0].slug if len(settings.movements) == 1 else None
    specs = [
        SourceSpec(
            key=feed_key(f.url),
            platform="blog",
            kind="feed",
            target={
                "url": f.url,
                "name": f.name,
                "movement": f.movement,
                **({"pingbacks": True} if _site_pingbacks(settings, f) else {}),
            },
            interval_s=f.interval_s or blogs.feed_interval_s,
        )
        for f in blogs.feeds
    ]
    specs += [
        SourceSpec(
            key=pingbacks_key(p.url),
            platform="blog",
            kind="pingbacks",
            target={"url": p.url, "movement": p.movement or only},
            interval_s=p.interval_s or blogs.pingback_interval_s,
        )
        for p in blogs.tracked_posts
    ]
    return specs


def build(context: CollectorContext) -> BlogCollector:
    return BlogCollector(context)
