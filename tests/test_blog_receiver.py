"""The pingback and Webmention receiver over real HTTP: real XML-RPC (`xmlrpc.client`) and
form posts to uvicorn, sources served by a local blog, verification through the store queue."""

from __future__ import annotations

import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from collectors.blogs.queue import VerifyWorker, accept
from collectors.blogs.receiver import create_app, owns
from domain.settings.config import ReceiverSettings, Settings
from domain.url_identity import canonical_url, ping_native_id
from storage.catalog import upsert_movement
from storage.engine import write_tx
from tests.blog_helpers import NHS, count, rows, serve, wait_for
from tests.servers.blog_server import BlogServer

PLEDGE = "https://www.nhscitizen.org.uk/pledge"
BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<methodCall><methodName>pingback.ping</methodName><params>
<param><value><string>&lol9;</string></value></param>
<param><value><string>https://www.nhscitizen.org.uk/pledge</string></value></param>
</params></methodCall>"""


def receiver_settings(**kw) -> Settings:
    kw.setdefault("owned_sites", ["https://www.nhscitizen.org.uk"])
    kw.setdefault("allow_loopback", True)
    kw.setdefault("fetch_timeout_s", 3.0)
    return Settings(movements=[NHS], receiver=ReceiverSettings(**kw))


@pytest.fixture
def blog():
    with BlogServer("Patient Voices") as server:
        server.link_target = PLEDGE
        server.add_post("pledged", "Why I pledged", f'<p><a href="{PLEDGE}">pledge</a></p>')
        server.add_post("unrelated", "Allotment", "<p>beans</p>")
        yield server


def _receiver(engine):
    with write_tx(engine) as conn:
        upsert_movement(conn, NHS)
    with serve(create_app(engine, receiver_settings())) as url:
        yield url


@pytest.fixture
def receiver(sqlite_store):
    """The receiver on SQLite; the queue's SQL runs on both stores in the tests using `store`."""
    yield from _receiver(sqlite_store)


@pytest.fixture
def receiver_on_store(store):
    yield from _receiver(store)


def _status(url: str) -> dict:
    return httpx.get(url).json()


def _settled(url: str) -> bool:
    return _status(url)["status"] not in ("pending", "verifying")


def _webmention(receiver: str, source: str, target: str = PLEDGE) -> httpx.Response:
    return httpx.post(receiver + "/webmention", data={"source": source, "target": target})


def _fault(call) -> int:
    with pytest.raises(xmlrpc.client.Fault) as exc:
        call()
    return exc.value.faultCode


# -- webmention ---------------------------------------------------------------------------------


def test_a_webmention_is_accepted_with_201_and_verified_asynchronously(
    store, receiver_on_store, blog
):
    source = blog.post_url(blog.posts[0])
    res = _webmention(receiver_on_store, source)
    assert res.status_code == 201
    status_url = res.headers["location"]
    assert wait_for(lambda: _settled(status_url))
    assert _status(status_url)["status"] == "verified"
    [m] = rows(store, "SELECT platform, native_id, title FROM mention")
    assert (m.platform, m.native_id, m.title) == (
        "webmention",
        ping_native_id(source, PLEDGE),
        "Why I pledged",
    )
    assert [e.kind for e in rows(store, "SELECT kind FROM amplification")] == ["webmention"]


def test_a_source_that_does_not_link_to_the_target_is_refused_as_spam(sqlite_store, receiver, blog):
    res = _webmention(receiver, blog.post_url(blog.posts[1]))
    assert res.status_code == 201
    assert wait_for(lambda: _settled(res.headers["location"]))
    assert _status(res.headers["location"])["result"] == "no_link"
    assert count(sqlite_store, "SELECT count(*) FROM mention") == 0


@pytest.mark.parametrize(
    ("source", "target", "why"),
    [
        (PLEDGE, PLEDGE, "same URL"),
        ("{blog}/2026/11/pledged/", "https://elsewhere.example/post", "not on a site"),
        ("http://169.254.169.254/latest/meta-data/", PLEDGE, "private or reserved"),
        ("http://10.0.0.1/post", PLEDGE, "private or reserved"),
        ("javascript:alert(1)", PLEDGE, "absolute http"),
    ],
)
def test_webmentions_that_cannot_be_accepted_get_400_naming_why(
    sqlite_store, receiver, blog, source, target, why
):
    res = _webmention(receiver, source.format(blog=blog.url), target)
    assert res.status_code == 400 and why in res.text
    assert count(sqlite_store, "SELECT count(*) FROM received_ping") == 0


