"""`app.bsky.feed.getPostThread` output -> the replies under the post asked for. Pure, no I/O.

A thread view is a tree: `thread` is a `#threadViewPost` (`post`, `replies`, `parent`), each
reply again a `#threadViewPost`, or a `#notFoundPost` / `#blockedPost` stub. The AppView cuts
the tree at the `depth` asked for by leaving `replies` out of the posts at the cut; those posts
(with a `replyCount`) are returned as `deeper`, to be asked for in turn. The post asked for
itself and its parents are not replies and are not returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from collectors.bluesky.parse import MalformedPost, ParsedPost, parse_post_view
from domain.records import Skip

# A hostile or broken reply cannot make us walk forever: at most this many nodes per reply.
MAX_NODES = 10_000
SEEN_ON = "bsky-thread"


@dataclass(slots=True)
class ThreadReplies:
    posts: list[ParsedPost] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    deeper: list[str] = field(default_factory=list)  # posts whose replies were cut off
    found: bool = True  # False: the post asked for is gone or blocked


def _is_view(node: Any) -> bool:
    return isinstance(node, dict) and isinstance(node.get("post"), dict)


def parse_thread(payload: Any, uri: str) -> ThreadReplies:
    """The replies (any depth) under `uri` in a getPostThread output."""
    out = ThreadReplies()
    thread = payload.get("thread") if isinstance(payload, dict) else None
    if not isinstance(thread, dict) or not _is_view(thread):
        # `#notFoundPost` / `#blockedPost`: deleted or hidden since we saw it; nothing to read.
        out.found = False
        if not (isinstance(thread, dict) and (thread.get("notFound") or thread.get("blocked"))):
            out.skipped.append(Skip("bad_thread", f"{uri}: no thread view"))
        return out
    stack: list[Any] = list(reversed(_replies(thread) or []))
    nodes = 0
    while stack:
        node = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            out.skipped.append(Skip("thread_too_large", f"{uri}: over {MAX_NODES} posts"))
            break
        if not _is_view(node):
            continue  # a deleted or blocked reply: nothing of it to store
        try:
            parsed = parse_post_view(node["post"], seen_on=SEEN_ON)
        except MalformedPost as exc:
            out.skipped.append(exc.as_skip())
            continue
        if parsed.mention.native_id == uri:
            continue  # a loop back to the post asked for
        out.posts.append(parsed)
        replies = _replies(node)
        if replies is None:
            if parsed.mention.reply_count > 0:
                out.deeper.append(parsed.mention.native_id)
        else:
            stack.extend(reversed(replies))
    return out


def _replies(node: dict[str, Any]) -> list[Any] | None:
    """The node's replies; None when the view left them out (the depth cut)."""
    replies = node.get("replies")
    return replies if isinstance(replies, list) else None
