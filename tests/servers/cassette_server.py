"""Replays whole VCR cassettes (recorded real HTTP traffic) in order on 127.0.0.1, for the
real clients: a poll that pages, asks with query parameters and follows `link` headers.
(`replay_server.py` serves hand-picked routes, one recorded reply per path.)

Mastodon.py's cassettes were recorded against real Mastodon 4.x servers: lower-case headers
(`x-ratelimit-remaining`, `link`), `/ap/users/<id>/statuses/<id>` URIs, the real instance
metadata. Our hand-written servers agree with our own assumptions; a cassette does not. The
cassette is read where it lies (`tests/recordings.py`), never copied into this repository.

A request is answered by the first recorded interaction with the same method and path whose
recorded query parameters it all carries (extra parameters such as `limit` are ignored; `1`,
`true` and `True` are one value); each recording is used once, then the last match repeats.
The recorded status, body and headers are sent as recorded, lower case and all, except that
the recorded origin in `link` headers points at this server (so a client can follow them) and
the body length and encoding headers are the ones of the body actually sent. A request with
paging ids (`max_id`, `since_id`, `min_id`) the recording did not carry gets the recorded list
narrowed to the ids a server would list (a recorded page asked again with `min_id` = its
newest id is empty, as on the real server). Anything not recorded is a 404
`{"error": "not recorded"}`, listed in `unmatched` for the test to check.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.recordings import Interaction, cassette

MASTODON_PY = "halcy/Mastodon.py"
_SKIPPED = {"content-length", "content-encoding", "transfer-encoding", "connection"}


def _truthy(value: str) -> str:
    return "true" if value.lower() in ("1", "true") else value


def _query(url: str) -> dict[str, list[str]]:
    return {k: [_truthy(v) for v in vs] for k, vs in parse_qs(urlsplit(url).query).items()}


@dataclass
class Entry:
    """A recorded interaction, indexed for matching."""

    method: str
    origin: str  # scheme://host of the recording, e.g. http://localhost:3000
    path: str
    query: dict[str, list[str]]
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    used: bool = False


@dataclass
class Replayed:
    method: str
    path: str
    query: dict[str, list[str]]
    status: int


def _entries(recorded: list[Interaction]) -> list[Entry]:
    out = []
    for it in recorded:
        parts = urlsplit(it.uri)
        out.append(
            Entry(
                method=it.method,
                origin=f"{parts.scheme}://{parts.netloc}",
                path=parts.path.rstrip("/") or "/",
                query=_query(it.uri),
                status=it.status,
                headers=list(it.headers.items()),
                body=it.body,
            )
        )
    return out


@dataclass
class CassetteServer:
    """One cassette (or several, in order) served on a free port of 127.0.0.1."""

    interactions: list[Entry]
    requests: list[Replayed] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    @classmethod
    def from_cassettes(
        cls, *names: str, repo: str = MASTODON_PY, origin: str | None = None
    ) -> CassetteServer:
        """`origin`: only what that server answered (a cassette may record two servers)."""
        interactions: list[Entry] = []
        for name in names:
            interactions.extend(_entries(cassette(repo, f"tests/cassettes/{name}.yaml")))
        if origin is not None:
            interactions = [it for it in interactions if it.origin == origin]
        return cls(interactions)

    def start(self) -> CassetteServer:
        server = self

        class Handler(_Handler):
            replay = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def recorded_json(self, method: str, path: str) -> Any:
        """The recorded body of the first interaction at `path` (for a test's expectations)."""
        for it in self.interactions:
            if it.method == method and it.path == path:
                return json.loads(it.body)
        raise KeyError(f"{method} {path} is not in the cassette")

    def answer(self, method: str, url: str) -> Entry | None:
        path = urlsplit(url).path.rstrip("/") or "/"
        query = _query(url)
        with self.lock:
            fits = [
                it
                for it in self.interactions
                if it.method == method
                and it.path == path
                and all(query.get(k) == v for k, v in it.query.items())
            ]
            # The most specific recording first (public?local=1 before plain public).
            fits.sort(key=lambda it: (it.used, -len(it.query)))
            if not fits:
                self.unmatched.append(f"{method} {url}")
                return None
            chosen = fits[0]
            chosen.used = True
            return chosen


def _paged(it: Entry, query: dict[str, list[str]]) -> bytes:
    """The recorded body, narrowed by paging ids the recording was not asked with."""
    asked = {k: query[k][0] for k in ("max_id", "since_id", "min_id") if k in query}
    asked = {k: v for k, v in asked.items() if k not in it.query and v.isdigit()}
    if not asked or it.status != 200:
        return it.body
    items = json.loads(it.body)
    if not isinstance(items, list):
        return it.body

    def keep(item: Any) -> bool:
        raw = item.get("id") if isinstance(item, dict) else None
        if not isinstance(raw, str) or not raw.isdigit():
            return True
        n = int(raw)
        if "max_id" in asked and n >= int(asked["max_id"]):
            return False
        low = asked.get("min_id") or asked.get("since_id")
        return low is None or n > int(low)

    return json.dumps([i for i in items if keep(i)]).encode()


class _Handler(BaseHTTPRequestHandler):
    replay: CassetteServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        if self.command in ("POST", "PUT", "PATCH"):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
        it = self.replay.answer(self.command, self.path)
        parts = urlsplit(self.path)
        if it is None:
            status, body = 404, b'{"error": "not recorded"}'
            headers = [("content-type", "application/json; charset=utf-8")]
        else:
            status, body = it.status, _paged(it, parse_qs(parts.query))
            headers = [
                (k, v.replace(it.origin, self.replay.base_url) if k.lower() == "link" else v)
                for k, v in it.headers
                if k.lower() not in _SKIPPED
            ]
        with self.replay.lock:
            self.replay.requests.append(
                Replayed(self.command, parts.path, parse_qs(parts.query), status)
            )
        # Only the recorded headers (its own `date` included: Mastodon.py reads the rate-limit
        # reset against it), none of http.server's.
        self.send_response_only(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = do_PUT = _serve


@contextmanager
def replaying(*cassettes: str, origin: str | None = None) -> Iterator[CassetteServer]:
    """A started replay server for Mastodon.py's `cassettes` (skips the test when absent)."""
    server = CassetteServer.from_cassettes(*cassettes, origin=origin).start()
    try:
        yield server
    finally:
        server.stop()
