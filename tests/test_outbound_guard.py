"""Every outbound connection goes through the guarded fetcher (`net.fetcher`), third-party
clients included: Mastodon.py's requests session and atproto's httpx client check the address
actually connected to, on every redirect hop, with no second resolution; and no module opens a
connection any other way (a static check of every shipped module that fails on a planted call).

"Internal" here is 127.0.0.2: loopback, but not the 127.0.0.1 that `allow_loopback` lets tests
reach, so a server there stands for the metadata service or an admin port on the network.
"""

from __future__ import annotations

import ast
import json
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from collectors.base import TransientError
from collectors.mastodon.client import InstanceClient
from groundswell.export.hydrate import hydrate
from groundswell.export.lookup import Lookups
from net.fetcher import (
    AddressRefused,
    FetchPolicy,
    address_refusal,
    guarded_socket,
    operator_policy,
)
from tests.bluesky_support import add_posts, bluesky_env
from tests.servers.lookup_server import LookupServer, bluesky_post, mastodon_status

LOOPBACK = FetchPolicy(allow_loopback=True, timeout_s=5)
SECRET = "INTERNAL-ONLY secret body"
ROOT = Path(__file__).resolve().parents[1]


class _Server:
    """A tiny HTTP server on `host`: either answers every lookup with the secret (the internal
    service) or redirects every path to `redirect_to` (a public host turned hostile)."""

    def __init__(self, host: str, *, port: int = 0, redirect_to: str | None = None) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.requests.append(self.path)
                if redirect_to:
                    self.send_response(302)
                    self.send_header("Location", redirect_to + self.path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                path = urlsplit(self.path).path
                if path.startswith("/api/v1/statuses/"):
                    body: Any = mastodon_status(outer.url, path.rsplit("/", 1)[1], "alice", SECRET)
                else:
                    uri = "at://did:plc:abc123/app.bsky.feed.post/3ksecret"
                    body = {"posts": [bluesky_post(uri, "alice.bsky.social", SECRET)]}
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def internal() -> Iterator[_Server]:
    server = _Server("127.0.0.2")
    yield server
    server.close()


@pytest.fixture
def redirector(internal: _Server) -> Iterator[_Server]:
    server = _Server("127.0.0.1", redirect_to=internal.url)
    yield server
    server.close()


def _ids(tmp_path: Path, *pairs: tuple[str, str]) -> Path:
    path = tmp_path / "ids.csv"
    path.write_text("platform,native_id\n" + "".join(f"{p},{n}\n" for p, n in pairs))
    return path


def test_a_mastodon_redirect_to_an_internal_address_is_refused_and_nothing_is_written(
    redirector, internal, tmp_path
):
    ids = _ids(tmp_path, ("mastodon", f"{redirector.url}/users/alice/statuses/111"))
    with Lookups(policy=LOOPBACK, bluesky_base_url=redirector.url) as lookups:
        report = hydrate(ids, tmp_path / "out.jsonl", lookups)
    assert internal.requests == []
    assert report.hydrated == 0 and report.errors == 1
    assert SECRET not in (tmp_path / "out.jsonl").read_text()


def test_a_bluesky_appview_redirect_to_an_internal_address_is_refused_and_nothing_is_written(
    redirector, internal, tmp_path
):
    ids = _ids(tmp_path, ("bluesky", "at://did:plc:abc123/app.bsky.feed.post/3ksecret"))
    with Lookups(policy=LOOPBACK, bluesky_base_url=redirector.url) as lookups:
        report = hydrate(ids, tmp_path / "out.jsonl", lookups)
    assert internal.requests == []
    assert report.hydrated == 0 and report.errors == 1
    assert SECRET not in (tmp_path / "out.jsonl").read_text()


def test_dns_that_answers_differently_the_second_time_cannot_reach_an_internal_address(
    monkeypatch, tmp_path
):
    with LookupServer() as public:
        port = int(public.url.rsplit(":", 1)[1])
        public.add_status("111", "alice", "Public post")
        inside = _Server("127.0.0.2", port=port)  # same port, the address DNS swaps in
        answers = iter(["127.0.0.1"])
        real = socket.getaddrinfo

        def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
            if host != "rebind.test":
                return real(host, *args, **kwargs)
            ip = next(answers, "127.0.0.2")  # public first, internal ever after
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, args[0]))]

        monkeypatch.setattr(socket, "getaddrinfo", rebinding)
        try:
            ids = _ids(
                tmp_path, ("mastodon", f"http://rebind.test:{port}/users/alice/statuses/111")
            )
            with Lookups(policy=LOOPBACK) as lookups:
                hydrate(ids, tmp_path / "out.jsonl", lookups)
        finally:
            inside.close()
    assert inside.requests == []
    assert SECRET not in (tmp_path / "out.jsonl").read_text()


