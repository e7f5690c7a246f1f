"""A local server answering single-post lookups the way Mastodon and the Bluesky AppView do.

    GET /api/v1/statuses/:id                 Mastodon Status entity (docs.joinmastodon.org
                                             /entities/Status); 404 {"error":"Record not
                                             found"} once deleted, 410 if gone, 500 on demand
    GET /xrpc/app.bsky.feed.getPosts?uris=.. {"posts": [PostView...]} (docs.bsky.app
                                             app.bsky.feed.getPosts): deleted posts are simply
                                             missing from the answer, as on the real AppView

Used by the export area's `hydrate` and `recheck` tests, with the real Mastodon.py and atproto
clients pointed at it. Every request is logged in `requests`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


def mastodon_status(
    base: str,
    status_id: str,
    username: str,
    text: str,
    *,
    noindex: bool = False,
    discoverable: bool | None = True,
    indexable: bool = True,
) -> dict[str, Any]:
    host = urlsplit(base).netloc
    return {
        "id": status_id,
        "created_at": "2026-11-02T09:00:00.000Z",
        "edited_at": None,
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "uri": f"{base}/users/{username}/statuses/{status_id}",
        "url": f"{base}/@{username}/{status_id}",
        "replies_count": 1,
        "reblogs_count": 4,
        "favourites_count": 9,
        "favourited": False,
        "reblogged": False,
        "muted": False,
        "bookmarked": False,
        "content": f'<p>{text} <a href="{base}/tags/NHSCitizen" class="mention hashtag" '
        'rel="tag">#<span>NHSCitizen</span></a></p>',
        "filtered": [],
        "reblog": None,
        "application": {"name": "Web", "website": None},
        "account": {
            "id": "109302000000000001",
            "username": username,
            "acct": username,
            "display_name": username.title(),
            "locked": False,
            "bot": False,
            "discoverable": discoverable,
            "indexable": indexable,
            "group": False,
            "created_at": "2022-11-04T00:00:00.000Z",
            "note": "<p>NHS volunteer</p>",
            "url": f"{base}/@{username}",
            "uri": f"{base}/users/{username}",
            "avatar": f"{base}/avatars/original/missing.png",
            "avatar_static": f"{base}/avatars/original/missing.png",
            "header": f"{base}/headers/original/missing.png",
            "header_static": f"{base}/headers/original/missing.png",
            "followers_count": 120,
            "following_count": 80,
            "statuses_count": 400,
            "last_status_at": "2026-11-02",
            "hide_collections": None,
            "noindex": noindex,
            "emojis": [],
            "roles": [],
            "fields": [],
        },
        "media_attachments": [],
        "mentions": [],
        "tags": [{"name": "nhscitizen", "url": f"{base}/tags/nhscitizen"}],
        "emojis": [],
        "card": None,
        "poll": None,
        "_host": host,
    }


def bluesky_post(uri: str, handle: str, text: str, *, opted_out: bool = False) -> dict[str, Any]:
    did = uri.split("/")[2]
    labels = (
        [
            {
                "src": did,
                "uri": f"at://{did}/app.bsky.actor.profile/self",
                "cid": "bafyreihy3xqn3zqqsnrzm3xxc6utvpcjn7qpbwafrmmfnxxkjswk4onhvm",
                "val": "!no-unauthenticated",
                "cts": "2024-01-04T11:50:34.000Z",
            }
        ]
        if opted_out
        else []
    )
    return {
        "uri": uri,
        "cid": "bafyreig2fjxi3rptqdgylg7e5hmjl6mcke7rn2b6cugzlqq3i4zu6rq52q",
        "author": {
            "did": did,
            "handle": handle,
            "displayName": handle.split(".")[0].title(),
            "viewer": {"muted": False, "blockedBy": False},
            "labels": labels,
            "createdAt": "2023-05-11T18:22:03.071Z",
        },
        "record": {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": "2026-11-02T09:00:00.000Z",
            "langs": ["en"],
        },
        "replyCount": 0,
        "repostCount": 2,
        "likeCount": 5,
        "quoteCount": 0,
        "indexedAt": "2026-11-02T09:00:01.000Z",
        "viewer": {"threadMuted": False, "embeddingDisabled": False},
        "labels": [],
    }


@dataclass
class LookupServer:
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> Status
    gone: set[str] = field(default_factory=set)
    failing: set[str] = field(default_factory=set)
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)  # at-uri -> PostView
    requests: list[str] = field(default_factory=list)

    def __enter__(self) -> LookupServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                server.requests.append(self.path)
                parts = urlsplit(self.path)
                if parts.path.startswith("/api/v1/statuses/"):
                    sid = parts.path.rsplit("/", 1)[1]
                    if sid in server.failing:
                        return self._json(500, {"error": "Internal server error"})
                    if sid in server.gone:
                        return self._json(410, {"error": "Gone"})
                    status = server.statuses.get(sid)
                    if status is None:
                        return self._json(404, {"error": "Record not found"})
                    return self._json(
                        200, {k: v for k, v in status.items() if not k.startswith("_")}
                    )
                if parts.path == "/xrpc/app.bsky.feed.getPosts":
                    uris = parse_qs(parts.query).get("uris", [])
                    if len(uris) > 25:
                        return self._json(
                            400, {"error": "InvalidRequest", "message": "uris must be <= 25"}
                        )
                    found = [server.posts[u] for u in uris if u in server.posts]
                    return self._json(200, {"posts": found})
                return self._json(404, {"error": "Not found"})

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def add_status(self, status_id: str, username: str, text: str, **kw: Any) -> str:
        """Add a status; returns its URI (the mention's native id)."""
        st = mastodon_status(self.url, status_id, username, text, **kw)
        self.statuses[status_id] = st
        return st["uri"]

    def status_uri(self, status_id: str, username: str = "ghost") -> str:
        return f"{self.url}/users/{username}/statuses/{status_id}"

    def add_post(
        self,
        rkey: str,
        handle: str,
        text: str,
        *,
        did: str = "did:plc:abc123",
        opted_out: bool = False,
    ) -> str:
        uri = f"at://{did}/app.bsky.feed.post/{rkey}"
        self.posts[uri] = bluesky_post(uri, handle, text, opted_out=opted_out)
        return uri
