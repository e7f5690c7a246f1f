"""A local Bluesky on 127.0.0.1: XRPC (PDS + AppView) over HTTP and Jetstream over a websocket.

Written from the lexicons (`com.atproto.server.*`, `app.bsky.feed.searchPosts`,
`app.bsky.feed.defs#postView`, `getRepostedBy`, `getQuotes`, `getPosts`) and the Jetstream
README, so the real `atproto` client and our websocket reader talk to it unchanged:

    POST /xrpc/com.atproto.server.createSession    {identifier, password} -> JWTs
    POST /xrpc/com.atproto.server.refreshSession   Bearer <refreshJwt> -> new JWTs
    GET  /xrpc/com.atproto.server.getSession       Bearer <accessJwt>
    GET  /xrpc/app.bsky.feed.searchPosts           q, tag*, since, until, cursor, limit, sort
    GET  /xrpc/app.bsky.feed.getRepostedBy         uri, cid, cursor, limit
    GET  /xrpc/app.bsky.feed.getQuotes             uri, cid, cursor, limit
    GET  /xrpc/app.bsky.feed.getPosts              uris*
    GET  /xrpc/app.bsky.feed.getPostThread         uri, depth (default 6), parentHeight (80)
    WS   /subscribe                                wantedCollections*, cursor (unix µs)

Errors are XRPC error bodies `{"error", "message"}` with the statuses the PDS uses (400
InvalidRequest / ExpiredToken / InvalidToken, 401 AuthMissing / AuthenticationRequired, 429
RateLimitExceeded); every reply carries `ratelimit-limit/-remaining/-reset/-policy` headers.
Search stops at `result_cap` results per query, like the real service's ~10,000.

Misbehaviour on demand (`fail_next`): 429 with a reset time, 500, 502, a timeout (the reply
comes after the client gave up), truncated JSON, an expired access token. `drop_stream_after`
cuts the next websocket connection after n events. Every call is counted (`calls`) and logged
(`log`) so tests can count logins and requests.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import secrets
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.sync.server import ServerConnection, serve

PDS_DID = "did:web:pds.test"
TAG_RE = re.compile(r"(?<![\w&])#([^\W_][\w]*)", re.UNICODE)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _parse_time(value: str) -> datetime:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError("datetime without a zone")
    return dt.astimezone(UTC)


def _b64(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def make_jwt(did: str, *, scope: str, ttl_s: float) -> str:
    now = int(time.time())
    header = {"typ": "at+jwt" if scope != "com.atproto.refresh" else "refresh+jwt", "alg": "ES256K"}
    payload = {"scope": scope, "sub": did, "aud": PDS_DID, "iat": now, "exp": int(now + ttl_s)}
    if scope == "com.atproto.refresh":
        payload["jti"] = secrets.token_urlsafe(16)
    return f"{_b64(header)}.{_b64(payload)}.{secrets.token_urlsafe(32)}"


def profile(did: str, handle: str, name: str | None = None, *, opt_out: bool = False) -> dict:
    """`app.bsky.actor.defs#profileViewBasic`."""
    labels = []
    if opt_out:
        labels.append(
            {
                "src": did,
                "uri": f"at://{did}/app.bsky.actor.profile/self",
                "cid": "bafyreihy3xqn3zqqsnrzm3xxc6utvpcjn7qpbwafrmmfnxxkjswk4onhvm",
                "val": "!no-unauthenticated",
                "cts": "2024-01-04T11:50:34.000Z",
            }
        )
    return {
        "did": did,
        "handle": handle,
        "displayName": name or handle.split(".")[0].title(),
        "avatar": f"https://cdn.bsky.app/img/avatar/plain/{did}/bafkreihfmhyoqyn7d5mw7bqjw2ew3bxwgcvq3zp7s3mzh3kcyoqxu5ik5e@jpeg",
        "viewer": {"muted": False, "blockedBy": False},
        "labels": labels,
        "createdAt": "2023-05-11T18:22:03.071Z",
    }


def tag_facets(text: str) -> list[dict[str, Any]]:
    """Tag facets for the #hashtags in `text`, with UTF-8 byte offsets as the app writes them."""
    out = []
    for m in TAG_RE.finditer(text):
        start = len(text[: m.start()].encode())
        end = start + len(m.group(0).encode())
        out.append(
            {
                "index": {"byteStart": start, "byteEnd": end},
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": m.group(1)}],
            }
        )
    return out