def test_a_webmention_body_over_the_cap_is_refused(receiver):
    res = httpx.post(
        receiver + "/webmention",
        content=b"source=" + b"x" * 2_000_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert res.status_code == 413


def test_a_flood_beyond_the_queue_limit_is_told_to_come_back_later(sqlite_store, blog):
    with write_tx(sqlite_store) as conn:
        upsert_movement(conn, NHS)
    settings = receiver_settings(max_pending=10)
    with serve(create_app(sqlite_store, settings, verify_in_background=False)) as url:
        codes = [_webmention(url, f"{blog.url}/mentions/{i}/").status_code for i in range(12)]
        proxy = xmlrpc.client.ServerProxy(url + "/xmlrpc")
        fault = _fault(lambda: proxy.pingback.ping(f"{blog.url}/mentions/99/", PLEDGE))
    assert codes == [201] * 10 + [503, 503] and fault == 0x32
    assert count(sqlite_store, "SELECT count(*) FROM received_ping") == 10


def test_a_later_410_deletes_the_verified_mention(sqlite_store, blog):
    with write_tx(sqlite_store) as conn:
        upsert_movement(conn, NHS)
    source = blog.post_url(blog.posts[0])
    with serve(create_app(sqlite_store, receiver_settings(reverify_interval_s=0))) as receiver:
        first = _webmention(receiver, source)
        assert wait_for(lambda: _status(first.headers["location"])["status"] == "verified")
        blog.pages[blog.posts[0].path] = (410, {}, b"<h1>Gone</h1>")
        again = _webmention(receiver, source)  # the sender re-sends after deleting its post
        assert wait_for(lambda: _status(again.headers["location"])["status"] == "deleted")
    [m] = rows(sqlite_store, "SELECT deleted_at, text, title FROM mention")
    assert m.deleted_at is not None and m.text is None and m.title is None


def test_a_removed_link_found_by_the_periodic_recheck_deletes_the_mention(store, blog):
    settings = receiver_settings()
    with write_tx(store) as conn:
        upsert_movement(conn, NHS)
    worker = VerifyWorker(store, settings)
    source = blog.post_url(blog.posts[0])
    accept(store, "webmention", source, PLEDGE)
    assert worker.run_once() == 1
    blog.posts[0].content = "<p>I changed my mind.</p>"
    assert worker.recheck(older_than=timedelta(0)) == 1
    worker.run_once()
    assert count(store, "SELECT count(*) FROM mention WHERE deleted_at IS NOT NULL") == 1


# -- pingback -----------------------------------------------------------------------------------


def test_pingback_ping_registers_a_verified_pingback_and_a_repeat_is_fault_0x30(
    sqlite_store, receiver, blog
):
    proxy = xmlrpc.client.ServerProxy(receiver + "/xmlrpc")
    source = blog.post_url(blog.posts[0])
    assert "registered" in proxy.pingback.ping(source, PLEDGE)
    [m] = rows(sqlite_store, "SELECT platform, url FROM mention")
    assert (m.platform, m.url) == ("pingback", canonical_url(source))
    assert _fault(lambda: proxy.pingback.ping(source, PLEDGE)) == 0x30


@pytest.mark.parametrize(
    ("source", "target", "code"),
    [
        ("not a url", PLEDGE, 0x10),
        ("{blog}/nothing-here/", PLEDGE, 0x10),
        ("{blog}/2026/11/unrelated/", PLEDGE, 0x11),
        ("{blog}/2026/11/pledged/", "not a url", 0x20),
        ("{blog}/2026/11/pledged/", "https://elsewhere.example/", 0x21),
        (PLEDGE, PLEDGE, 0x21),
        ("http://10.0.0.1/", PLEDGE, 0x31),
        ("{blog}/redirect-private", PLEDGE, 0x31),
        ("{blog}/error", PLEDGE, 0x32),
    ],
)
def test_pingback_ping_answers_the_standard_fault_codes(
    sqlite_store, receiver, blog, source, target, code
):
    proxy = xmlrpc.client.ServerProxy(receiver + "/xmlrpc")
    assert _fault(lambda: proxy.pingback.ping(source.format(blog=blog.url), target)) == code
    assert count(sqlite_store, "SELECT count(*) FROM mention") == 0


def test_an_unknown_method_and_wrong_params_are_xmlrpc_faults(receiver):
    proxy = xmlrpc.client.ServerProxy(receiver + "/xmlrpc")
    assert _fault(lambda: proxy.system.listMethods()) == -32601
    assert _fault(lambda: proxy.pingback.ping("only one")) == -32602


def test_an_xml_bomb_gets_a_parse_fault_and_the_receiver_keeps_working(
    sqlite_store, receiver, blog
):
    res = httpx.post(receiver + "/xmlrpc", content=BOMB, headers={"content-type": "text/xml"})
    assert res.status_code == 200
    with pytest.raises(xmlrpc.client.Fault) as exc:
        xmlrpc.client.loads(res.content)
    assert exc.value.faultCode == -32700
    proxy = xmlrpc.client.ServerProxy(receiver + "/xmlrpc")
    assert "registered" in proxy.pingback.ping(blog.post_url(blog.posts[0]), PLEDGE)


def test_the_home_page_documents_the_discovery_headers(receiver):
    res = httpx.get(receiver + "/")
    assert res.headers["x-pingback"].endswith("/xmlrpc")
    assert 'rel="webmention"' in res.headers["link"]
    assert '<link rel="webmention"' in res.text


def test_owned_sites_match_host_and_path_prefix():
    assert owns(["https://example.org/blog"], "https://EXAMPLE.org/blog/post-1?utm_source=x")
    assert not owns(["https://example.org/blog"], "https://example.org/blogger")
    assert not owns(["example.org"], "https://evil.example/?example.org")


# -- durability ---------------------------------------------------------------------------------


def test_an_item_accepted_before_a_restart_is_verified_after_it(sqlite_store, blog):
    settings = receiver_settings()
    with write_tx(sqlite_store) as conn:
        upsert_movement(conn, NHS)
    source = blog.post_url(blog.posts[0])
    with serve(create_app(sqlite_store, settings, verify_in_background=False)) as url:
        assert _webmention(url, source).status_code == 201
    # the receiver is gone; the item waits in the sqlite_store
    assert count(sqlite_store, "SELECT count(*) FROM received_ping WHERE status='pending'") == 1
    with serve(create_app(sqlite_store, settings)) as url:
        assert wait_for(
            lambda: (
                count(sqlite_store, "SELECT count(*) FROM mention WHERE platform='webmention'") == 1
            )
        )


def test_an_item_whose_verifier_died_is_claimed_again_when_its_lease_runs_out(store, blog):
    sqlite_store = store
    settings = receiver_settings()
    with write_tx(sqlite_store) as conn:
        upsert_movement(conn, NHS)
    accept(sqlite_store, "webmention", blog.post_url(blog.posts[0]), PLEDGE)
    dead = VerifyWorker(sqlite_store, settings)
    assert len(dead.claim()) == 1  # ... and the process dies before finishing
    survivor = VerifyWorker(sqlite_store, settings)
    assert survivor.claim() == []  # still leased
    later = datetime.now(UTC) + timedelta(hours=1)
    [item] = survivor.claim(now=later)
    assert survivor.process(item).status == "verified"


@pytest.mark.slow
def test_a_burst_of_1000_webmentions_and_pingbacks_loses_none(sqlite_store, blog):
    settings = receiver_settings(verify_threads=2)
    with write_tx(sqlite_store) as conn:
        upsert_movement(conn, NHS)
    with serve(create_app(sqlite_store, settings)) as url, httpx.Client() as client:

        def send(n: int) -> int:
            source = f"{blog.url}/mentions/{n}/"
            if n % 10 == 0:
                proxy = xmlrpc.client.ServerProxy(url + "/xmlrpc")
                proxy.pingback.ping(source, PLEDGE)
                return 200
            form = {"source": source, "target": PLEDGE}
            return client.post(url + "/webmention", data=form).status_code

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(send, range(1000)))
        assert codes.count(201) == 900 and codes.count(200) == 100
        assert wait_for(
            lambda: (
                count(sqlite_store, "SELECT count(*) FROM received_ping WHERE status='verified'")
                == 1000
            ),
            timeout_s=180,
        )
    assert count(sqlite_store, "SELECT count(*) FROM mention") == 1000
    assert count(sqlite_store, "SELECT count(DISTINCT native_id) FROM mention") == 1000
