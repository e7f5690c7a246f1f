"""The receiver against repeated, concurrent and hostile input, over real HTTP (uvicorn on
loopback, `xmlrpc.client` on the wire): re-sent pingbacks are verified again, the flood guard
holds under a concurrent burst, bad input gets 4xx (never 500), refusals say nothing about our
network, status URLs cannot be walked. Recorded real material: the pingback comments of
WordPress's theme-unit-test export and webmention.rocks' receiver test cases."""

from __future__ import annotations

import html
import re
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import update

from collectors.blogs.queue import VerifyWorker
from collectors.blogs.receiver import create_app
from storage.catalog import upsert_movement
from storage.engine import write_tx
from storage.models_blogs import ReceivedPing
from tests.blog_helpers import (
    NHS,
    RecordedPingback,
    count,
    rows,
    serve,
    wordpress_pingbacks,
)
from tests.recordings import recorded
from tests.servers.blog_server import BlogServer
from tests.test_blog_receiver import PLEDGE, receiver_settings

REFUSED = "refused: private or reserved address"


@pytest.fixture
def blog():
    with BlogServer("Patient Voices") as server:
        server.link_target = PLEDGE
        server.add_post("pledged", "Why I pledged", f'<p><a href="{PLEDGE}">pledge</a></p>')
        yield server


def _movement(engine) -> None:
    with write_tx(engine) as conn:
        upsert_movement(conn, NHS)


def _wordpress_source(blog: BlogServer, ping: RecordedPingback, *, links: bool) -> str:
    """Serve the source post of a recorded WordPress pingback on the local blog, linking to the
    pledge or not; returns its URL there."""
    path = urlsplit(ping.source).path
    link = f' <a href="{PLEDGE}">the pledge</a>' if links else ""
    page = (
        f"<!doctype html><html><head><title>{html.escape(ping.title)}</title></head>"
        f"<body><article><p>{html.escape(ping.excerpt)}{link}</p></article></body></html>"
    )
    blog.pages[path] = (200, {}, page.encode())
    return blog.url + path


def _checked_an_hour_ago(engine) -> None:
    """Age every queue row's last check by an hour (past the default re-verify interval)."""
    with write_tx(engine) as conn:
        table = ReceivedPing.__table__  # type: ignore[attr-defined]
        conn.execute(update(table).values(updated_at=datetime.now(UTC) - timedelta(hours=1)))


def _fault(call) -> xmlrpc.client.Fault:
    with pytest.raises(xmlrpc.client.Fault) as exc:
        call()
    return exc.value


# -- re-sent pingbacks (issue 16 item 5) --------------------------------------------------------


def test_a_resent_pingback_whose_link_is_gone_tombstones_the_mention_at_once(store, blog):
    ping = wordpress_pingbacks()[0]
    source = _wordpress_source(blog, ping, links=True)
    _movement(store)
    with serve(create_app(store, receiver_settings(), verify_in_background=False)) as url:
        proxy = xmlrpc.client.ServerProxy(url + "/xmlrpc")
        assert "registered" in proxy.pingback.ping(source, PLEDGE)
        [m] = rows(store, "SELECT title, deleted_at FROM mention")
        assert m.title == ping.title and m.deleted_at is None
        _checked_an_hour_ago(store)
        _wordpress_source(blog, ping, links=False)  # the author took the link out
        assert _fault(lambda: proxy.pingback.ping(source, PLEDGE)).faultCode == 0x11
    [m] = rows(store, "SELECT title, text, deleted_at FROM mention")
    assert m.deleted_at is not None and m.title is None and m.text is None


def test_a_resent_pingback_still_linked_is_fetched_again_and_answered_0x30(sqlite_store, blog):
    ping = wordpress_pingbacks()[-1]
    source = _wordpress_source(blog, ping, links=True)
    path = urlsplit(source).path
    _movement(sqlite_store)
    with serve(create_app(sqlite_store, receiver_settings(), verify_in_background=False)) as url:
        proxy = xmlrpc.client.ServerProxy(url + "/xmlrpc")
        assert "registered" in proxy.pingback.ping(source, PLEDGE)
        _checked_an_hour_ago(sqlite_store)
        fetched = blog.hits(path)
        assert _fault(lambda: proxy.pingback.ping(source, PLEDGE)).faultCode == 0x30
        assert blog.hits(path) == fetched + 1
    assert count(sqlite_store, "SELECT count(*) FROM mention WHERE deleted_at IS NULL") == 1


