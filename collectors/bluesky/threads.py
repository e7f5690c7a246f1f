"""Replies that do not repeat the hashtag: the threads of matched posts (issue 15, Bluesky 3).

Search finds the posts that carry a movement's tag or terms; a conversation's replies seldom
repeat them. For a matched post whose `replyCount` grew since the stored copy (the same test
as reposts and quotes, `BlueskyCollector._add_amplification`), `app.bsky.feed.getPostThread`
gives the replies under it; each becomes a mention with `thread_of` naming the post (the
write path matches it "thread" to that post's movements, `storage.threads`) and, through its
record's `reply.parent`, a `reply` edge. The grown count is written in the same batch as the
replies, so a crash before the commit reads the thread again and stores nothing twice.

getPostThread has no cursor: the tree is cut at `thread_depth` and the posts at the cut are
asked for in turn, each at most once per post and at most `max_edge_pages` requests per post,
so the walk always ends; a thread left unfinished is counted on the run (`thread_truncated`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from atproto import models

from collectors.base import FatalSourceError
from collectors.bluesky.parse import PLATFORM, ParsedPost
from collectors.bluesky.thread_view import parse_thread
from domain.records import Batch
from storage.queries.threads import stored_reply_counts

if TYPE_CHECKING:
    from collectors.base import CollectorContext
    from collectors.bluesky.client import BlueskyClient
    from domain.settings.bluesky import BlueskySettings


class ThreadReader(Protocol):
    """What reading threads needs of the collector (`BlueskyCollector` is one): a protocol, so
    this module does not import the collector that imports it."""

    context: CollectorContext
    settings: BlueskySettings
    client: BlueskyClient


NSID = "app.bsky.feed.getPostThread"


def grown(collector: ThreadReader, posts: list[ParsedPost]) -> list[str]:
    """URIs of `posts` whose reply count is above the stored one (unknown counts as 0)."""
    with_replies = [p for p in posts if p.mention.reply_count > 0]
    if not with_replies or collector.context.engine is None:
        return []
    with collector.context.engine.connect() as conn:
        stored = stored_reply_counts(conn, PLATFORM, [p.mention.native_id for p in with_replies])
    return [
        p.mention.native_id
        for p in with_replies
        if p.mention.reply_count > stored.get(p.mention.native_id, 0)
    ]


def add_thread_replies(
    collector: ThreadReader, batch: Batch, anchors: list[str], seen: set[str]
) -> None:
    """Read the threads of `anchors` into `batch` (see the module)."""
    for uri in anchors:
        read_thread(collector, batch, uri, seen)


def read_thread(collector: ThreadReader, batch: Batch, anchor: str, seen: set[str]) -> None:
    s = collector.settings
    queue = [anchor]
    asked: set[str] = set()
    while queue and len(asked) < s.max_edge_pages:
        uri = queue.pop(0)
        if uri in asked:
            continue
        asked.add(uri)
        params = models.AppBskyFeedGetPostThread.Params(
            uri=uri, depth=s.thread_depth, parent_height=0
        )
        try:
            payload: Any = collector.client.query(NSID, params, what=f"getPostThread {uri}")
        except FatalSourceError as exc:
            if exc.status != "fatal":
                raise  # e.g. our credentials: the source's problem, not this thread's
            # The post is gone (NotFound) or the service refuses it: nothing to read.
            batch.skip("thread_unavailable", f"{uri}: {exc}"[:300])
            continue
        view = parse_thread(payload, uri)
        batch.skipped.extend(view.skipped)
        batch.fetched += len(view.posts)
        for p in view.posts:
            if p.mention.native_id in seen:
                continue  # one row per key in a poll's batches (e.g. found by search)
            seen.add(p.mention.native_id)
            p.mention.thread_of = (PLATFORM, anchor)
            batch.mentions.append(p.mention)
            batch.edges.extend(p.edges)
        queue.extend(u for u in view.deeper if u not in asked)
    if queue:
        batch.skip("thread_truncated", f"{anchor}: {len(queue)} branches left after {len(asked)}")