def test_the_mastodon_collector_refuses_a_redirect_from_its_instance_to_an_internal_address(
    redirector, internal
):
    client = InstanceClient(redirector.url, None, sleep=lambda s: None)
    with pytest.raises(TransientError, match="SSRF guard"):
        client.status("111")
    assert internal.requests == []


def test_the_configured_instance_address_is_allowed_and_no_other_internal_one():
    policy = operator_policy("http://127.0.0.1:8080")
    assert policy.allow_networks == ("127.0.0.1",)
    with pytest.raises(AddressRefused, match=r"127\.0\.0\.2"):
        guarded_socket("wss://127.0.0.2:6008/subscribe", policy, timeout=1)


def test_allowing_loopback_means_127_0_0_1_and_not_the_rest_of_127_8():
    assert address_refusal("127.0.0.1", LOOPBACK) is None
    assert address_refusal("::1", LOOPBACK) is None
    assert address_refusal("127.0.0.53", LOOPBACK) == "a loopback address"  # resolver stub


# -- no module opens a connection any other way ------------------------------------------------

_recording: list[tuple[object, bool]] | None = None


def _audit(event: str, args: tuple[object, ...]) -> None:
    """Python's audit event for every socket connect: note whether net.py is on the stack."""
    if _recording is None or event != "socket.connect":
        return
    frame = sys._getframe(1)
    through_guard = False
    while frame is not None:
        if frame.f_code.co_filename.endswith(GUARD_MODULE):
            through_guard = True
            break
        frame = frame.f_back
    _recording.append((args[1], through_guard))


_hook_installed = False


@pytest.fixture
def connects() -> Iterator[list[tuple[object, bool]]]:
    """Every socket connect made during the test, and whether it came through net.py (an audit
    hook cannot be removed, so it is installed once and does nothing outside this fixture)."""
    global _recording, _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)
        _hook_installed = True
    _recording = []
    try:
        yield _recording
    finally:
        _recording = None


def test_at_run_time_every_client_connects_only_through_the_guard(connects, tmp_path):
    with LookupServer() as platform:
        alive = platform.add_status("111", "alice", "Pledged today")
        post = platform.add_post("3kalive", "bob.bsky.social", "Bluesky pledge")
        ids = _ids(tmp_path, ("mastodon", alive), ("bluesky", post), ("blog", platform.url + "/"))
        with Lookups(policy=LOOPBACK, bluesky_base_url=platform.url) as lookups:
            hydrate(ids, tmp_path / "out.jsonl", lookups)
        InstanceClient(platform.url, None, sleep=lambda s: None).status("111")
    assert len(connects) >= 4, connects  # Mastodon.py, atproto, the fetcher, the collector
    assert [addr for addr, guarded in connects if not guarded] == []


def test_at_run_time_bluesky_search_and_jetstream_connect_only_through_the_guard(
    connects, sqlite_store, tmp_path, monkeypatch
):
    with bluesky_env(sqlite_store, tmp_path, monkeypatch) as env:
        add_posts(env.server, 3)
        env.configure(
            jetstream_url=env.server.jetstream_url,
            jetstream_rewind_s=0,
            jetstream_flush_s=0.3,
            jetstream_catchup_s=2,
        )
        outcomes = env.run()
        ws = len(env.server.ws_connections)
    assert sorted(o.outcome for o in outcomes) == ["ok", "ok"], [o.error for o in outcomes]
    assert ws >= 1 and len(connects) >= 2, connects  # the XRPC client and the websocket
    assert [addr for addr, guarded in connects if not guarded] == []


