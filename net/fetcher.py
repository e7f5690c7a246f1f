"""A safe HTTP fetcher for every outside URL Groundswell fetches (feeds, blog pages, pingback
sources, XML-RPC endpoints, re-checks), on httpx.

Why not plain `httpx.get`: the URLs come from feeds, pingbacks and webmentions, i.e. from
strangers. So every request here

- refuses addresses that are not on the public internet (private, loopback, link-local such as
  the cloud metadata service, multicast, reserved, unspecified). The check is made on the
  address actually connected to, inside the connection (a custom httpcore network backend), so
  DNS rebinding between "check" and "connect" cannot slip past it. Tests allow loopback only
  (`allow_loopback`), which still refuses a redirect to 10.0.0.1 or 169.254.169.254;
- follows redirects itself, re-checking scheme and address on every hop, up to a limit;
- streams the body and stops at `max_bytes` (decoded bytes, so a gzip bomb is caught too), and
  bounds the whole transfer by a deadline, so a slow-drip server cannot hold a worker;
- never uses proxies or `.netrc` from the environment (`trust_env=False`);
- is the only way any module opens an outbound connection: third-party clients get their
  transport from here (`guarded_session` for Mastodon.py's requests session, `guarded_request`
  for atproto's httpx client, `guarded_socket` for the Jetstream websocket), so the same check
  runs on every connection and every redirect hop they make. `tests/test_outbound_guard.py`
  fails when a module opens a connection any other way;
- sends a clear User-Agent naming the project;
- turns every failure into a typed error: `TransientFetchError` (retry later: timeouts,
  connection errors, 408/425/429/5xx, with Retry-After), `PermanentFetchError` (4xx, blocked
  address, too large, bad URL) and its subclass `GoneError` (410, "delete what you had").
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx
import requests
import requests.adapters
import urllib3
import urllib3.connection
import urllib3.exceptions

if TYPE_CHECKING:
    from domain.settings.config import NetworkSettings

DEFAULT_USER_AGENT = (
    "Groundswell/0.1 (+https://github.com/groundswell/groundswell; feed, pingback and "
    "webmention reader)"
)
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
TRANSIENT_CODES = frozenset({408, 425, 429, 500, 502, 503, 504, 507, 509, 520, 521, 522, 523, 524})


class FetchError(Exception):
    """Base of every fetch failure; `url` is the URL at fault (after redirects)."""

    def __init__(self, url: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{url}: {message}")
        self.url = url
        self.status = status


class TransientFetchError(FetchError):
    """Try again later (timeouts, connection failures, 429, 5xx)."""

    def __init__(
        self,
        url: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(url, message, status=status)
        self.retry_after = retry_after


class PermanentFetchError(FetchError):
    """Retrying will not help until the URL or the server changes (4xx, refused address)."""


class GoneError(PermanentFetchError):
    """410 Gone: the resource was deliberately removed; what was kept from it should go."""


class BlockedAddressError(PermanentFetchError):
    """The URL points at an address Groundswell must not fetch (SSRF guard)."""


class TooLargeError(PermanentFetchError):
    """The body is larger than the configured cap."""


class CertificateError(TransientFetchError):
    """The server's TLS certificate is not trusted (expired, self-signed, another host's, or
    signed by a CA not in the bundle). Retried later, as a site may renew its certificate."""


# The CA bundle every TLS connection trusts when its policy names none (`[network] ca_bundle`,
# set once by `configure`); None: certifi's public roots.
_CA_BUNDLE: str | None = None


# The contact URL our user agent names (`[network] contact_url`, set by `configure`): the
# page where a site owner finds who runs this collector. None: the project's own page.
_CONTACT_URL: str | None = None


def configure(network: NetworkSettings) -> None:
    """Apply the config's `[network]` section process-wide (its CA bundle and contact URL).

    The application calls this once it has read the config (the CLI's `load_config`, the
    dashboard's settings), before it builds fetchers, clients or streams; loading settings
    itself has no side effects (domain/settings is pure)."""
    use_ca_bundle(network.ca_bundle)
    use_contact_url(network.contact_url)


def use_contact_url(url: str | None) -> None:
    """Name `url` in the User-Agent of every fetcher built after this call, process-wide."""
    global _CONTACT_URL
    _CONTACT_URL = url


def user_agent(policy: FetchPolicy) -> str:
    """The User-Agent of `policy`: one the operator wrote stays as written; ours (starting
    `Groundswell/`) names the configured contact URL."""
    ua = policy.user_agent
    if _CONTACT_URL and ua.startswith("Groundswell/"):
        return f"Groundswell/0.1 (+{_CONTACT_URL}; feed, pingback and webmention reader)"
    return ua


def use_ca_bundle(path: str | None) -> None:
    """Trust the CA certificates in `path` (PEM) instead of the public roots, process-wide."""
    global _CA_BUNDLE
    _CA_BUNDLE = path


def ca_bundle(policy: FetchPolicy) -> str | None:
    return policy.ca_bundle or _CA_BUNDLE


def tls_context(policy: FetchPolicy) -> ssl.SSLContext:
    """The TLS context of a connection under `policy`: its CA bundle, else the public roots;
    certificates and host names are always verified."""
    bundle = ca_bundle(policy)
    if bundle:
        return ssl.create_default_context(cafile=bundle)
    return httpx.create_ssl_context(trust_env=False)


def certificate_problem(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification failure somewhere in `exc`'s chain, if any."""
    cause: BaseException | None = exc
    seen = 0
    while cause is not None and seen < 20:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return cause
        cause = cause.__cause__ or cause.__context__
        seen += 1
    return None


def certificate_message(problem: ssl.SSLCertVerificationError, url: str | None = None) -> str:
    """What `status` shows for a refused certificate: why, and the setting that helps."""
    reason = problem.verify_message or problem.reason or str(problem)
    host = urlsplit(url).hostname if url else None
    return (
        f"TLS certificate{f' of {host}' if host else ''} refused ({reason}); if your "
        "organisation uses its own CA, name its PEM file in [network] ca_bundle"
    )


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """How outside URLs may be fetched (`collectors.blogs.reading.blog_fetch_policy` builds
    one from the `[blogs]` settings; `collectors.blogs.queue.receiver_policy` from
    `[receiver]`)."""

    user_agent: str = DEFAULT_USER_AGENT
    timeout_s: float = 15.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    # 127.0.0.1 and ::1 only, where local test servers and a local site listen; the rest of
    # 127/8 (systemd-resolved's stub at 127.0.0.53, ...) stays refused.
    allow_loopback: bool = False
    allow_private: bool = False
    # Networks (CIDR) allowed whatever their class: the address an operator configured for
    # their own instance or mirror (`operator_policy`), never a host named by a stranger.
    allow_networks: tuple[str, ...] = ()
    # A PEM file of CA certificates trusted instead of the public roots (an organisation's own
    # CA); None: the process-wide `[network] ca_bundle` (`use_ca_bundle`), else certifi's.
    ca_bundle: str | None = None


@dataclass(slots=True)
class FetchResult:
    url: str  # the final URL, after redirects
    status: int
    headers: httpx.Headers
    content: bytes = b""
    redirects: list[str] = field(default_factory=list)
    # Where the URL asked for has moved for good: the target of the leading run of permanent
    # redirects (301/308; a 302/303/307 on the way ends the run), None when the first answer
    # was not one. A feed remembers it so later polls skip the redirect (issue 16 item 3).
    moved_to: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def text(self) -> str:
        """The body decoded with the charset the server declared (else UTF-8, replacing)."""
        charset = "utf-8"
        for part in self.headers.get("content-type", "").split(";")[1:]:
            k, _, v = part.partition("=")
            if k.strip().lower() == "charset" and v.strip():
                charset = v.strip().strip('"')
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")


# -- the address guard ------------------------------------------------------------------------

LOOPBACK_HOSTS = frozenset({ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")})


def address_refusal(ip: str, policy: FetchPolicy) -> str | None:
    """Why `ip` may not be fetched under `policy`, or None when it is a public address."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return f"{ip!r} is not an IP address"
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if any(addr in ipaddress.ip_network(net, strict=False) for net in policy.allow_networks):
        return None
    if addr.is_loopback:
        if policy.allow_private or (policy.allow_loopback and addr in LOOPBACK_HOSTS):
            return None
        return "a loopback address"
    if policy.allow_private:
        return None
    if addr.is_link_local:
        return "a link-local address"
    if addr.is_multicast:
        return "a multicast address"
    if addr.is_unspecified:
        return "an unspecified address"
    if addr.is_reserved:
        return "a reserved address"
    if addr.is_private or not addr.is_global:
        return "a private address"
    return None


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (a name resolving to nothing is a transient failure)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_url_shape(url: str) -> tuple[str, int]:
    """Refuse URLs Groundswell must never fetch, whatever their host resolves to: not absolute
    http(s), credentials in them, not parseable. Returns the host and port to connect to.

    Resolving and checking the address is the connection's job (`_GuardedBackend`,
    `connect_checked`): it resolves once and connects to exactly the addresses it checked, so
    nothing resolves the host a second time between the check and the connection."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BlockedAddressError(url, f"not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BlockedAddressError(url, "only absolute http(s) URLs are fetched")
    if parts.username or parts.password:
        raise BlockedAddressError(url, "URLs with credentials are not fetched")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def check_url(url: str, policy: FetchPolicy) -> str:
    """Refuse URLs Groundswell must never fetch; returns the URL when it may be tried.

    Raises `BlockedAddressError` for non-http(s) schemes, credentials in the URL and hosts that
    resolve (any of their addresses) to a refused address. Resolution failures are transient.
    For an answer that connects nowhere (the receiver's admission of a ping, before it is
    queued); a fetch leaves the resolution to its connection (`check_url_shape`).
    """
    host, port = check_url_shape(url)
    try:
        addresses = resolve(host, port)
    except (socket.gaierror, UnicodeError) as exc:
        raise TransientFetchError(url, f"cannot resolve {host}: {exc}") from None
    for ip in addresses:
        why = address_refusal(ip, policy)
        if why:
            raise BlockedAddressError(url, f"{host} resolves to {ip}, {why}; refused (SSRF guard)")
    return url


class AddressRefused(OSError):
    """A connection the address guard refused (an OSError, so every client library reports it
    as a failed connection; `Fetcher` turns it into `BlockedAddressError`)."""

    def __init__(self, host: str, ip: str, why: str) -> None:
        super().__init__(f"{host} resolves to {ip}, {why}; refused (SSRF guard)")


def checked_addresses(host: str, port: int, policy: FetchPolicy) -> list[str]:
    """Resolve `host` once and refuse it when any of its addresses is refused: the caller
    connects to exactly these addresses, so a second resolution (DNS rebinding) never happens."""
    addresses = resolve(host, port)
    for ip in addresses:
        why = address_refusal(ip, policy)
        if why:
            raise AddressRefused(host, ip, why)
    return addresses


def connect_checked(
    host: str,
    port: int,
    policy: FetchPolicy,
    *,
    timeout: float | None = None,
    source_address: tuple[str, int] | None = None,
) -> socket.socket:
    """A TCP socket to `host`, connected to an address the guard has just checked."""
    last: OSError | None = None
    for ip in checked_addresses(host, port, policy):
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect((ip, port))
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last or OSError(f"{host}: no address to connect to")


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolve, refuse forbidden addresses, then connect to the checked address itself."""

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        self.inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = checked_addresses(host, port, self.policy)
        except AddressRefused as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        last: Exception | None = None
        for ip in addresses:
            try:
                return self.inner.connect_tcp(
                    ip,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"{host}: no address to connect to")

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are never used for outside URLs")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


def guarded_transport(policy: FetchPolicy) -> httpx.HTTPTransport:
    """An httpx transport whose every connection goes through the address guard."""
    transport = httpx.HTTPTransport(trust_env=False)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=tls_context(policy),
        max_connections=20,
        max_keepalive_connections=10,
        keepalive_expiry=5.0,
        network_backend=_GuardedBackend(policy),
    )
    return transport


# -- third-party clients ------------------------------------------------------------------------


class _GuardedHTTPConnection(urllib3.connection.HTTPConnection):
    policy: FetchPolicy

    def _new_conn(self) -> socket.socket:
        try:
            sock = connect_checked(
                self._dns_host,
                self.port,
                self.policy,
                # urllib3's "default" sentinel means the socket module's default timeout
                timeout=(
                    self.timeout
                    if isinstance(self.timeout, int | float)
                    else socket.getdefaulttimeout()
                ),
                source_address=self.source_address,
            )
        except TimeoutError as exc:
            raise urllib3.exceptions.ConnectTimeoutError(
                self, f"connection to {self.host} timed out"
            ) from exc
        for opt in self.socket_options or ():
            sock.setsockopt(*opt)
        return sock


class _GuardedHTTPSConnection(urllib3.connection.HTTPSConnection):
    policy: FetchPolicy
    _new_conn = _GuardedHTTPConnection._new_conn


class GuardedAdapter(requests.adapters.HTTPAdapter):
    """A requests adapter whose connections (every redirect hop included, since requests sends
    each hop through the adapter) go through the address guard, and never through a proxy."""

    def __init__(self, policy: FetchPolicy, **kwargs: Any) -> None:
        self.policy = policy
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        http = type("GuardedHTTPConnection", (_GuardedHTTPConnection,), {"policy": self.policy})
        https = type("GuardedHTTPSConnection", (_GuardedHTTPSConnection,), {"policy": self.policy})
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("GuardedPool", (urllib3.HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type(
                "GuardedTLSPool", (urllib3.HTTPSConnectionPool,), {"ConnectionCls": https}
            ),
        }

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        raise requests.exceptions.ProxyError(f"{proxy}: proxies are never used (SSRF guard)")


def guarded_session(policy: FetchPolicy) -> requests.Session:
    """A requests session for third-party clients (Mastodon.py's `session=`): every connection
    and redirect hop checked, no proxies or `.netrc` from the environment, no file:// etc."""
    session = requests.Session()
    session.trust_env = False
    for prefix in list(session.adapters):
        session.adapters.pop(prefix)
    adapter = GuardedAdapter(policy)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.max_redirects = policy.max_redirects
    session.verify = ca_bundle(policy) or True
    return session


def guarded_request(policy: FetchPolicy, **client_kwargs: Any) -> Any:
    """An atproto `Request` (its httpx client) on the guarded transport; pass it as
    `Client(base_url, request=...)`. atproto follows redirects itself, every hop through it."""
    from atproto_client.request import Request

    return Request(transport=guarded_transport(policy), trust_env=False, **client_kwargs)


def guarded_socket(url: str, policy: FetchPolicy, *, timeout: float | None = None) -> socket.socket:
    """A connected socket for a ws(s)/http(s) URL, for clients that take one (`websockets`'
    `connect(uri, sock=...)`); TLS is still done by the client, against the URL's host."""
    parts = urlsplit(url)
    if not parts.hostname or parts.scheme not in ("ws", "wss", "http", "https"):
        raise AddressRefused(url, "?", "not a ws(s) or http(s) URL")
    port = parts.port or (443 if parts.scheme in ("wss", "https") else 80)
    return connect_checked(parts.hostname, port, policy, timeout=timeout)


def operator_policy(base_url: str, **kwargs: Any) -> FetchPolicy:
    """The policy for a server the operator configured (a Mastodon instance, the Bluesky
    service): its own address is allowed, even on a private or loopback network (a self-hosted
    instance, a local test server), but anything it redirects to, and any other host, must be
    public. Resolution failures leave the default (public only)."""
    parts = urlsplit(base_url)
    allowed: list[str] = []
    if parts.hostname:
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            allowed = [ip.split("%", 1)[0] for ip in resolve(parts.hostname, port)]
        except (OSError, UnicodeError, ValueError):
            allowed = []
    return FetchPolicy(allow_networks=tuple(allowed), **kwargs)


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


# -- the fetcher --------------------------------------------------------------------------------


class Fetcher:
    """Fetches outside URLs under one `FetchPolicy`; reuse one per worker (keeps connections)."""

    def __init__(self, policy: FetchPolicy | None = None) -> None:
        self.policy = policy or FetchPolicy()
        self.client = httpx.Client(
            transport=guarded_transport(self.policy),
            timeout=httpx.Timeout(self.policy.timeout_s),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": user_agent(self.policy)},
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
        max_bytes: int | None = None,
    ) -> FetchResult:
        """GET `url`, conditionally when validators are given (304 -> `not_modified`, no body)."""
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if accept:
            headers["Accept"] = accept
        return self.request("GET", url, headers=headers, max_bytes=max_bytes)

    def post(
        self,
        url: str,
        *,
        content: bytes,
        content_type: str,
        max_bytes: int | None = None,
    ) -> FetchResult:
        """POST a body (XML-RPC calls). Only 307/308 redirects are followed, keeping the body."""
        return self.request(
            "POST",
            url,
            headers={"Content-Type": content_type},
            content=content,
            max_bytes=max_bytes,
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        max_bytes: int | None = None,
    ) -> FetchResult:
        cap = max_bytes or self.policy.max_bytes
        deadline = time.monotonic() + self.policy.timeout_s * 2
        redirects: list[str] = []
        current = url
        moved_to: str | None = None
        permanent = True
        while True:
            # The shape only: the connection resolves the host once, checks every address
            # and connects to a checked one (no second resolution, DESIGN.md section 8).
            check_url_shape(current)
            status, resp_headers, body = self._one(method, current, headers, content, cap, deadline)
            if status in REDIRECT_CODES and "location" in resp_headers:
                if len(redirects) >= self.policy.max_redirects:
                    raise PermanentFetchError(
                        current, f"more than {self.policy.max_redirects} redirects", status=status
                    )
                if method == "POST" and status not in (307, 308):
                    raise PermanentFetchError(
                        current, f"POST answered with a {status} redirect", status=status
                    )
                redirects.append(current)
                current = urljoin(current, resp_headers["location"].strip())
                permanent = permanent and status in (301, 308)
                if permanent:
                    moved_to = current
                continue
            result = FetchResult(current, status, resp_headers, body, redirects, moved_to)
            self._raise_for_status(result)
            return result

    def _one(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        content: bytes | None,
        cap: int,
        deadline: float,
    ) -> tuple[int, httpx.Headers, bytes]:
        try:
            with self.client.stream(method, url, headers=headers, content=content) as resp:
                declared = resp.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > cap:
                    raise TooLargeError(
                        url,
                        f"body of {int(declared):,} bytes is over the {cap:,}-byte cap",
                        status=resp.status_code,
                    )
                if resp.status_code in REDIRECT_CODES or resp.status_code == 304:
                    return resp.status_code, resp.headers, b""
                chunks: list[bytes] = []
                size = 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > cap:
                        raise TooLargeError(
                            url, f"body is over the {cap:,}-byte cap", status=resp.status_code
                        )
                    if time.monotonic() > deadline:
                        raise TransientFetchError(
                            url, f"transfer took longer than {deadline_s(self.policy):.0f} s"
                        )
                    chunks.append(chunk)
                return resp.status_code, resp.headers, b"".join(chunks)
        except AddressRefused as exc:
            raise BlockedAddressError(url, str(exc)) from None
        except httpx.TimeoutException as exc:
            raise TransientFetchError(url, f"timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            problem = certificate_problem(exc)
            if problem is not None:
                raise CertificateError(url, certificate_message(problem, url)) from None
            # a refusal raised inside the connection arrives wrapped
            cause: BaseException | None = exc
            while cause is not None:
                if isinstance(cause, AddressRefused):
                    raise BlockedAddressError(url, str(cause)) from None
                cause = cause.__cause__ or cause.__context__
            raise TransientFetchError(url, f"{type(exc).__name__}: {exc}") from None
        except httpx.InvalidURL as exc:
            raise BlockedAddressError(url, f"not a valid URL ({exc})") from None

    @staticmethod
    def _raise_for_status(result: FetchResult) -> None:
        status = result.status
        if status < 300 or status == 304:
            return
        if status == 410:
            raise GoneError(result.url, "410 Gone", status=status)
        if status in TRANSIENT_CODES:
            raise TransientFetchError(
                result.url,
                f"HTTP {status}",
                status=status,
                retry_after=retry_after_seconds(result.headers.get("retry-after")),
            )
        raise PermanentFetchError(result.url, f"HTTP {status}", status=status)


def deadline_s(policy: FetchPolicy) -> float:
    """The whole-transfer bound: twice the per-operation timeout."""
    return policy.timeout_s * 2