def test_a_pingback_resent_sooner_than_the_interval_is_checked_when_the_interval_ends(store, blog):
    ping = wordpress_pingbacks()[0]
    source = _wordpress_source(blog, ping, links=True)
    path = urlsplit(source).path
    _movement(store)
    settings = receiver_settings(reverify_interval_s=600)
    with serve(create_app(store, settings, verify_in_background=False)) as url:
        proxy = xmlrpc.client.ServerProxy(url + "/xmlrpc")
        assert "registered" in proxy.pingback.ping(source, PLEDGE)
        fetched = blog.hits(path)
        _wordpress_source(blog, ping, links=False)
        for _ in range(5):  # a sender hammering: not one more fetch of the source
            assert _fault(lambda: proxy.pingback.ping(source, PLEDGE)).faultCode == 0x30
        assert blog.hits(path) == fetched
    worker = VerifyWorker(store, settings)
    assert worker.claim(now=datetime.now(UTC) + timedelta(seconds=590)) == []
    [item] = worker.claim(now=datetime.now(UTC) + timedelta(seconds=610))
    assert worker.process(item).status == "deleted"
    assert count(store, "SELECT count(*) FROM mention WHERE deleted_at IS NOT NULL") == 1


def test_resends_are_rate_limited_per_source_page_whatever_their_targets(store, blog):
    """A page linking to many of our pages cannot make us fetch it once per target by
    re-sending: re-sends of one source are verified at most once per interval."""
    ping = wordpress_pingbacks()[0]
    path = urlsplit(ping.source).path
    story = PLEDGE.replace("/pledge", "/story")
    page = (
        f"<!doctype html><html><head><title>{html.escape(ping.title)}</title></head><body>"
        f'<p><a href="{PLEDGE}">the pledge</a> and <a href="{story}">the story</a></p>'
        "</body></html>"
    )
    blog.pages[path] = (200, {}, page.encode())
    source = blog.url + path
    _movement(store)
    with serve(create_app(store, receiver_settings(), verify_in_background=False)) as url:
        proxy = xmlrpc.client.ServerProxy(url + "/xmlrpc")
        assert "registered" in proxy.pingback.ping(source, PLEDGE)
        assert "registered" in proxy.pingback.ping(source, story)  # first pings: both fetched
        _checked_an_hour_ago(store)
        fetched = blog.hits(path)
        assert _fault(lambda: proxy.pingback.ping(source, PLEDGE)).faultCode == 0x30
        assert _fault(lambda: proxy.pingback.ping(source, story)).faultCode == 0x30
        assert blog.hits(path) == fetched + 1  # the second re-send waits for the interval


# -- the flood guard (issue 16 item 6) ----------------------------------------------------------


def test_a_concurrent_burst_of_500_never_leaves_more_than_max_pending_waiting(store, blog):
    _movement(store)
    settings = receiver_settings(max_pending=10)
    app = create_app(store, settings, verify_in_background=False)
    limits = httpx.Limits(max_connections=50)
    with serve(app) as url, httpx.Client(limits=limits, timeout=60) as client:

        def send(n: int) -> httpx.Response:
            form = {"source": f"{blog.url}/mentions/{n}/", "target": PLEDGE}
            return client.post(url + "/webmention", data=form)

        with ThreadPoolExecutor(50) as pool:
            answers = list(pool.map(send, range(500)))
    codes = [a.status_code for a in answers]
    assert sum(a.is_success for a in answers) == 10 and codes.count(503) == 490
    assert all(a.headers.get("retry-after", "").isdigit() for a in answers if a.status_code == 503)
    assert count(store, "SELECT count(*) FROM received_ping") == 10


# -- bad input (issue 16 item 7) ----------------------------------------------------------------


