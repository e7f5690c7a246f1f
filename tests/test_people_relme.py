"""Blogs' rel=me pages (collectors/relme.py): read through the guarded fetcher from a real
local HTTP server, redirects followed on the same site, private addresses refused, robots.txt
respected, cached; a page linking a hundred profiles merges only the one that links back."""

from __future__ import annotations

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from sqlalchemy import select

from collectors.relme import check_pages
from domain.people import CLAIM, PROFILE_LINK, Claim
from domain.records import AccountRecord, Batch
from net.fetcher import Fetcher, FetchPolicy
from storage.engine import write_tx
from storage.models import Account
from storage.people_links import suggestions
from storage.write import write_batch
from tests.factories import T0, movement

A = Account.__table__
ROBOTS = b"User-agent: *\nDisallow: /private\n"
PROFILES = "".join(f'<a rel="me" href="https://m{i}.example/@u{i}">u{i}</a>' for i in range(99))
HOME = (
    f'<html><body><a rel="me" href="https://example.social/@nurse">me</a>{PROFILES}</body></html>'
)


class _Site(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, dict[str, str], bytes]]] = {}

    def do_GET(self) -> None:
        status, headers, body = self.routes.get(self.path, (404, {}, b"no"))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    port = server.server_address[1]
    base = f"http://127.0.0.1:{port}"
    _Site.routes = {
        "/robots.txt": (
            200,
            {"Content-Type": "text/plain"},
            b"User-agent: *\nDisallow: /private\n",
        ),
        "/old": (301, {"Location": "/"}, b""),
        "/": (200, {"Content-Type": "text/html"}, HOME.encode()),
        "/away": (302, {"Location": f"http://localhost:{port}/"}, b""),
        "/private/home": (200, {"Content-Type": "text/html"}, HOME.encode()),
        "/loop": (302, {"Location": "/loop-again"}, b""),
        "/loop-again": (302, {"Location": "/loop"}, b""),
    }
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield base
    server.shutdown()
    server.server_close()


def _seed(store, blog_url: str) -> None:
    rules = movement(store)
    nurse = AccountRecord(
        platform="mastodon",
        native_id="nurse@example.social",
        claims=[Claim("site:nurse.example.org", PROFILE_LINK, CLAIM, "https://nurse.example.org/")],
    )
    others = [AccountRecord(platform="mastodon", native_id=f"u{i}@m{i}.example") for i in range(5)]
    blog = AccountRecord(platform="blog", native_id="nurse.example.org", url=blog_url)
    with write_tx(store) as conn:
        write_batch(conn, Batch(accounts=[nurse, blog, *others]), rules, now=T0)


def _persons(store) -> dict[str, int]:
    with store.connect() as conn:
        return {n: int(p) for n, p in conn.execute(select(A.c.native_id, A.c.person_id))}


def _check(store, policy, **kw):
    with Fetcher(policy) as fetcher:
        return check_pages(store, fetcher, now=T0 + timedelta(hours=1), **kw)


LOOPBACK = FetchPolicy(allow_loopback=True)


def test_a_redirected_page_linking_a_hundred_profiles_merges_only_the_one_linking_back(store, site):
    _seed(store, f"{site}/old")
    before = _persons(store)
    assert before["nurse@example.social"] != before["nurse.example.org"]
    result = _check(store, LOOPBACK)
    assert result.statuses == {"ok": 1} and result.claims == 100
    got = _persons(store)
    assert got["nurse@example.social"] == got["nurse.example.org"]
    assert all(got[f"u{i}@m{i}.example"] == before[f"u{i}@m{i}.example"] for i in range(5))
    with store.connect() as conn:
        assert len(suggestions(conn)) == 5  # the one-way rel=me links, for a moderator
    # cached: nothing is due again before the re-check horizon
    assert _check(store, LOOPBACK).checked == 0


def test_a_page_on_a_private_address_is_refused(store, site):
    _seed(store, f"{site}/")
    result = _check(store, FetchPolicy())  # the default policy: loopback refused
    assert result.statuses == {"refused": 1} and result.claims == 0
    got = _persons(store)
    assert got["nurse@example.social"] != got["nurse.example.org"]


def test_a_page_that_redirects_to_another_site_claims_nothing(store, site):
    _seed(store, f"{site}/away")
    result = _check(store, LOOPBACK)
    assert result.statuses == {"off_site": 1} and result.claims == 0


def test_a_page_that_redirects_in_a_loop_fails_claims_nothing_and_is_tried_again_later(store, site):
    _seed(store, f"{site}/loop")
    result = _check(store, LOOPBACK)
    assert result.statuses == {"failed": 1} and result.claims == 0
    got = _persons(store)
    assert got["nurse@example.social"] != got["nurse.example.org"]
    assert _check(store, LOOPBACK).checked == 0  # not again before the retry (six hours)


def test_robots_txt_is_respected(store, site):
    _seed(store, f"{site}/private/home")
    result = _check(store, LOOPBACK)
    assert result.statuses == {"robots_disallowed": 1}
