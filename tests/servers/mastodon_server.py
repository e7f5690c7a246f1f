"""A local Mastodon instance on 127.0.0.1 that speaks the real REST and streaming wire format.

Written from the official API documentation (docs.joinmastodon.org: methods/timelines,
methods/statuses, methods/instance, methods/streaming, entities Status/Account/Tag/Quote), so the
real Mastodon.py client can be pointed at it:

- `GET /api/v1/timelines/tag/:hashtag` with `max_id`, `since_id`, `min_id` (the page
  immediately after the id, newest first), `limit` (default 20, at most 40), `any[]`, and
  `Link: <...max_id=...>; rel="next", <...min_id=...>; rel="prev"` like Mastodon;
- `GET /api/v1/statuses/:id`, `GET /api/v1/statuses/:id/reblogged_by` (limit default 40, at
  most 80, paged by the reblogs' own ids through `Link`);
- `GET /api/v1/statuses/:id/context`: `{ancestors, descendants}`, descendants depth-first in
  id order, at most 60 for anonymous clients and 4,096 with a token (Mastodon's limits; no
  paging);
- `GET /api/v1/instance`, `GET /api/v2/instance` (with `configuration.timelines_access`);
- `GET /api/v1/timelines/public` (`local=true`), `GET /api/v2/search?q=<status uri>`;
- `GET /api/v1/streaming/hashtag?tag=` as server-sent events (`event: update`, `event: delete`,
  `:thump` heartbeats); it needs a token, as since Mastodon 4.2;
- `x-ratelimit-limit/remaining/reset` on every reply, fixed windows, 429 when exceeded.

Header names are sent in lower case, as real Mastodon (Rails behind nginx, HTTP/2) sends them
(`x-ratelimit-remaining`, `link`: see Mastodon.py's recorded cassettes);
`header_case="canonical"` sends `X-RateLimit-Remaining`, `Link` instead.

Several instances are several servers, each on its own port with its own local ids for the same
federated status (same `uri`, different `id`). Misbehaviour on demand: `fail_next(...)` queues
a 429 with reset, a 5xx, a slow reply (past the client's timeout), truncated JSON, a 401; an
instance can refuse anonymous timelines with 401 or with an empty list.
"""

from __future__ import annotations

import copy
import json
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


# -- entities (docs.joinmastodon.org/entities/...) ------------------------------------------------


def make_account(
    username: str,
    domain: str,
    *,
    display_name: str | None = None,
    discoverable: bool | None = True,
    indexable: bool | None = True,
    noindex: bool | None = False,
    bot: bool = False,
    account_id: str = "109348108123456789",
) -> dict[str, Any]:
    """An Account entity as its home instance `domain` serves it (`acct` is the bare username)."""
    acc: dict[str, Any] = {
        "id": account_id,
        "username": username,
        "acct": username,
        "display_name": display_name if display_name is not None else username.title(),
        "locked": False,
        "bot": bot,
        "discoverable": discoverable,
        "indexable": indexable,
        "group": False,
        "created_at": "2022-11-07T00:00:00.000Z",
        "note": f"<p>{username} on {domain}</p>",
        "url": f"https://{domain}/@{username}",
        "uri": f"https://{domain}/users/{username}",
        "avatar": f"https://{domain}/system/accounts/avatars/{username}.png",
        "avatar_static": f"https://{domain}/system/accounts/avatars/{username}.png",
        "header": f"https://{domain}/headers/original/missing.png",
        "header_static": f"https://{domain}/headers/original/missing.png",
        "followers_count": 120,
        "following_count": 80,
        "statuses_count": 400,
        "last_status_at": "2026-11-02",
        "hide_collections": False,
        "emojis": [],
        "fields": [],
    }
    if noindex is not None:
        acc["noindex"] = noindex
    return acc