def test_a_status_url_naming_a_30_digit_number_is_not_found_not_a_server_error(sqlite_store):
    _movement(sqlite_store)
    with serve(create_app(sqlite_store, receiver_settings(), verify_in_background=False)) as url:
        res = httpx.get(url + "/status/" + "9" * 30)
    assert res.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        b"source=http://127.0.0.1/caf\xe9/&target=https://www.nhscitizen.org.uk/pledge",
        b"source=http://127.0.0.1/caf%E9/&target=https://www.nhscitizen.org.uk/pledge",
    ],
    ids=["raw latin-1 byte", "escaped latin-1 byte"],
)
def test_a_webmention_form_that_is_not_utf8_is_refused_with_400(sqlite_store, body):
    _movement(sqlite_store)
    with serve(create_app(sqlite_store, receiver_settings(), verify_in_background=False)) as url:
        res = httpx.post(
            url + "/webmention",
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert res.status_code == 400 and "UTF-8" in res.text
    assert count(sqlite_store, "SELECT count(*) FROM received_ping") == 0


def _receiver_test_2_requests() -> list[tuple[str, str]]:
    """webmention.rocks' receiver test #2 ("Validates source and target URLs"): the three
    requests it sends, as recorded in its view (Apache-2.0). The page's own source and target
    (`$("#source").val()`, `$("#target").val()`) are valid ones."""
    view = recorded("aaronpk/webmention.rocks", "views/receiver/test-2.php").decode()
    calls = re.findall(r"send_webmention\('\d', data\.endpoint, ([^,]+), ([^,]+),", view)
    assert len(calls) == 3, "the recorded test changed shape"

    def value(expr: str, valid: str) -> str:
        expr = expr.strip()
        return valid if expr.startswith("$(") else expr.strip("'\"")

    return [
        (value(s, "https://webmention.rocks/receive/2/abc"), value(t, PLEDGE)) for s, t in calls
    ]


def test_webmention_rocks_receiver_test_2_invalid_urls_get_400(sqlite_store):
    _movement(sqlite_store)
    with serve(create_app(sqlite_store, receiver_settings(), verify_in_background=False)) as url:
        codes = [
            httpx.post(url + "/webmention", data={"source": s, "target": t}).status_code
            for s, t in _receiver_test_2_requests()
        ]
    assert codes == [400, 400, 400]


def test_webmention_rocks_receiver_test_1_a_201_carries_the_status_location(sqlite_store, blog):
    """Receiver test #1: 200 or 202 without a Location, or 201 with one (W3C Webmention 3.2.1:
    a receiver offering a status page answers 201 Created)."""
    rules = recorded("aaronpk/webmention.rocks", "lib/Rocks/ReceiverTestData.php").decode()
    assert "If your endpoint returns HTTP 201, then it MUST also return a <code>Location" in rules
    _movement(sqlite_store)
    with serve(create_app(sqlite_store, receiver_settings(), verify_in_background=False)) as url:
        res = httpx.post(
            url + "/webmention", data={"source": blog.post_url(blog.posts[0]), "target": PLEDGE}
        )
    assert res.status_code == 201 and res.headers["location"].startswith(url + "/status/")


# -- what the receiver tells strangers (issue 17 item 8) ----------------------------------------


def test_a_refused_source_address_is_answered_without_what_it_resolves_to(sqlite_store):
    _movement(sqlite_store)
    settings = receiver_settings(allow_loopback=False)
    source = "http://localhost:9/post"
    with serve(create_app(sqlite_store, settings, verify_in_background=False)) as url:
        res = httpx.post(url + "/webmention", data={"source": source, "target": PLEDGE})
        proxy = xmlrpc.client.ServerProxy(url + "/xmlrpc")
        fault = _fault(lambda: proxy.pingback.ping(source, PLEDGE))
    assert (res.status_code, res.text) == (400, REFUSED)
    assert (fault.faultCode, fault.faultString) == (0x31, REFUSED)


def test_status_urls_are_unguessable_tokens_and_ids_name_nothing(sqlite_store, blog):
    _movement(sqlite_store)
    with serve(create_app(sqlite_store, receiver_settings(), verify_in_background=False)) as url:
        locations = [
            httpx.post(
                url + "/webmention", data={"source": f"{blog.url}/mentions/{n}/", "target": PLEDGE}
            ).headers["location"]
            for n in range(2)
        ]
        tokens = [loc.rsplit("/", 1)[1] for loc in locations]
        by_token = httpx.get(locations[0])
        by_id = [httpx.get(f"{url}/status/{n}").status_code for n in (1, 2)]
    assert all(len(t) >= 22 and not t.isdigit() for t in tokens) and tokens[0] != tokens[1]
    assert by_token.status_code == 200 and by_token.json()["status"] == "pending"
    assert "id" not in by_token.json() and by_id == [404, 404]