SHIPPED = ("groundswell", "collectors", "storage", "dashboard", "domain", "net")
GUARD_MODULE = "net/fetcher.py"
# Calls that open a connection (or a client that will) by themselves.
CONNECTING = {
    *(f"requests.{f}" for f in ("get", "post", "put", "patch", "delete", "head", "request")),
    "requests.Session",
    "requests.session",
    *(f"httpx.{f}" for f in ("get", "post", "put", "patch", "delete", "head", "request")),
    "httpx.stream",
    "httpx.Client",
    "httpx.AsyncClient",
    "httpx.HTTPTransport",
    "httpx.AsyncHTTPTransport",
    "httpcore.ConnectionPool",
    "httpcore.SyncBackend",
    "urllib3.PoolManager",
    "urllib3.HTTPConnectionPool",
    "urllib3.HTTPSConnectionPool",
    "urllib3.request",
    "urllib3.connection_from_url",
    "urllib.request.urlopen",
    "urllib.request.build_opener",
    "http.client.HTTPConnection",
    "http.client.HTTPSConnection",
    "socket.create_connection",
    "smtplib.SMTP",
    "smtplib.SMTP_SSL",
    "aiohttp.ClientSession",
    "atproto_client.request.Request",
    "atproto_client.request.AsyncRequest",
    # atproto pieces that build their own httpx clients or websockets, with no way to hand
    # them our transport: use them only after giving them one
    "atproto.IdResolver",
    "atproto.AsyncIdResolver",
    "atproto_identity.resolver.IdResolver",
    "atproto.FirehoseSubscribeReposClient",
    "atproto.AsyncFirehoseSubscribeReposClient",
    "atproto.FirehoseSubscribeLabelsClient",
}
# Third-party clients that are fine only when handed our transport through this keyword.
NEEDS_KEYWORD = {
    "mastodon.Mastodon": "session",
    "mastodon.Mastodon.create_app": "session",
    "atproto.Client": "request",
    "atproto.AsyncClient": "request",
    "atproto_client.Client": "request",
    "websockets.sync.client.connect": "sock",
    "websockets.connect": "sock",
}
# socket.socket is fine where it never connects (a port probe that binds).
ALLOWED = {("groundswell/commands/up.py", "socket.socket")}


def _qualified(node: ast.expr, names: dict[str, str]) -> str | None:
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _qualified(node.value, names)
        return f"{base}.{node.attr}" if base else None
    return None


def unguarded_calls(source: str, path: str = "<module>") -> list[str]:
    """Calls in `source` that would open a connection outside the guarded fetcher."""
    tree = ast.parse(source)
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _qualified(node.func, names)
        if not name or (path, name) in ALLOWED:
            continue
        keywords = {k.arg for k in node.keywords}
        if name in CONNECTING or name == "socket.socket":
            found.append(f"{path}:{node.lineno} {name}(...)")
        elif name in NEEDS_KEYWORD and NEEDS_KEYWORD[name] not in keywords:
            found.append(f"{path}:{node.lineno} {name}(...) without {NEEDS_KEYWORD[name]}=")
    return found


def test_the_static_check_catches_every_kind_of_unguarded_connection():
    planted = """
import requests, httpx, socket
from mastodon import Mastodon
from atproto import Client
from atproto_client.request import Request
from websockets.sync.client import connect
import urllib.request as ur
requests.Session()
httpx.get("http://x")
socket.create_connection(("x", 80))
Mastodon(api_base_url="http://x")
Client(base_url="http://x")
Request(timeout=3)
connect("wss://x")
ur.urlopen("http://x")
Mastodon(api_base_url="http://x", session=s)
"""
    found = unguarded_calls(planted)
    assert len(found) == 8, found
    assert not any(":16 " in f for f in found)  # a client handed our session passes


def test_no_module_opens_a_connection_except_through_the_guarded_fetcher():
    found = []
    for package in SHIPPED:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel != GUARD_MODULE:
                found += unguarded_calls(path.read_text(encoding="utf-8"), rel)
    assert found == [], "open connections through net.fetcher instead:\n" + "\n".join(found)
