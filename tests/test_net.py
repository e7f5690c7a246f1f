"""The safe fetcher: every outside URL is bounded in size and time, re-checked on redirects,
refused when it points inside the network, and fails with a typed error."""

from __future__ import annotations

import pytest

from net.fetcher import (
    BlockedAddressError,
    Fetcher,
    FetchPolicy,
    GoneError,
    PermanentFetchError,
    TooLargeError,
    TransientFetchError,
    address_refusal,
)
from tests.servers.blog_server import BlogServer

LOOPBACK_OK = FetchPolicy(allow_loopback=True, timeout_s=2.0, max_bytes=1_000_000)


@pytest.fixture
def blog():
    with BlogServer() as server:
        server.add_post("hello", "Hello", "<p>Hello #NHSCitizen</p>")
        yield server


@pytest.fixture
def fetcher():
    with Fetcher(LOOPBACK_OK) as f:
        yield f


def test_a_feed_is_fetched_with_a_clear_user_agent(blog, fetcher):
    res = fetcher.get(blog.url + "/feed/")
    assert res.status == 200 and b"<rss" in res.content
    assert blog.requests[-1].headers["user-agent"].startswith("Groundswell/")


def test_a_conditional_get_of_an_unchanged_feed_is_a_304_without_body(blog, fetcher):
    first = fetcher.get(blog.url + "/feed/")
    sent = blog.body_bytes
    again = fetcher.get(
        blog.url + "/feed/",
        etag=first.headers["etag"],
        last_modified=first.headers["last-modified"],
    )
    assert again.not_modified and again.content == b""
    assert blog.body_bytes == sent


def test_loopback_is_refused_by_default(blog):
    with Fetcher(FetchPolicy()) as f, pytest.raises(BlockedAddressError, match="loopback"):
        f.get(blog.url + "/feed/")


def test_a_redirect_to_a_private_address_is_refused_even_when_loopback_is_allowed(blog, fetcher):
    with pytest.raises(BlockedAddressError, match=r"10\.0\.0\.1"):
        fetcher.get(blog.url + "/redirect-private")


def test_a_redirect_to_the_cloud_metadata_address_is_refused(blog, fetcher):
    with pytest.raises(BlockedAddressError, match="link-local"):
        fetcher.get(blog.url + "/redirect-metadata")


def test_redirects_are_followed_and_reported(blog, fetcher):
    res = fetcher.get(blog.url + "/redirect-feed")
    assert res.url == blog.url + "/feed/"
    assert res.redirects == [blog.url + "/redirect-feed"]


def test_a_redirect_loop_stops_at_the_limit(blog, fetcher):
    with pytest.raises(PermanentFetchError, match="redirects"):
        fetcher.get(blog.url + "/redirect-loop")


def test_a_huge_streamed_body_stops_at_the_cap(blog, fetcher):
    with pytest.raises(TooLargeError, match="cap"):
        fetcher.get(blog.url + "/huge")


def test_a_slow_drip_server_hits_the_transfer_deadline(blog):
    blog.slow_delay_s = 0.05
    policy = FetchPolicy(allow_loopback=True, timeout_s=0.3)
    with Fetcher(policy) as f, pytest.raises(TransientFetchError, match=r"longer than|timed out"):
        f.get(blog.url + "/slow")


def test_5xx_is_transient_and_410_is_gone_and_404_permanent(blog, fetcher):
    with pytest.raises(TransientFetchError) as e500:
        fetcher.get(blog.url + "/error")
    assert e500.value.status == 500
    with pytest.raises(GoneError):
        fetcher.get(blog.url + "/gone")
    with pytest.raises(PermanentFetchError) as e404:
        fetcher.get(blog.url + "/nothing-here")
    assert e404.value.status == 404 and not isinstance(e404.value, GoneError)


def test_429_carries_the_retry_after(blog, fetcher):
    with pytest.raises(TransientFetchError) as exc:
        fetcher.get(blog.url + "/busy")
    assert exc.value.retry_after == 120


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "gopher://127.0.0.1/", "http://user:pw@127.0.0.1/", "http:///x"],
)
def test_non_http_and_credentialed_urls_are_refused(fetcher, url):
    with pytest.raises(BlockedAddressError):
        fetcher.get(url)


@pytest.mark.parametrize(
    ("ip", "why"),
    [
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("172.16.5.5", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("100.64.0.1", "private"),
        ("fc00::1", "private"),
    ],
)
def test_addresses_inside_the_network_are_refused(ip, why):
    assert why in (address_refusal(ip, FetchPolicy()) or "")


def test_public_addresses_pass_the_guard():
    assert address_refusal("93.184.215.14", FetchPolicy()) is None
    assert address_refusal("2606:4700::1111", FetchPolicy()) is None


def test_the_guard_sits_in_the_connection_itself_so_dns_rebinding_cannot_bypass_it(blog):
    """Even a request that skipped the up-front check is refused at connect time, on the
    address actually connected to."""
    import httpx

    from net.fetcher import guarded_transport

    with (
        httpx.Client(transport=guarded_transport(FetchPolicy())) as client,
        pytest.raises(Exception, match="SSRF guard"),
    ):
        client.get(blog.url + "/feed/")
    assert blog.hits("/feed/") == 0


class RebindingResolver:
    """DNS for one name that answers `first` to the first lookup and `then` to every later one
    (a rebinding attacker's server); every other name and literal resolves as usual."""

    def __init__(self, name: str, first: str, then: str) -> None:
        import socket

        self.name, self.first, self.then = name, first, then
        self.lookups = 0
        self.real = socket.getaddrinfo

    def __call__(self, host, port, *args, **kwargs):
        if host != self.name:
            return self.real(host, port, *args, **kwargs)
        self.lookups += 1
        ip = self.first if self.lookups == 1 else self.then
        return self.real(ip, port, *args, **kwargs)


@pytest.fixture
def rebinding(monkeypatch):
    """`rebind.test` is 127.0.0.1 (allowed in tests) once, then 10.0.0.1 (refused)."""
    import socket

    resolver = RebindingResolver("rebind.test", "127.0.0.1", "10.0.0.1")
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    return resolver


def test_a_fetch_resolves_its_host_once_and_connects_to_the_address_it_checked(blog, rebinding):
    """DESIGN.md 8: no second resolution between the check and the connection. A resolver
    that answers differently the second time is asked once, and the request goes to the
    address that was checked, with the URL's host kept in the Host header."""
    with Fetcher(LOOPBACK_OK) as f:
        result = f.get(blog.url.replace("127.0.0.1", "rebind.test") + "/feed/")
    assert result.status == 200 and rebinding.lookups == 1
    [request] = [r for r in blog.requests if r.path == "/feed/"]
    assert request.headers["host"] == blog.url.replace("http://127.0.0.1", "rebind.test")


def test_a_third_party_client_session_resolves_its_host_once(blog, rebinding):
    """The same for Mastodon.py's requests session (`guarded_session`) and the re-check's
    look-ups through it."""
    from net.fetcher import guarded_session

    session = guarded_session(LOOPBACK_OK)
    resp = session.get(blog.url.replace("127.0.0.1", "rebind.test") + "/feed/", timeout=2)
    assert resp.status_code == 200 and rebinding.lookups == 1
