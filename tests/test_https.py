"""HTTPS for real (issue 22, item 5): every fetcher path against a local TLS server whose
certificate comes from a throwaway CA (`trustme`): trusted through the configurable CA bundle
(`[network] ca_bundle`, an organisation's own CA), and refused with a clear error when the
certificate is not trusted. Real clients: httpx (our Fetcher: feeds, pages, receiver
verification), requests as Mastodon.py uses it, atproto's httpx client, websockets."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import trustme

from domain.settings.config import ConfigError, parse_settings
from net import fetcher as net
from net.fetcher import (
    CertificateError,
    Fetcher,
    FetchPolicy,
    guarded_request,
    guarded_session,
    use_ca_bundle,
)
from tests.blog_helpers import blog_settings, count, runner_for
from tests.bluesky_support import add_posts, bluesky_env
from tests.mastodon_support import runner_for as mastodon_runner
from tests.mastodon_support import settings_for
from tests.servers.blog_server import BlogServer
from tests.servers.mastodon_server import MastodonServer, make_status, running

FEED = b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(FEED)))
        self.end_headers()
        self.wfile.write(FEED)

    def log_message(self, *args: object) -> None:
        pass


def _serve(cert: trustme.LeafCert) -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}/feed"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def bundle(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "org-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def site(ca: trustme.CA) -> Iterator[str]:
    yield from _serve(ca.issue_cert("127.0.0.1"))


@pytest.fixture
def wrong_host(ca: trustme.CA) -> Iterator[str]:
    """A certificate from the trusted CA, but for another host."""
    yield from _serve(ca.issue_cert("elsewhere.example"))


@pytest.fixture(autouse=True)
def _no_process_bundle() -> Iterator[None]:
    yield
    use_ca_bundle(None)


def test_a_feed_over_https_is_fetched_when_the_ca_bundle_trusts_its_certificate(
    site: str, bundle: str
) -> None:
    with Fetcher(FetchPolicy(allow_loopback=True, ca_bundle=bundle)) as f:
        result = f.get(site)
    assert result.status == 200 and result.content == FEED


def test_a_certificate_from_an_unknown_ca_is_refused_with_a_clear_error(site: str) -> None:
    with Fetcher(FetchPolicy(allow_loopback=True)) as f, pytest.raises(CertificateError) as err:
        f.get(site)
    message = str(err.value)
    assert "TLS certificate of 127.0.0.1 refused" in message
    assert "ca_bundle" in message


def test_a_certificate_for_another_host_is_refused_even_from_a_trusted_ca(
    wrong_host: str, bundle: str
) -> None:
    with (
        Fetcher(FetchPolicy(allow_loopback=True, ca_bundle=bundle)) as f,
        pytest.raises(CertificateError, match="refused"),
    ):
        f.get(wrong_host)


def test_the_configured_ca_bundle_is_trusted_by_every_fetcher_of_the_process(
    site: str, bundle: str
) -> None:
    settings = parse_settings({"network": {"ca_bundle": bundle}})
    use_ca_bundle(settings.network.ca_bundle)  # what load_settings does
    with Fetcher(FetchPolicy(allow_loopback=True)) as f:
        assert f.get(site).status == 200


def test_a_ca_bundle_that_is_not_a_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ca_bundle"):
        parse_settings({"network": {"ca_bundle": str(tmp_path / "missing.pem")}})


def test_mastodon_s_requests_session_trusts_the_ca_bundle_and_refuses_without_it(
    site: str, bundle: str
) -> None:
    trusted = guarded_session(FetchPolicy(allow_loopback=True, ca_bundle=bundle))
    assert trusted.get(site, timeout=10).content == FEED
    untrusted = guarded_session(FetchPolicy(allow_loopback=True))
    with pytest.raises(requests.exceptions.SSLError):
        untrusted.get(site, timeout=10)


def test_the_bluesky_client_s_transport_trusts_the_ca_bundle_and_refuses_without_it(
    site: str, bundle: str
) -> None:
    import httpx

    trusted = httpx.Client(
        transport=net.guarded_transport(FetchPolicy(allow_loopback=True, ca_bundle=bundle))
    )
    assert trusted.get(site).content == FEED
    untrusted = httpx.Client(transport=net.guarded_transport(FetchPolicy(allow_loopback=True)))
    with pytest.raises(httpx.ConnectError) as err:
        untrusted.get(site)
    assert net.certificate_problem(err.value) is not None
    assert guarded_request(FetchPolicy(allow_loopback=True, ca_bundle=bundle)) is not None


def test_a_jetstream_wss_connection_uses_the_ca_bundle(ca: trustme.CA, bundle: str) -> None:
    from websockets.sync.client import connect
    from websockets.sync.server import serve

    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)

    def echo(ws) -> None:  # type: ignore[no-untyped-def]
        ws.send(ws.recv())

    with serve(echo, "127.0.0.1", 0, ssl=server_ctx) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"wss://127.0.0.1:{server.socket.getsockname()[1]}/"
        policy = FetchPolicy(allow_loopback=True, ca_bundle=bundle)
        sock = net.guarded_socket(url, policy, timeout=5)
        with connect(url, sock=sock, ssl=net.tls_context(policy)) as ws:
            ws.send("hello")
            assert ws.recv(timeout=5) == "hello"
        with pytest.raises(ssl.SSLCertVerificationError):
            sock = net.guarded_socket(url, FetchPolicy(allow_loopback=True), timeout=5)
            connect(url, sock=sock, ssl=net.tls_context(FetchPolicy(allow_loopback=True)))
        server.shutdown()


# -- the collectors, end to end, over HTTPS -------------------------------------------------


@pytest.fixture
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    return ctx


def test_a_blog_feed_over_https_is_collected_with_the_organisation_s_ca(
    sqlite_store, server_tls: ssl.SSLContext, bundle: str
) -> None:
    blog = BlogServer("Healthcare Radicals")
    blog.tls = server_tls
    with blog:
        blog.add_post("assembly", "NHS Citizen assembly", "<p>We met. #NHSCitizen</p>")
        runner = runner_for(sqlite_store, blog_settings(feeds=[blog.url + "/feed/"]))
        [refused] = runner.run_once(only_due=False)
        assert refused.outcome != "ok" and "TLS certificate of 127.0.0.1 refused" in str(
            refused.error
        )
        use_ca_bundle(bundle)  # as load_settings does, before the collectors are built
        runner = runner_for(sqlite_store, blog_settings(feeds=[blog.url + "/feed/"]))
        [outcome] = runner.run_once(only_due=False)
        assert outcome.outcome == "ok", outcome.error
        assert count(sqlite_store, "SELECT count(*) FROM mention") == 1


def test_a_mastodon_instance_over_https_is_collected_with_the_organisation_s_ca(
    sqlite_store, server_tls: ssl.SSLContext, bundle: str
) -> None:
    with running(MastodonServer("alpha.test", tls=server_tls)) as (alpha,):
        alpha.carry(make_status("alpha.test", "ann", 1))
        runner, _ = mastodon_runner(sqlite_store, settings_for(alpha))
        [refused] = runner.run_once(only_due=False)
        assert refused.outcome != "ok"
        assert "TLS certificate" in str(refused.error) and "ca_bundle" in str(refused.error)
        use_ca_bundle(bundle)  # as load_settings does, before the collectors are built
        runner, _ = mastodon_runner(sqlite_store, settings_for(alpha))
        [outcome] = runner.run_once(only_due=False)
        assert outcome.outcome == "ok", outcome.error
        assert count(sqlite_store, "SELECT count(*) FROM mention") == 1


def test_a_bluesky_service_over_https_is_searched_with_the_organisation_s_ca(
    sqlite_store, server_tls: ssl.SSLContext, bundle: str, tmp_path: Path, monkeypatch
) -> None:
    use_ca_bundle(bundle)
    with bluesky_env(sqlite_store, tmp_path, monkeypatch, tls=server_tls) as bsky:
        assert bsky.server.base_url.startswith("https://")
        add_posts(bsky.server, 3)
        (outcome,) = bsky.run()
        assert outcome.outcome == "ok", outcome.error
        assert len(bsky.native_ids()) == 3
        use_ca_bundle(None)
        (refused,) = bsky.run()
        assert refused.outcome != "ok"
        assert "TLS certificate" in str(refused.error) and "ca_bundle" in str(refused.error)


# -- the receiver's verification fetch over HTTPS ---------------------------------------------


def test_a_received_webmention_from_an_https_source_is_verified_with_the_organisation_s_ca(
    store, server_tls: ssl.SSLContext, bundle: str
) -> None:
    """The receiver's own fetch (not the collectors'): a source page served over TLS with a
    certificate from a throwaway CA. Without the CA the ping is refused with the error naming
    the certificate and the setting recorded on its row (and retried later, as a site may fix
    its certificate); with `[network] ca_bundle` the same ping is verified and stored."""
    from collectors.blogs.queue import VerifyWorker, accept
    from storage.catalog import upsert_movement
    from storage.engine import write_tx
    from tests.blog_helpers import NHS, rows
    from tests.test_blog_receiver import PLEDGE, receiver_settings

    with write_tx(store) as conn:
        upsert_movement(conn, NHS)
    blog = BlogServer("Patient Voices")
    blog.tls = server_tls
    with blog:
        blog.link_target = PLEDGE
        post = blog.add_post("pledged", "Why I pledged", f'<p><a href="{PLEDGE}">pledge</a></p>')
        source = blog.post_url(post)
        assert source.startswith("https://127.0.0.1:")
        accept(store, "webmention", source, PLEDGE)
        assert VerifyWorker(store, receiver_settings()).run_once() == 1
        [row] = rows(store, "SELECT status, result, error FROM received_ping")
        assert row.status == "pending" and row.result == "upstream_error"
        assert "TLS certificate of 127.0.0.1 refused" in row.error and "ca_bundle" in row.error
        assert count(store, "SELECT count(*) FROM mention") == 0

        use_ca_bundle(bundle)  # as load_settings does, before the receiver starts
        with write_tx(store) as conn:  # the retry is due now
            conn.exec_driver_sql("UPDATE received_ping SET next_attempt_at = NULL")
        assert VerifyWorker(store, receiver_settings()).run_once() == 1
        [row] = rows(store, "SELECT status, result, error FROM received_ping")
        assert (row.status, row.result, row.error) == ("verified", "verified", None)
        [m] = rows(store, "SELECT platform, title FROM mention")
        assert (m.platform, m.title) == ("webmention", "Why I pledged")


def test_a_tracked_post_s_page_over_https_is_polled_with_the_organisation_s_ca(
    sqlite_store, server_tls: ssl.SSLContext, bundle: str
) -> None:
    """Pages (not feeds): a tracked post's markup is read for its pingbacks over TLS."""
    from tests.blog_helpers import pinging_blog
    from tests.servers.blog_server import Ping

    with pinging_blog() as sources:
        blog = BlogServer("Healthcare Radicals")
        blog.tls = server_tls
        blog.xmlrpc = "off"  # the page's markup is what is read
        with blog:
            post = blog.add_post("assembly", "Notes from the NHS Citizen assembly", "<p>Hi</p>")
            post.pings = [Ping(sources.post_url(sources.posts[0]), "Why I pledged")]
            target = blog.post_url(post)
            assert target.startswith("https://")
            [refused] = runner_for(sqlite_store, blog_settings(posts=[target])).run_once()
            assert refused.outcome != "ok"
            assert "TLS certificate of 127.0.0.1 refused" in str(refused.error)
            assert count(sqlite_store, "SELECT count(*) FROM amplification") == 0
            use_ca_bundle(bundle)
            runner = runner_for(sqlite_store, blog_settings(posts=[target]))
            [outcome] = runner.run_once(only_due=False)
            assert outcome.outcome == "ok", outcome.error
            assert count(sqlite_store, "SELECT count(*) FROM amplification") == 1