def make_status(
    domain: str,
    username: str,
    n: int,
    *,
    text: str = "Pledged today",
    tags: tuple[str, ...] = ("NHSCitizen",),
    created_at: datetime | None = None,
    account: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A Status entity as its home instance serves it; `n` numbers the status on that instance."""
    created = created_at or T0 + timedelta(minutes=n)
    status_id = str(snowflake(created, n))
    tag_html = " ".join(
        f'<a href="https://{domain}/tags/{t.lower()}" class="mention hashtag" rel="tag">'
        f"#<span>{t}</span></a>"
        for t in tags
    )
    status: dict[str, Any] = {
        "id": status_id,
        "created_at": iso(created),
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "uri": f"https://{domain}/users/{username}/statuses/{status_id}",
        "url": f"https://{domain}/@{username}/{status_id}",
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "quotes_count": 0,
        "edited_at": None,
        "favourited": False,
        "reblogged": False,
        "muted": False,
        "bookmarked": False,
        "content": f"<p>{text} {tag_html}</p>",
        "filtered": [],
        "reblog": None,
        "application": {"name": "Web", "website": None},
        "account": account or make_account(username, domain),
        "media_attachments": [],
        "mentions": [],
        "tags": [{"name": t.lower(), "url": f"https://{domain}/tags/{t.lower()}"} for t in tags],
        "emojis": [],
        "quote": None,
        "card": None,
        "poll": None,
    }
    status.update(extra)
    return status


def snowflake(when: datetime, seq: int) -> int:
    """Mastodon's ids: milliseconds since the epoch in the high bits, a sequence in the low 16."""
    return (int(when.timestamp() * 1000) << 16) + (seq % 65536)


# -- the server -----------------------------------------------------------------------------------


@dataclass
class Fault:
    kind: str  # 429 | 500 | 502 | 503 | slow | truncated | 401 | html | drop
    path_prefix: str = "/api/v1/timelines"
    reset_in: float = 1.0
    delay: float = 2.0
    after: int = 0  # let this many matching requests through first


@dataclass
class LoggedRequest:
    at: float
    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    authorized: bool


@dataclass
class _Local:
    """A status as this instance knows it: its own id and its JSON."""

    id: int
    status: dict[str, Any]
    boosters: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


class MastodonServer:
    """One fake instance. Thread-safe; start() binds a free port on 127.0.0.1."""

    def __init__(
        self,
        domain: str,
        *,
        version: str = "4.4.3",
        seq_salt: int = 0,
        tokens: tuple[str, ...] = (),
        timelines_access: str = "public",  # public | authenticated (hashtag feeds)
        live_feeds: str = "public",  # public | authenticated | disabled (local/public timelines)
        anonymous_refusal: str = "401",  # 401 | empty
        rate_limit: int = 300,
        rate_window_s: float = 300.0,
        heartbeat_s: float = 0.2,
        tls: Any = None,  # an ssl.SSLContext: serve HTTPS (tests/test_https.py)
        header_case: str = "lower",  # lower (as real servers) | canonical
        rate_window_start: float | None = None,  # epoch of a window start; default: aligned
        rate_used: int = 0,  # requests already spent in the current window (others on the IP)
    ) -> None:
        self.domain = domain
        self.header_case = header_case
        self.version = version
        self.seq_salt = seq_salt
        self.tokens = set(tokens)
        self.timelines_access = timelines_access
        self.live_feeds = live_feeds
        self.anonymous_refusal = anonymous_refusal
        self.rate_limit = rate_limit
        self.rate_window_s = rate_window_s
        self.heartbeat_s = heartbeat_s
        self.ignore_paging_ids = False
        self.lock = threading.RLock()
        self.statuses: dict[int, _Local] = {}
        self.by_uri: dict[str, int] = {}
        self.faults: list[Fault] = []
        self.requests: list[LoggedRequest] = []
        self.rate_window_start = rate_window_start
        self._window: tuple[float, int] = (0.0, 0)
        self._pre_used = rate_used
        self.rate_used_before = rate_used
        self._seq = seq_salt
        self._reblog_seq = 0
        self._subscribers: list[tuple[str, queue.Queue[Any]]] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.tls = tls

    # -- lifecycle

    def start(self) -> MastodonServer:
        server = self

        class Handler(_Handler):
            instance = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        if self.tls is not None:
            self._httpd.socket = self.tls.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.drop_streams()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls is not None else 'http'}://127.0.0.1:{self.port}"

    # -- content

    def _next_id(self, created: datetime) -> int:
        self._seq += 1
        new = snowflake(created, self._seq)
        while new in self.statuses:
            self._seq += 1
            new = snowflake(created, self._seq)
        return new

    def _localise(self, status: dict[str, Any], origin: str) -> dict[str, Any]:
        """The JSON this instance serves for a status from `origin`: own id, absolute acct."""
        s = copy.deepcopy(status)
        if origin != self.domain:
            acc = s.get("account")
            if (
                isinstance(acc, dict)
                and isinstance(acc.get("acct"), str)
                and "@" not in acc["acct"]
            ):
                acc["acct"] = f"{acc['acct']}@{origin}"
        return s

    def carry(
        self, status: dict[str, Any], *, origin: str | None = None, stream: bool = True
    ) -> dict[str, Any]:
        """Make this instance know `status` (authored on `origin`, default: this instance).

        Returns the local JSON (with this instance's id). Carrying a uri twice updates it.
        """
        origin = origin or self.domain
        with self.lock:
            local = self._localise(status, origin)
            uri = local.get("uri")
            if isinstance(uri, str) and uri in self.by_uri:
                lid = self.by_uri[uri]
                local["id"] = str(lid)
                self.statuses[lid].status = local
                return local
            created = _created(local)
            lid = self._next_id(created)
            local["id"] = str(lid)
            self.statuses[lid] = _Local(lid, local)
            if isinstance(uri, str):
                self.by_uri[uri] = lid
            if stream:
                self._publish("update", local)
            return local

    def carry_raw(self, status: Any, *, local_id: int) -> None:
        """Serve a (possibly malformed) item as-is at `local_id` (bad-input tests)."""
        with self.lock:
            self.statuses[local_id] = _Local(local_id, status)

    def local_id(self, uri: str) -> str:
        with self.lock:
            return str(self.by_uri[uri])

    def status(self, uri: str) -> dict[str, Any]:
        with self.lock:
            return self.statuses[self.by_uri[uri]].status

    def boost(self, uri: str, booster: dict[str, Any], *, origin: str | None = None) -> None:
        """`booster` (an Account from `origin`) boosts the status; its count grows."""
        with self.lock:
            local = self.statuses[self.by_uri[uri]]
            acc = self._localise({"account": booster}, origin or self.domain)["account"]
            self._reblog_seq += 1
            local.boosters.append((self._reblog_seq, acc))
            local.status["reblogs_count"] = int(local.status.get("reblogs_count") or 0) + 1

    def unboost(self, uri: str, acct: str) -> None:
        """The account `acct` undoes its boost: gone from `reblogged_by`, the count falls."""
        with self.lock:
            local = self.statuses[self.by_uri[uri]]
            local.boosters = [(n, a) for n, a in local.boosters if a.get("acct") != acct]
            local.status["reblogs_count"] = len(local.boosters)

    def reply(
        self, parent_uri: str, status: dict[str, Any], *, origin: str | None = None
    ) -> dict[str, Any]:
        """Carry `status` as a reply to the status at `parent_uri` (linked by this instance's
        ids, like `in_reply_to_id`); the parent's `replies_count` grows."""
        with self.lock:
            parent = self.statuses[self.by_uri[parent_uri]].status
            linked = {
                **status,
                "in_reply_to_id": parent["id"],
                "in_reply_to_account_id": (parent.get("account") or {}).get("id"),
            }
            local = self.carry(linked, origin=origin, stream=False)
            parent["replies_count"] = int(parent.get("replies_count") or 0) + 1
            return local

    def edit(self, uri: str, text: str, *, edited_at: str = "2026-11-02T10:00:00.000Z") -> None:
        """The author edits the status: new content, `edited_at`, a `status.update` event."""
        with self.lock:
            local = self.statuses[self.by_uri[uri]].status
            tags = " ".join(f"#{n}" for n in sorted(_tag_names(local)))
            local["content"] = f"<p>{text} {tags}</p>"
            local["edited_at"] = edited_at
            self._publish("status.update", local)

    def delete(self, uri: str) -> None:
        with self.lock:
            lid = self.by_uri.pop(uri)
            self.statuses.pop(lid)
            self._publish("delete", str(lid))

    def announce_delete(self, uri: str) -> None:
        """Stream the `delete` event of a status while its pages still carry it: the race of
        a timeline page read just before the author deleted the status."""
        with self.lock:
            self._publish("delete", str(self.by_uri[uri]))

    def fail_next(self, kind: str, **kw: Any) -> None:
        with self.lock:
            self.faults.append(Fault(kind, **kw))

    # -- streaming

    def _publish(self, event: str, payload: Any) -> None:
        for tag, q in list(self._subscribers):
            if event == "delete" or tag in _tag_names(payload):
                q.put((event, payload))

    def drop_streams(self) -> None:
        """Close every open streaming connection (a network drop, a server restart)."""
        with self.lock:
            subs, self._subscribers = self._subscribers, []
        for _, q in subs:
            q.put(None)

    def stall_streams(self) -> None:
        """Keep every open stream connected but silent (no events, no heartbeats)."""
        with self.lock:
            subs = list(self._subscribers)
        for _, q in subs:
            q.put("stall")

    def stream_count(self) -> int:
        with self.lock:
            return len(self._subscribers)

    # -- rate limits

    def _rate(self) -> tuple[bool, int, float]:
        """Count one request; (allowed, remaining, reset epoch) for fixed windows."""
        now = time.time()
        origin = self.rate_window_start or 0.0
        start = now - ((now - origin) % self.rate_window_s)
        with self.lock:
            w_start, used = self._window
            if w_start != start:
                w_start, used = start, self._pre_used
                self._pre_used = 0
            used += 1
            self._window = (w_start, used)
        reset = start + self.rate_window_s
        return used <= self.rate_limit, max(0, self.rate_limit - used), reset

    def requests_to(self, prefix: str) -> list[LoggedRequest]:
        with self.lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def requests_per_window(self) -> list[int]:
        """Requests counted in each rate-limit window, oldest first (the first one includes
        `rate_used`, spent by others before)."""
        counts: dict[float, int] = {}
        origin = self.rate_window_start or 0.0
        with self.lock:
            for r in self.requests:
                if r.path.startswith("/api/v1/streaming"):
                    continue
                w = r.at - ((r.at - origin) % self.rate_window_s)
                counts[w] = counts.get(w, 0) + 1
        out = [counts[w] for w in sorted(counts)]
        if out:
            out[0] += self.rate_used_before
        return out

    def max_requests_per_window(self) -> int:
        return max(self.requests_per_window(), default=0)

    # -- queries

    def tag_timeline(
        self, names: set[str], params: dict[str, list[str]]
    ) -> tuple[list[dict[str, Any]], list[int]]:
        return self.timeline(lambda status: _tagged_raw(status, names), params)

    def timeline(
        self, wanted: Any, params: dict[str, list[str]]
    ) -> tuple[list[dict[str, Any]], list[int]]:
        """Statuses for which `wanted(status)` holds, paged like Mastodon (newest first)."""

        def one(name: str) -> int | None:
            v = params.get(name, [None])[0]
            return int(v) if v and v.isdigit() else None

        max_id, since_id, min_id = one("max_id"), one("since_id"), one("min_id")
        if self.ignore_paging_ids:  # a broken server: always the newest page
            max_id = since_id = min_id = None
        limit = min(40, max(1, int(params.get("limit", ["20"])[0] or 20)))
        with self.lock:
            ids = sorted(lid for lid, loc in self.statuses.items() if wanted(loc.status))
            if max_id is not None:
                ids = [i for i in ids if i < max_id]
            if since_id is not None:
                ids = [i for i in ids if i > since_id]
            ids = [i for i in ids if i > min_id][:limit] if min_id is not None else ids[-limit:]
            ids.reverse()
            return [self.statuses[i].status for i in ids], ids


