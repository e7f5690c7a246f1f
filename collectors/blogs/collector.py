"""The blog collector: feeds (conditional GET + feedparser) and polled pingbacks.

A feed poll is one request. With the stored ETag / Last-Modified the server answers 304 and
nothing is parsed or written (DESIGN.md section 7: "unchanged feed: one conditional request,
zero body bytes"). Servers that ignore validators and resend the same bytes are caught by the
body's hash in the cursor, so they cost a download but still no parsing. Everything of one feed
document is one batch, committed with its validators, hash and problems in one transaction.

Entries are matched by the write path; here they are only linked: an entry's outbound link to a
stored mention (another blog entry, a Mastodon status, a Bluesky post) becomes a `link` edge
from the entry's blog to that mention, `via` the entry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from collectors.base import FatalSourceError, SourceState
from collectors.blogs.feeds import parse_feed
from collectors.blogs.pingbacks import poll_pingbacks
from collectors.blogs.reading import BlogReader, moved_problem, typed
from collectors.blogs.site_pingbacks import poll_site_pingbacks
from domain.matching import match_post, normalise_url
from domain.records import (
    AccountRecord,
    Batch,
    EdgeRecord,
    MentionRecord,
)
from net.fetcher import (
    FetchError,
)
from storage.queries.blogs import (
    LinkedMention,
    LinkingMention,
    mentions_by_url,
    mentions_linking_to,
)

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)


class BlogCollector(BlogReader):
    """Polls `feed` sources and `pingbacks` sources (tracked posts)."""

    platform = "blog"

    def poll(self, source: SourceState) -> Iterator[Batch]:
        if source.kind == "feed":
            cursor = dict(source.cursor or {})
            for batch in self.poll_feed(source):
                cursor = batch.cursor if batch.cursor is not None else cursor
                yield batch
            if source.target.get("pingbacks"):
                yield from poll_site_pingbacks(self, source, cursor)
        elif source.kind == "pingbacks":
            yield from poll_pingbacks(self, source)
        else:
            raise FatalSourceError(f"{source.key}: unknown blog source kind {source.kind!r}")

    # -- feeds ----------------------------------------------------------------------------

    def poll_feed(self, source: SourceState) -> Iterator[Batch]:
        configured = str(source.target["url"])
        cursor = dict(source.cursor or {})
        # A feed that moved permanently (301/308) is polled where it went, so no poll pays the
        # redirect again; a temporary redirect (302/307) changes nothing (issue 16 item 3).
        url = str(cursor.get("moved_to") or configured)
        try:
            res = self.fetcher.get(
                url, etag=source.etag, last_modified=source.last_modified, accept=FEED_ACCEPT
            )
        except FetchError as exc:
            raise typed(exc, f"feed {url}") from None
        if res.moved_to and res.moved_to != url:
            cursor["moved_to"] = res.moved_to
            self.context.log.info("feed %s moved permanently to %s", url, res.moved_to)
        moved = moved_problem(configured, cursor)
        now = datetime.now(UTC)
        if res.not_modified:
            if cursor != (source.cursor or {}):  # it moved, and is unchanged there
                yield Batch(cursor=cursor, problems=moved)
            return  # unchanged: one request, no body, nothing parsed, nothing written
        digest = hashlib.sha256(res.content).hexdigest()
        if digest == cursor.get("sha256"):
            # same bytes again (server ignores validators): keep the new validators only
            yield Batch(
                cursor={**cursor, "checked_at": now.isoformat()},
                etag=res.headers.get("etag"),
                last_modified=res.headers.get("last-modified"),
                problems=moved or None,
            )
            return
        parsed = parse_feed(res.content, res.headers, feed_url=res.url, fetched_at=now)
        movement = source.target.get("movement")
        if movement:
            for entry in parsed.entries:
                entry.movements = (str(movement),)
        batch = Batch(
            mentions=parsed.entries,
            skipped=list(parsed.skipped),
            cursor={
                **cursor,
                "sha256": digest,
                "entries": len(parsed.entries),
                "format": parsed.version,
                "checked_at": now.isoformat(),
            },
            etag=res.headers.get("etag"),
            last_modified=res.headers.get("last-modified"),
            problems=([parsed.problem] if parsed.problem else []) + moved,
            fetched=len(parsed.entries) + len(parsed.skipped),
        )
        if parsed.problem:
            self.context.log.warning("feed %s: %s", url, parsed.problem)
        batch.edges = self.link_edges(parsed.entries)
        yield batch

    # -- link edges -----------------------------------------------------------------------

    def _stored(self, urls: Sequence[str]) -> dict[str, LinkedMention]:
        if self.context.engine is None or not urls:
            return {}
        with self.context.engine.connect() as conn:
            return mentions_by_url(conn, urls)

    def _matches(self, e: MentionRecord) -> bool:
        return bool(
            e.movements
            or match_post(
                self.context.rules,
                hashtags=e.hashtags,
                text=f"{e.title or ''}\n{e.text or ''}",
                links=e.links,
            )
        )

    def _linking_to(self, urls: Sequence[str]) -> list[LinkingMention]:
        if self.context.engine is None or not urls:
            return []
        with self.context.engine.connect() as conn:
            return mentions_linking_to(conn, urls)

    def link_edges(self, entries: Sequence[MentionRecord], kind: str = "link") -> list[EdgeRecord]:
        """`link` edges between mentions: from each matching entry's blog to the mentions its
        links point at (already stored, or in this same batch), and, the other way round, from
        stored blog entries that already link to an entry of this batch (they were read before
        this entry was stored, so they could not see it)."""
        stored_entries = [e for e in entries if e.author is not None and self._matches(e)]
        in_batch: dict[str, MentionRecord] = {}
        for e in entries:
            norm = normalise_url(e.url) if e.url else None
            if norm:
                in_batch[norm] = e
        linking = [e for e in stored_entries if e.links]
        stored = self._stored([u for e in linking for u in e.links])
        edges: list[EdgeRecord] = []
        for e in linking:
            assert e.author is not None
            for link in e.links:
                norm = normalise_url(link)
                if norm is None:
                    continue
                target: tuple[str, str] | None = None
                target_account: AccountRecord | None = None
                hit = stored.get(norm)
                if hit is not None:
                    target = (hit.platform, hit.native_id)
                    if hit.account:
                        target_account = AccountRecord(*hit.account)
                elif norm in in_batch:
                    other = in_batch[norm]
                    target, target_account = (other.platform, other.native_id), other.author
                if target is None or target == (e.platform, e.native_id):
                    continue
                edges.append(
                    EdgeRecord(
                        kind=kind,
                        platform=e.platform,
                        source=e.author,
                        target=target,
                        created_at=e.created_at,
                        via=(e.platform, e.native_id),
                        target_account=target_account,
                    )
                )
        by_url: dict[str, MentionRecord] = {}
        for e in stored_entries:
            norm = normalise_url(e.url) if e.url else None
            if norm:
                by_url[norm] = e
        for older in self._linking_to(list(by_url)):
            for norm in older.targets:
                found = by_url.get(norm)
                if found is None or (older.platform, older.native_id) == (
                    found.platform,
                    found.native_id,
                ):
                    continue
                edges.append(
                    EdgeRecord(
                        kind=kind,
                        platform=older.platform,
                        source=AccountRecord(*older.account),
                        target=(found.platform, found.native_id),
                        created_at=older.created_at,
                        via=(older.platform, older.native_id),
                        target_account=found.author,
                    )
                )
        return edges