@dataclass
class StoredPost:
    view: dict[str, Any]
    sort_at: datetime
    tags: set[str]
    text: str


@dataclass
class Fault:
    nsid: str
    kind: str  # 429 | 500 | 502 | timeout | truncated | expired | bad_request
    reset_in: int = 2
    delay_s: float = 2.0
    after: int = 0  # let this many matching calls through first


@dataclass
class Call:
    nsid: str
    params: dict[str, list[str]]
    status: int = 200


@dataclass
class BlueskyServer:
    """Start with `with BlueskyServer() as bsky:`; `bsky.base_url`, `bsky.jetstream_url`."""

    result_cap: int = 10_000
    refuse_deep_cursor: bool = False  # past the cap: 400 on the next page instead of no cursor
    loose_hits_total: bool = False  # hitsTotal counts every post, ignoring the filters
    ignore_until: bool = False  # searchPosts ignores `until`, as a misbehaving AppView did
    # The websocket greets with these messages and stays open, like an endpoint that is not
    # Jetstream (an echo server, another service's stream): None serves Jetstream.
    impostor: list[str] | None = None
    repeat_cursor: bool = False  # searchPosts hands back the cursor it was given
    rate_limit: int = 3000  # app.bsky.* requests per window, like the AppView's budget
    rate_window_s: int = 300
    access_ttl_s: float = 2 * 3600
    refresh_ttl_s: float = 90 * 86400
    accounts: dict[str, tuple[str, str]] = field(default_factory=dict)  # handle -> (did, password)
    posts: dict[str, StoredPost] = field(default_factory=dict)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)  # did -> current profile
    reposted_by: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    quotes: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    # uri -> a getPostThread output served as-is (recorded views, bad input)
    thread_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    log: list[Call] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    ws_connections: list[dict[str, Any]] = field(default_factory=list)
    tls: Any = None  # an ssl.SSLContext: serve XRPC over HTTPS (tests/test_https.py)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._new_event = threading.Condition(self._lock)
        self._access: dict[str, str] = {}  # token -> did
        self._refresh: dict[str, str] = {}
        self._expired: set[str] = set()
        self._drop_after: int | None = None
        self._generation = 0
        self._window_reset = 0.0
        self._window_used = 0
        self._http: ThreadingHTTPServer | None = None
        self._ws: Any = None
        self._threads: list[threading.Thread] = []
        self._closing = threading.Event()

    # -- set-up ---------------------------------------------------------------------------

    def add_account(self, handle: str, password: str, did: str | None = None) -> str:
        did = did or f"did:plc:{secrets.token_hex(12)}"
        self.accounts[handle] = (did, password)
        return did

    def add_post(
        self,
        author: dict[str, Any],
        text: str,
        created_at: datetime,
        *,
        rkey: str | None = None,
        indexed_at: datetime | None = None,
        tags: list[str] | None = None,
        reply_to: str | None = None,
        quote_of: str | None = None,
        counts: tuple[int, int, int, int] = (0, 0, 0, 0),
        view: dict[str, Any] | None = None,
    ) -> str:
        """A post as the AppView would show it (a lexicon `postView`); returns its URI."""
        rkey = rkey or f"3l{secrets.token_hex(6)}"
        uri = f"at://{author['did']}/app.bsky.feed.post/{rkey}"
        indexed_at = indexed_at or created_at + timedelta(milliseconds=700)
        record: dict[str, Any] = {
            "$type": "app.bsky.feed.post",
            "text": text,
            "langs": ["en"],
            "createdAt": iso(created_at),
            "facets": tag_facets(text),
        }
        if tags:
            record["tags"] = tags
        if reply_to:
            ref = {
                "uri": reply_to,
                "cid": "bafyreig2fjxi3rptqdgylg7e5hmjl6mcke7rn2b6cugzlqq3i4zu6rq52q",
            }
            parent = self.posts.get(reply_to)
            parent_reply = parent.view["record"].get("reply") if parent else None
            root = parent_reply["root"] if isinstance(parent_reply, dict) else ref
            record["reply"] = {"root": root, "parent": ref}
            if parent is not None and view is None:  # the AppView counts direct replies
                parent.view["replyCount"] = int(parent.view.get("replyCount") or 0) + 1
        if view is None:
            view = {
                "uri": uri,
                "cid": "bafyrei" + secrets.token_hex(26),
                "author": author,
                "record": record,
                "replyCount": counts[0],
                "repostCount": counts[1],
                "likeCount": counts[2],
                "quoteCount": counts[3],
                "indexedAt": iso(indexed_at),
                "viewer": {"threadMuted": False, "embeddingDisabled": False},
                "labels": [],
            }
            if quote_of:
                record["embed"] = {
                    "$type": "app.bsky.embed.record",
                    "record": {"uri": quote_of, "cid": "bafyreiquoted"},
                }
                quoted = self.posts.get(quote_of)
                view["embed"] = {
                    "$type": "app.bsky.embed.record#view",
                    "record": (
                        {
                            "$type": "app.bsky.embed.record#viewRecord",
                            "uri": quote_of,
                            "cid": quoted.view["cid"],
                            "author": quoted.view["author"],
                            "value": quoted.view["record"],
                            "indexedAt": quoted.view["indexedAt"],
                        }
                        if quoted
                        else {
                            "$type": "app.bsky.embed.record#viewNotFound",
                            "uri": quote_of,
                            "notFound": True,
                        }
                    ),
                }
                self.quotes[quote_of].append(uri)
        if isinstance(author.get("did"), str):
            self.profiles[author["did"]] = author
        sort_at = min(created_at, indexed_at)
        all_tags = {m.group(1).casefold() for m in TAG_RE.finditer(text)}
        all_tags |= {t.casefold() for t in tags or []}
        with self._lock:
            self.posts[uri] = StoredPost(view=view, sort_at=sort_at, tags=all_tags, text=text)
        return uri

    def hydrate(self, view: dict[str, Any]) -> dict[str, Any]:
        """Like the AppView, show every post with its author's *current* profile."""
        author = view.get("author")
        did = author.get("did") if isinstance(author, dict) else None
        if did in self.profiles:
            return {**view, "author": self.profiles[did]}
        return view

    def add_reposts(self, uri: str, reposters: list[dict[str, Any]]) -> None:
        with self._lock:
            self.reposted_by[uri].extend(reposters)
            self.posts[uri].view["repostCount"] = len(self.reposted_by[uri])

    def undo_repost(self, uri: str, did: str) -> None:
        """`did` undoes its repost of `uri`: gone from `getRepostedBy`, the count falls."""
        with self._lock:
            self.reposted_by[uri] = [p for p in self.reposted_by[uri] if p.get("did") != did]
            self.posts[uri].view["repostCount"] = len(self.reposted_by[uri])

    def sync_quote_count(self, uri: str) -> None:
        self.posts[uri].view["quoteCount"] = len(self.quotes[uri])

    def fail_next(self, nsid: str, kind: str, times: int = 1, **kw: Any) -> None:
        for _ in range(times):
            self.faults.append(Fault(nsid, kind, **kw))

    def expire_access_tokens(self) -> None:
        """The PDS now answers ExpiredToken for every access token issued so far."""
        with self._lock:
            self._expired.update(self._access)

    def publish(self, event: dict[str, Any]) -> None:
        """Append a Jetstream event (subscribers get it live or on replay)."""
        with self._new_event:
            self.events.append(event)
            self.events.sort(key=lambda e: e["time_us"])
            self._new_event.notify_all()

    def kick(self) -> None:
        """Cut every open websocket connection now (a network drop mid-stream)."""
        self._generation += 1

    def drop_stream_after(self, n: int) -> None:
        """The next websocket connection is cut abruptly after sending n events."""
        self._drop_after = n

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> BlueskyServer:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        server = self

        class Handler(_XrpcHandler):
            bsky = server

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        if self.tls is not None:
            self._http.socket = self.tls.wrap_socket(self._http.socket, server_side=True)
        self._ws = serve(self._ws_handler, "127.0.0.1", 0)
        for target in (self._http.serve_forever, self._ws.serve_forever):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._closing.set()
        with self._new_event:
            self._new_event.notify_all()
        if self._http:
            self._http.shutdown()
            self._http.server_close()
        if self._ws:
            self._ws.shutdown()
        for t in self._threads:
            t.join(timeout=5)

    @property
    def base_url(self) -> str:
        assert self._http is not None
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self._http.server_address[1]}"

    @property
    def jetstream_url(self) -> str:
        port = self._ws.socket.getsockname()[1]
        return f"ws://127.0.0.1:{port}/subscribe"

    # -- auth -----------------------------------------------------------------------------

    def _issue(self, did: str) -> dict[str, str]:
        access = make_jwt(did, scope="com.atproto.appPass", ttl_s=self.access_ttl_s)
        refresh = make_jwt(did, scope="com.atproto.refresh", ttl_s=self.refresh_ttl_s)
        self._access[access] = did
        self._refresh[refresh] = did
        return {"accessJwt": access, "refreshJwt": refresh}

    def _handle_for(self, did: str) -> str:
        return next(h for h, (d, _) in self.accounts.items() if d == did)

    # -- XRPC -----------------------------------------------------------------------------

    def xrpc(
        self, method: str, nsid: str, params: dict[str, list[str]], body: bytes, auth: str | None
    ) -> tuple[int, dict[str, Any]]:
        one = {k: v[-1] for k, v in params.items()}
        if nsid == "com.atproto.server.createSession" and method == "POST":
            try:
                data = json.loads(body or b"{}")
            except ValueError:
                return 400, {"error": "InvalidRequest", "message": "Request body is not JSON"}
            ident, password = data.get("identifier"), data.get("password")
            for handle, (did, pw) in self.accounts.items():
                if ident in (handle, did) and password == pw:
                    return 200, {
                        "did": did,
                        "handle": handle,
                        "email": f"{handle.split('.')[0]}@example.org",
                        "emailConfirmed": True,
                        "active": True,
                        **self._issue(did),
                    }
            return 401, {
                "error": "AuthenticationRequired",
                "message": "Invalid identifier or password",
            }
        if nsid == "com.atproto.server.refreshSession" and method == "POST":
            did = self._refresh.pop(auth or "", None)
            if did is None:
                return 400, {"error": "ExpiredToken", "message": "Token has been revoked"}
            return 200, {
                "did": did,
                "handle": self._handle_for(did),
                "active": True,
                **self._issue(did),
            }

        # Everything else needs a valid access token.
        if not auth:
            return 401, {"error": "AuthMissing", "message": "Authentication Required"}
        if auth in self._expired:
            return 400, {"error": "ExpiredToken", "message": "Token has expired"}
        did = self._access.get(auth)
        if did is None:
            return 400, {"error": "InvalidToken", "message": "Token could not be verified"}

        if nsid == "com.atproto.server.getSession":
            return 200, {"did": did, "handle": self._handle_for(did), "active": True}
        if nsid == "app.bsky.feed.searchPosts":
            return self._search(params, one)
        if nsid == "app.bsky.feed.getRepostedBy":
            uri = one.get("uri")
            if not uri:
                return 400, {
                    "error": "InvalidRequest",
                    "message": 'Error: Params must have the property "uri"',
                }
            return self._paged(uri, self.reposted_by.get(uri, []), one, "repostedBy", 50)
        if nsid == "app.bsky.feed.getQuotes":
            uri = one.get("uri")
            if not uri:
                return 400, {
                    "error": "InvalidRequest",
                    "message": 'Error: Params must have the property "uri"',
                }
            views = [
                self.hydrate(self.posts[u].view)
                for u in self.quotes.get(uri, [])
                if u in self.posts
            ]
            return self._paged(uri, views, one, "posts", 50)
        if nsid == "app.bsky.feed.getPosts":
            uris = params.get("uris", [])[:25]
            return 200, {
                "posts": [self.hydrate(self.posts[u].view) for u in uris if u in self.posts]
            }
        if nsid == "app.bsky.feed.getPostThread":
            return self._thread(one)
        return 501, {"error": "MethodNotImplemented", "message": f"Method Not Implemented: {nsid}"}

    def _thread(self, one: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """A `#threadViewPost` tree like the AppView's: replies oldest first down to `depth`
        levels (posts at the cut carry no `replies`), parents up to `parentHeight`."""
        uri = one.get("uri")
        if not uri:
            return 400, {
                "error": "InvalidRequest",
                "message": 'Params must have the property "uri"',
            }
        try:
            depth = int(one.get("depth", 6))
            height = int(one.get("parentHeight", 80))
        except ValueError:
            return 400, {"error": "InvalidRequest", "message": "depth must be an integer"}
        if not (0 <= depth <= 1000 and 0 <= height <= 1000):
            return 400, {"error": "InvalidRequest", "message": "depth must be 0..1000"}
        if uri in self.thread_overrides:
            return 200, self.thread_overrides[uri]
        if uri not in self.posts:
            return 400, {"error": "NotFound", "message": f"Post not found: {uri}"}
        children: dict[str, list[str]] = defaultdict(list)
        for u, p in sorted(self.posts.items(), key=lambda kv: kv[1].sort_at):
            reply = p.view.get("record", {}).get("reply")
            if isinstance(reply, dict) and isinstance(reply.get("parent"), dict):
                children[reply["parent"].get("uri")].append(u)

        def node(u: str, left: int) -> dict[str, Any]:
            out: dict[str, Any] = {
                "$type": "app.bsky.feed.defs#threadViewPost",
                "post": self.hydrate(self.posts[u].view),
            }
            if left > 0:
                out["replies"] = [node(c, left - 1) for c in children.get(u, [])]
            return out

        thread = node(uri, depth)
        cur, up = thread, self.posts[uri].view.get("record", {}).get("reply")
        for _ in range(height):
            parent_uri = up["parent"].get("uri") if isinstance(up, dict) else None
            if parent_uri not in self.posts:
                break
            cur["parent"] = {
                "$type": "app.bsky.feed.defs#threadViewPost",
                "post": self.hydrate(self.posts[parent_uri].view),
            }
            cur = cur["parent"]
            up = self.posts[parent_uri].view.get("record", {}).get("reply")
        return 200, {"thread": thread}

    def _limit(self, one: dict[str, str], default: int) -> int | None:
        try:
            limit = int(one.get("limit", default))
        except ValueError:
            return None
        return limit if 1 <= limit <= 100 else None

    def _paged(
        self, uri: str, items: list[Any], one: dict[str, str], key: str, default: int
    ) -> tuple[int, dict[str, Any]]:
        limit = self._limit(one, default)
        if limit is None:
            return 400, {"error": "InvalidRequest", "message": "limit must be 1..100"}
        offset = int(one["cursor"]) if one.get("cursor", "").isdigit() else 0
        page = items[offset : offset + limit]
        out: dict[str, Any] = {"uri": uri, key: page}
        if offset + limit < len(items):
            out["cursor"] = str(offset + limit)
        return 200, out

    def _search(
        self, params: dict[str, list[str]], one: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        q = one.get("q")
        if not q:
            return 400, {
                "error": "InvalidRequest",
                "message": 'Error: Params must have the property "q"',
            }
        limit = self._limit(one, 25)
        if limit is None:
            return 400, {"error": "InvalidRequest", "message": "limit must be 1..100"}
        try:
            since = _parse_time(one["since"]) if one.get("since") else None
            until = _parse_time(one["until"]) if one.get("until") else None
        except ValueError as exc:
            return 400, {"error": "InvalidRequest", "message": f"bad datetime: {exc}"}
        want_tags = {t.casefold().lstrip("#") for t in params.get("tag", [])}
        terms = q.split()
        with self._lock:
            hits = []
            for p in self.posts.values():
                if since and p.sort_at < since:
                    continue
                if until and p.sort_at >= until and not self.ignore_until:
                    continue
                if want_tags and not want_tags <= p.tags:
                    continue
                ok = True
                for term in terms:
                    if term == "*":
                        continue
                    if term.startswith("#"):
                        ok = ok and term[1:].casefold() in p.tags
                    else:
                        ok = ok and term.casefold() in p.text.casefold()
                if ok:
                    hits.append(p)
        hits.sort(key=lambda p: (p.sort_at, p.view["uri"]), reverse=True)
        capped = hits[: self.result_cap]
        offset = int(one["cursor"]) if one.get("cursor", "").isdigit() else 0
        if self.refuse_deep_cursor and offset >= self.result_cap:
            return 400, {"error": "InvalidRequest", "message": "cursor is past the result limit"}
        page = capped[offset : offset + limit]
        total = len(self.posts) if self.loose_hits_total else len(hits)
        out: dict[str, Any] = {"posts": [self.hydrate(p.view) for p in page], "hitsTotal": total}
        if offset + limit < len(capped) or (self.refuse_deep_cursor and offset + limit < len(hits)):
            nxt = str(offset + limit)
            out["cursor"] = (one.get("cursor") or "0") if self.repeat_cursor else nxt
        return 200, out

    def spend(self, nsid: str) -> tuple[int, int]:
        """One request against the window's budget: (remaining after it, reset epoch s).
        Remaining below zero means refused with 429."""
        now = time.time()
        if now >= self._window_reset:
            self._window_reset, self._window_used = now + self.rate_window_s, 0
        if nsid.startswith("app.bsky."):
            self._window_used += 1
        return self.rate_limit - self._window_used, int(self._window_reset)

    def reset_rate_window(self) -> None:
        self._window_reset = 0.0

    def take_fault(self, nsid: str) -> Fault | None:
        with self._lock:
            for f in list(self.faults):
                if f.nsid == nsid or f.nsid == "*":
                    if f.after > 0:
                        f.after -= 1
                        return None
                    self.faults.remove(f)
                    return f
        return None

    # -- Jetstream ------------------------------------------------------------------------

    def _ws_handler(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path).query)
        wanted = set(query.get("wantedCollections", []))
        cursor = int(query["cursor"][0]) if query.get("cursor", [""])[0].isdigit() else None
        self.ws_connections.append({"cursor": cursor, "wanted": sorted(wanted)})
        if self.impostor is not None:
            for message in self.impostor:
                ws.send(message)
            self._closing.wait(30)
            return
        drop_after, self._drop_after = self._drop_after, None
        generation = self._generation
        sent = 0
        # No cursor (or one from the future): live tail from now. Else replay from the cursor.
        with self._lock:
            if cursor is None:
                pos = len(self.events)
            else:
                pos = next(
                    (i for i, e in enumerate(self.events) if e["time_us"] >= cursor),
                    len(self.events),
                )
        while not self._closing.is_set():
            with self._new_event:
                while pos >= len(self.events) and not self._closing.is_set():
                    if generation != self._generation:
                        ws.close(code=1011, reason="upstream went away")
                        return
                    self._new_event.wait(0.2)
                    try:
                        ws.ping()
                    except Exception:
                        return
                if self._closing.is_set():
                    break
                if generation != self._generation:
                    ws.close(code=1011, reason="upstream went away")
                    return
                event = self.events[pos]
                pos += 1
            commit = event.get("commit")
            if wanted and isinstance(commit, dict) and commit.get("collection") not in wanted:
                continue
            if drop_after is not None and sent >= drop_after:
                ws.close(code=1011, reason="upstream went away")
                return
            try:
                ws.send(json.dumps(event))
            except Exception:
                return
            sent += 1
        ws.close()


class _XrpcHandler(BaseHTTPRequestHandler):
    bsky: BlueskyServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if not parts.path.startswith("/xrpc/"):
            self._send(404, {"error": "NotFound", "message": "not an XRPC path"})
            return
        nsid = parts.path[len("/xrpc/") :]
        params = parse_qs(parts.query)
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        bsky = self.bsky
        bsky.calls[nsid] += 1
        call = Call(nsid, params)
        bsky.log.append(call)
        fault = bsky.take_fault(nsid)
        if fault is not None:
            call.status = self._misbehave(fault, method, nsid, params, body, token)
            return
        with bsky._lock:
            remaining, reset = bsky.spend(nsid)
            if remaining < 0:
                call.status = 429
                self._send(
                    429,
                    {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                    remaining=0,
                    reset=reset,
                    limit=bsky.rate_limit,
                )
                return
            status, payload = bsky.xrpc(method, nsid, params, body, token)
        call.status = status
        self._send(status, payload, remaining=remaining, reset=reset, limit=bsky.rate_limit)

    def _misbehave(
        self, fault: Fault, method: str, nsid: str, params: dict, body: bytes, token: str | None
    ) -> int:
        if fault.kind == "429":
            reset = int(time.time()) + fault.reset_in
            self._send(
                429,
                {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                remaining=0,
                reset=reset,
            )
            return 429
        if fault.kind in ("500", "502"):
            code = int(fault.kind)
            self._send(code, {"error": "InternalServerError", "message": "Internal Server Error"})
            return code
        if fault.kind == "expired":
            self._send(400, {"error": "ExpiredToken", "message": "Token has expired"})
            return 400
        if fault.kind == "timeout":
            time.sleep(fault.delay_s)
        with self.bsky._lock:
            status, payload = self.bsky.xrpc(method, nsid, params, body, token)
        if fault.kind == "truncated":
            data = json.dumps(payload).encode()
            self._send_raw(status, data[: len(data) // 2], length=len(data) // 2)
            return status
        with contextlib.suppress(OSError):
            self._send(status, payload)
        return status

    def _send(
        self,
        status: int,
        payload: dict[str, Any],
        *,
        remaining: int = 2999,
        reset: int | None = None,
        limit: int = 3000,
    ) -> None:
        self._send_raw(
            status, json.dumps(payload).encode(), remaining=remaining, reset=reset, limit=limit
        )

    def _send_raw(
        self,
        status: int,
        data: bytes,
        *,
        length: int | None = None,
        remaining: int = 2999,
        reset: int | None = None,
        limit: int = 3000,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(length if length is not None else len(data)))
        self.send_header("ratelimit-limit", str(limit))
        self.send_header("ratelimit-remaining", str(remaining))
        self.send_header("ratelimit-reset", str(reset or int(time.time()) + 300))
        self.send_header("ratelimit-policy", f"{limit};w=300")
        self.end_headers()
        self.wfile.write(data)