def _created(status: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(status["created_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return T0


def _tag_names(status: Any) -> set[str]:
    if not isinstance(status, dict):
        return set()
    tags = status.get("tags")
    if not isinstance(tags, list):
        return set()
    return {
        t["name"].lower() for t in tags if isinstance(t, dict) and isinstance(t.get("name"), str)
    }


def _tagged_raw(status: Any, names: set[str]) -> bool:
    """Malformed items carried raw are listed when they mention a tag anywhere in their JSON."""
    if isinstance(status, dict) and _tag_names(status):
        return bool(names & _tag_names(status))
    blob = json.dumps(status).lower()
    return any(n in blob for n in names)


class _Handler(BaseHTTPRequestHandler):
    instance: MastodonServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- helpers

    def _authorized(self) -> bool:
        auth = self.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in self.instance.tokens

    def _log(self, status: int, path: str, query: dict[str, list[str]]) -> None:
        with self.instance.lock:
            self.instance.requests.append(
                LoggedRequest(time.time(), self.command, path, query, status, self._authorized())
            )

    def _send(
        self,
        status: int,
        body: Any,
        *,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str] | None = None,
        rate: tuple[bool, int, float] | None = None,
        raw: bytes | None = None,
    ) -> None:
        data = raw if raw is not None else json.dumps(body).encode("utf-8")
        out = {
            "Content-Type": "application/json; charset=utf-8",
            "Content-Length": str(len(data)),
        }
        if rate is not None:
            _, remaining, reset = rate
            out["X-RateLimit-Limit"] = str(self.instance.rate_limit)
            out["X-RateLimit-Remaining"] = str(remaining)
            out["X-RateLimit-Reset"] = datetime.fromtimestamp(reset, UTC).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ"
            )
        out.update(headers or {})
        # Logged before the response leaves: a test that reads the log as soon as its client
        # has the answer must find the request there (logged after, it raced the client).
        self._log(status, path, query)
        self.send_response(status)
        lower = self.instance.header_case == "lower"
        for k, v in out.items():
            self.send_header(k.lower() if lower else k, v)
        self.end_headers()
        self.wfile.write(data)

    def _fault(self, path: str) -> Fault | None:
        with self.instance.lock:
            for i, f in enumerate(self.instance.faults):
                if path.startswith(f.path_prefix):
                    if f.after > 0:
                        f.after -= 1
                        return None
                    return self.instance.faults.pop(i)
        return None

    # -- routing

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        query = parse_qs(parts.query)
        inst = self.instance
        if path.startswith("/api/v1/streaming"):
            self._stream(path, query)
            return
        rate = inst._rate()
        fault = self._fault(path)
        if fault is not None and self._apply_fault(fault, path, query, rate):
            return
        if not rate[0]:
            self._send(429, {"error": "Too many requests"}, path=path, query=query, rate=rate)
            return
        if path == "/api/v1/instance":
            self._send(200, self._instance_v1(), path=path, query=query, rate=rate)
        elif path == "/api/v2/instance":
            self._send(200, self._instance_v2(), path=path, query=query, rate=rate)
        elif path.startswith("/api/v1/timelines/tag/"):
            self._tag(path, query, rate)
        elif path == "/api/v1/timelines/public":
            self._public(path, query, rate)
        elif path == "/api/v2/search":
            self._search(path, query, rate)
        elif path.startswith("/api/v1/statuses/") and path.endswith("/reblogged_by"):
            self._reblogged_by(path, query, rate)
        elif path.startswith("/api/v1/statuses/") and path.endswith("/context"):
            self._context(path, query, rate)
        elif path.startswith("/api/v1/statuses/"):
            sid = path.rsplit("/", 1)[1]
            with inst.lock:
                loc = inst.statuses.get(int(sid)) if sid.isdigit() else None
            if loc is None:
                self._send(404, {"error": "Record not found"}, path=path, query=query, rate=rate)
            else:
                self._send(200, loc.status, path=path, query=query, rate=rate)
        else:
            self._send(404, {"error": "Not Found"}, path=path, query=query, rate=rate)

    def _apply_fault(
        self, fault: Fault, path: str, query: dict[str, list[str]], rate: tuple[bool, int, float]
    ) -> bool:
        if fault.kind == "429":
            reset = time.time() + fault.reset_in
            self._send(
                429, {"error": "Too many requests"}, path=path, query=query, rate=(False, 0, reset)
            )
            return True
        if fault.kind in ("500", "502", "503"):
            body = {"error": "We're sorry, but something went wrong on our end."}
            self._send(int(fault.kind), body, path=path, query=query, rate=rate)
            return True
        if fault.kind == "401":
            body = {"error": "The access token is invalid"}
            self._send(401, body, path=path, query=query, rate=rate)
            return True
        if fault.kind == "slow":
            time.sleep(fault.delay)
            return False  # then answer normally (the client has long given up)
        if fault.kind in ("truncated", "html"):
            raw = b'[{"id": "1", "uri": "https://' if fault.kind == "truncated" else b"<html>oops"
            self._send(200, None, path=path, query=query, rate=rate, raw=raw)
            return True
        raise AssertionError(f"unknown fault {fault.kind}")

    def _instance_v1(self) -> dict[str, Any]:
        inst = self.instance
        return {
            "uri": inst.domain,
            "title": f"{inst.domain} (test)",
            "short_description": "A local test instance",
            "description": "",
            "email": f"admin@{inst.domain}",
            "version": inst.version,
            "urls": {"streaming_api": f"ws://127.0.0.1:{inst.port}"},
            "stats": {"user_count": 10, "status_count": len(inst.statuses), "domain_count": 3},
            "thumbnail": None,
            "languages": ["en"],
            "registrations": False,
            "approval_required": False,
            "invites_enabled": False,
            "configuration": {"statuses": {"max_characters": 500}},
            "contact_account": None,
            "rules": [],
        }

    def _instance_v2(self) -> dict[str, Any]:
        inst = self.instance
        access = {"local": inst.timelines_access, "remote": inst.timelines_access}
        live = {"local": inst.live_feeds, "remote": inst.live_feeds}
        return {
            "domain": inst.domain,
            "title": f"{inst.domain} (test)",
            "version": inst.version,
            "source_url": "https://github.com/mastodon/mastodon",
            "description": "A local test instance",
            "usage": {"users": {"active_month": 10}},
            "thumbnail": {"url": f"https://{inst.domain}/thumb.png"},
            "languages": ["en"],
            "configuration": {
                "urls": {"streaming": f"ws://127.0.0.1:{inst.port}"},
                "accounts": {"max_featured_tags": 10},
                "statuses": {"max_characters": 500, "max_media_attachments": 4},
                "timelines_access": {
                    "live_feeds": live,
                    "hashtag_feeds": access,
                    "trending_link_feeds": access,
                },
            },
            "registrations": {"enabled": False, "approval_required": False, "message": None},
            "api_versions": {"mastodon": 6},
            "contact": {"email": f"admin@{inst.domain}", "account": None},
            "rules": [],
        }

    def _link(self, path: str, params: dict[str, str]) -> str:
        qs = "&".join(f"{k}={quote(v)}" for k, v in params.items())
        return f"<http://127.0.0.1:{self.instance.port}{path}?{qs}>"

    def _tag(self, path: str, query: dict[str, list[str]], rate: tuple[bool, int, float]) -> None:
        inst = self.instance
        if inst.timelines_access != "public" and not self._authorized():
            if inst.anonymous_refusal == "401":
                body = {"error": "This API requires an authenticated user"}
                self._send(401, body, path=path, query=query, rate=rate)
            else:
                self._send(200, [], path=path, query=query, rate=rate)
            return
        tag = path.rsplit("/", 1)[1].lower()
        names = {tag} | {t.lower() for t in query.get("any[]", [])}
        items, ids = inst.tag_timeline(names, query)
        headers = {}
        if ids:
            limit = query.get("limit", ["20"])[0]
            headers["Link"] = (
                self._link(path, {"limit": limit, "max_id": str(ids[-1])})
                + '; rel="next", '
                + self._link(path, {"limit": limit, "min_id": str(ids[0])})
                + '; rel="prev"'
            )
        self._send(200, items, path=path, query=query, rate=rate, headers=headers)

    def _search(
        self, path: str, query: dict[str, list[str]], rate: tuple[bool, int, float]
    ) -> None:
        """`/api/v2/search?q=<uri>&type=statuses`: the status this instance knows by that URI
        (`resolve=true` needs a token, as on Mastodon)."""
        inst = self.instance
        if query.get("resolve", [""])[0].lower() in ("1", "true") and not self._authorized():
            body = {"error": "Search queries that resolve remote resources are not supported"}
            self._send(401, body, path=path, query=query, rate=rate)
            return
        q = query.get("q", [""])[0]
        with inst.lock:
            lid = inst.by_uri.get(q)
            statuses = [inst.statuses[lid].status] if lid in inst.statuses else []
        body = {"accounts": [], "statuses": statuses, "hashtags": []}
        self._send(200, body, path=path, query=query, rate=rate)

    def _public(
        self, path: str, query: dict[str, list[str]], rate: tuple[bool, int, float]
    ) -> None:
        """`/api/v1/timelines/public` (`local=true`: this instance's own users only)."""
        inst = self.instance
        if inst.live_feeds == "disabled":
            self._send(200, [], path=path, query=query, rate=rate)  # what 4.4+ serves then
            return
        if inst.live_feeds != "public" and not self._authorized():
            body = {"error": "This API requires an authenticated user"}
            self._send(401, body, path=path, query=query, rate=rate)
            return
        local = query.get("local", [""])[0].lower() in ("1", "true")

        def wanted(status: Any) -> bool:
            acct = status.get("account", {}).get("acct") if isinstance(status, dict) else None
            return not local or (isinstance(acct, str) and "@" not in acct)

        items, ids = inst.timeline(wanted, query)
        headers = {}
        if ids:
            keep = {k: v[0] for k, v in query.items() if k in ("limit", "local")}
            headers["Link"] = (
                self._link(path, {**keep, "max_id": str(ids[-1])})
                + '; rel="next", '
                + self._link(path, {**keep, "min_id": str(ids[0])})
                + '; rel="prev"'
            )
        self._send(200, items, path=path, query=query, rate=rate, headers=headers)

    def _reblogged_by(
        self, path: str, query: dict[str, list[str]], rate: tuple[bool, int, float]
    ) -> None:
        inst = self.instance
        sid = path.split("/")[4]
        with inst.lock:
            loc = inst.statuses.get(int(sid)) if sid.isdigit() else None
            boosters = list(loc.boosters) if loc else None
        if boosters is None:
            self._send(404, {"error": "Record not found"}, path=path, query=query, rate=rate)
            return
        limit = min(80, max(1, int(query.get("limit", ["40"])[0] or 40)))
        max_id = query.get("max_id", [None])[0]
        rows = sorted(boosters, key=lambda b: b[0], reverse=True)
        if max_id and max_id.isdigit():
            rows = [b for b in rows if b[0] < int(max_id)]
        page = rows[:limit]
        links = []
        if len(page) == limit:  # Mastodon's records_continue?: a short page has no next
            links.append(
                self._link(path, {"limit": str(limit), "max_id": str(page[-1][0])}) + '; rel="next"'
            )
        if page:
            prev = self._link(path, {"limit": str(limit), "since_id": str(page[0][0])})
            links.append(prev + '; rel="prev"')
        headers = {"Link": ", ".join(links)} if links else {}
        body = [acc for _, acc in page]
        self._send(200, body, path=path, query=query, rate=rate, headers=headers)

    def _context(
        self, path: str, query: dict[str, list[str]], rate: tuple[bool, int, float]
    ) -> None:
        inst = self.instance
        sid = path.split("/")[4]
        limit = 4096 if self._authorized() else 60
        with inst.lock:
            loc = inst.statuses.get(int(sid)) if sid.isdigit() else None
            if loc is None:
                self._send(404, {"error": "Record not found"}, path=path, query=query, rate=rate)
                return
            children: dict[str, list[_Local]] = {}
            for other in sorted(inst.statuses.values(), key=lambda x: x.id):
                parent = (
                    other.status.get("in_reply_to_id") if isinstance(other.status, dict) else None
                )
                if parent is not None:
                    children.setdefault(str(parent), []).append(other)
            descendants: list[dict[str, Any]] = []
            stack = list(reversed(children.get(str(loc.id), [])))
            while stack and len(descendants) < limit:
                node = stack.pop()
                descendants.append(node.status)
                stack.extend(reversed(children.get(str(node.id), [])))
            ancestors: list[dict[str, Any]] = []
            up = loc.status.get("in_reply_to_id")
            while up is not None and str(up).isdigit() and int(up) in inst.statuses:
                ancestors.insert(0, inst.statuses[int(up)].status)
                up = inst.statuses[int(up)].status.get("in_reply_to_id")
            body = {"ancestors": ancestors, "descendants": descendants}
        self._send(200, body, path=path, query=query, rate=rate)

    def _stream(self, path: str, query: dict[str, list[str]]) -> None:
        inst = self.instance
        if path == "/api/v1/streaming/health":
            self._send(200, None, path=path, query=query, raw=b"OK")
            return
        if not self._authorized():
            body = {"error": "Error while trying to authenticate"}
            self._send(401, body, path=path, query=query)
            return
        if not path.startswith("/api/v1/streaming/hashtag"):
            self._send(404, {"error": "Unknown stream type"}, path=path, query=query)
            return
        tag = (query.get("tag", [""])[0]).lower()
        q: queue.Queue[Any] = queue.Queue()
        with inst.lock:
            inst._subscribers.append((tag, q))
        self._log(200, path, query)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            self.wfile.write(b":)\n")
            self.wfile.flush()
            while True:
                try:
                    item = q.get(timeout=inst.heartbeat_s)
                except queue.Empty:
                    self.wfile.write(b":thump\n")
                    self.wfile.flush()
                    continue
                if item is None:
                    break
                if item == "stall":  # hold the line open without a byte until the drop
                    while q.get() != None:  # noqa: E711
                        pass
                    break
                event, payload = item
                data = payload if isinstance(payload, str) else json.dumps(payload)
                self.wfile.write(f"event: {event}\ndata: {data}\n\n".encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            with inst.lock:
                inst._subscribers = [(t, s) for t, s in inst._subscribers if s is not q]


@contextmanager
def running(*servers: MastodonServer) -> Iterator[tuple[MastodonServer, ...]]:
    for s in servers:
        s.start()
    try:
        yield servers
    finally:
        for s in servers:
            s.stop()
