"""The pingback and Webmention receiver for sites you own: an ASGI app (Starlette) for uvicorn.

Endpoints (paths relative to `[receiver].public_url`):

    POST /xmlrpc       XML-RPC `pingback.ping(source, target)` (Pingback 1.0)
    POST /webmention   W3C Webmention: form fields `source`, `target`; answers 201 Created +
                       Location (the status page; W3C Webmention 3.2.1)
    GET  /status/{token}  the verification state of one received item (JSON); the token is
                       random (unguessable), so nobody can walk the queue by counting
    GET  /             what to put on your site: the discovery headers and <link> elements
    GET  /healthz      liveness and queue counts

What is checked before anything is accepted: both URLs absolute http(s); source != target;
the target is on one of `owned_sites`; the source's host does not resolve to a refused address
(SSRF), answered only "refused: private or reserved address" (what a host resolves to is
ours to know, not a prober's; the operator's log has the detail). Admission against
`max_pending` is atomic (the flood guard holds under a concurrent burst). Then the item is
committed to the queue in the store (it survives a restart) and verified asynchronously by
`VerifyWorker`: the source must really link to the target. A re-sent item is verified again
(at most once per `reverify_interval_s`), so a source that dropped its link is tombstoned.
`pingback.ping` waits for its own verification (bounded by the fetch timeout) because the
Pingback spec returns faults for a missing source (0x10) or link (0x11); Webmention answers 201
at once and never waits. XML is parsed with defusedxml: DTDs, entities and external references
are refused (an XML bomb gets fault -32700), and request bodies are capped.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from collectors.blogs import verify as V
from collectors.blogs import xmlrpc_safe as X
from collectors.blogs.queue import LEASE_S, VerifyWorker, accept, receiver_policy
from domain.matching import normalise_url
from domain.settings.blogs import refusal_hint
from net.fetcher import BlockedAddressError, FetchError, check_url
from storage.models_blogs import MAX_URL_CHARS
from storage.queries.blogs import Admission, ping_by_token, queue_counts, waiting_count

log = logging.getLogger("groundswell.receiver")

# All a sender learns when its source's address is refused: not what the host resolves to
# (a prober could map the internal network from it).
REFUSED_ADDRESS = "refused: private or reserved address"
RETRY_AFTER_S = 300

FAULT_FOR_RESULT = {
    V.SOURCE_NOT_FOUND: (X.SOURCE_NOT_FOUND, "The source URI does not exist."),
    V.NO_LINK: (
        X.SOURCE_NO_LINK,
        "The source URI does not contain a link to the target URI, and so cannot be used as a "
        "source.",
    ),
    V.BLOCKED: (X.ACCESS_DENIED, REFUSED_ADDRESS),
    V.TOO_LARGE: (X.SOURCE_NOT_FOUND, "The source URI is too large to be checked."),
    V.UPSTREAM: (X.UPSTREAM_ERROR, "The server could not communicate with the source server."),
}


BUSY_MESSAGE = "too many mentions waiting for verification; try again later"
ALREADY = "The pingback has already been registered."


class Rejected(Exception):
    def __init__(self, fault: int, message: str) -> None:
        super().__init__(message)
        self.fault = fault
        self.message = message


class Busy(Rejected):
    """The queue is full (a flood): try again later (503 Retry-After / fault 0x32)."""


def _host_path(url: str) -> tuple[str, str] | None:
    norm = normalise_url(url)
    if norm is None:
        return None
    parts = urlsplit(norm)
    return parts.netloc, parts.path or "/"


def owns(owned_sites: list[str], target: str) -> bool:
    """Whether `target` is on one of the sites this receiver accepts mentions for: same host,
    and under the site's path when it has one (`https://example.org/blog`)."""
    t = _host_path(target)
    if t is None:
        return False
    for site in owned_sites:
        s = _host_path(site if "://" in site else f"https://{site}")
        if s is None:
            continue
        if t[0] == s[0] and (s[1] == "/" or t[1] == s[1] or t[1].startswith(s[1] + "/")):
            return True
    return False


def discovery(public_url: str) -> dict[str, str]:
    base = public_url.rstrip("/")
    return {
        "link_header": f'<{base}/webmention>; rel="webmention"',
        "x_pingback": f"{base}/xmlrpc",
        "html": (
            f'<link rel="webmention" href="{base}/webmention" />\n'
            f'<link rel="pingback" href="{base}/xmlrpc" />'
        ),
    }


def create_app(engine: Engine, settings: Any, *, verify_in_background: bool = True) -> Starlette:
    """The receiver app on `engine` with `settings` (the whole config). With
    `verify_in_background=False` nothing is verified (tests of restarts between accept and
    verify use it to play a receiver that dies right after accepting)."""
    rs = settings.receiver
    policy = receiver_policy(rs)
    worker = VerifyWorker(engine, settings)
    configured = (rs.public_url or "").rstrip("/")

    def public(request: Request) -> str:
        """Where senders reach us: `public_url`, else the address this request came to."""
        return configured or str(request.base_url).rstrip("/")

    def check(kind: str, source: str, target: str) -> None:
        """Everything that can be refused before queueing (raises `Rejected`)."""
        # A cheap early refusal under a flood (no DNS lookup); the atomic admission is `admit`.
        with engine.connect() as conn:
            if waiting_count(conn) >= rs.max_pending:
                raise Busy(X.UPSTREAM_ERROR, BUSY_MESSAGE)
        if not isinstance(source, str) or normalise_url(source) is None:
            raise Rejected(X.SOURCE_NOT_FOUND, "source must be an absolute http(s) URL")
        if not isinstance(target, str) or normalise_url(target) is None:
            raise Rejected(X.TARGET_NOT_FOUND, "target must be an absolute http(s) URL")
        if len(source) > MAX_URL_CHARS or len(target) > MAX_URL_CHARS:
            raise Rejected(X.GENERIC, f"URLs longer than {MAX_URL_CHARS} characters are refused")
        if urlsplit(source).username or urlsplit(source).password:
            raise Rejected(X.SOURCE_NOT_FOUND, "source URLs with credentials are refused")
        if normalise_url(source) == normalise_url(target):
            raise Rejected(X.TARGET_NOT_USABLE, "source and target are the same URL")
        if not owns(rs.owned_sites, target):
            raise Rejected(
                X.TARGET_NOT_USABLE,
                "The specified target URI cannot be used as a target: it is not on a site this "
                "receiver accepts mentions for.",
            )
        try:
            check_url(source, policy)
        except BlockedAddressError as exc:
            log.warning(
                "%s from %r refused: %r; %s", kind, source, str(exc), refusal_hint(exc, "receiver")
            )
            raise Rejected(X.ACCESS_DENIED, REFUSED_ADDRESS) from None
        except FetchError as exc:
            log.warning("%s from %r: cannot resolve the source: %r", kind, source, str(exc))
            raise Rejected(X.UPSTREAM_ERROR, "cannot resolve the source's host") from None

    def admit(kind: str, source: str, target: str, *, hold_s: float = 0.0) -> Admission:
        """Queue the item, atomically against `max_pending` (raises `Busy` when full)."""
        admission = accept(
            engine,
            kind,
            source,
            target,
            max_pending=rs.max_pending,
            reverify_after_s=rs.reverify_interval_s,
            hold_s=hold_s,
        )
        if admission is None:
            raise Busy(X.UPSTREAM_ERROR, BUSY_MESSAGE)
        worker.wake.set()
        return admission

    async def body_of(request: Request) -> bytes | None:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > rs.max_body_bytes:
            return None
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > rs.max_body_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    # -- pingback ---------------------------------------------------------------------------

    def xml(body: bytes) -> Response:
        return Response(body, media_type="text/xml; charset=utf-8")

    def pingback_sync(source: str, target: str) -> bytes:
        """Queue a pingback and, with `pingback_sync`, verify it before answering. A re-send of
        a registered pingback is verified again (unless its last check was under
        `reverify_interval_s` ago: then it is queued for that time and answered 0x30 at once);
        still linked, it answers 0x30; link or page gone, the mention is tombstoned and the
        answer is the fault saying why."""
        hold = LEASE_S if rs.pingback_sync else 0  # keep the background worker off it
        try:
            adm = admit("pingback", source, target, hold_s=hold)
        except Busy as exc:
            return X.dumps_fault(exc.fault, exc.message)
        queued = X.dumps_response(f"Pingback from {source} to {target} queued.")
        waiting = not (adm.new or adm.resent)  # already queued: verified in its turn
        too_soon = adm.due is not None and adm.due > datetime.now(UTC)  # re-sent too soon
        if waiting or too_soon:
            return X.dumps_fault(X.ALREADY_REGISTERED, ALREADY) if adm.registered else queued
        if not rs.pingback_sync:
            return queued
        item = worker.claim_one(adm.id)
        if item is None:  # someone else is on it; it will be verified
            return queued
        verdict = worker.process(item)
        if verdict.status == "verified":
            if adm.registered:
                return X.dumps_fault(X.ALREADY_REGISTERED, ALREADY)
            return X.dumps_response(f"Pingback from {source} to {target} registered. Thanks!")
        code, message = FAULT_FOR_RESULT.get(verdict.result, (X.GENERIC, "Pingback refused."))
        return X.dumps_fault(code, message)

    async def xmlrpc_endpoint(request: Request) -> Response:
        body = await body_of(request)
        if body is None:
            return Response("request body too large", status_code=413)
        try:
            params, method = X.loads(body)
        except X.XmlRpcParseError as exc:
            log.warning("xmlrpc: refused body: %s", exc)
            return xml(X.dumps_fault(X.PARSE_ERROR, f"parse error. not well formed ({exc})"))
        except Exception:  # a fault *sent* to us is not a request
            return xml(X.dumps_fault(X.INVALID_REQUEST, "server error. invalid xml-rpc."))
        if method != "pingback.ping":
            return xml(
                X.dumps_fault(X.METHOD_NOT_FOUND, "server error. requested method not found")
            )
        if len(params) != 2 or not all(isinstance(p, str) for p in params):
            return xml(X.dumps_fault(X.INVALID_PARAMS, "pingback.ping takes source and target"))
        source, target = (p.strip() for p in params)
        try:
            await run_in_threadpool(check, "pingback", source, target)
        except Rejected as exc:
            return xml(X.dumps_fault(exc.fault, exc.message))
        return xml(await run_in_threadpool(pingback_sync, source, target))

    # -- webmention -------------------------------------------------------------------------

    async def webmention_endpoint(request: Request) -> Response:
        if request.method == "GET":
            return HTMLResponse(
                "<!doctype html><title>Webmention endpoint</title><form method=post>"
                "<input name=source placeholder=source> <input name=target placeholder=target>"
                " <button>Send webmention</button></form>"
            )
        body = await body_of(request)
        if body is None:
            return PlainTextResponse("request body too large", status_code=413)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in ("application/x-www-form-urlencoded", ""):
            return PlainTextResponse(
                "send source and target as application/x-www-form-urlencoded", status_code=400
            )
        try:  # strict: bytes that are not UTF-8 (raw or %-escaped) are refused, not replaced
            form = parse_qs(body.decode("utf-8"), max_num_fields=10, errors="strict")
        except UnicodeDecodeError:
            return PlainTextResponse("the form is not valid UTF-8", status_code=400)
        except ValueError:  # more fields than a webmention has
            return PlainTextResponse("too many form fields", status_code=400)
        source = (form.get("source") or [""])[0].strip()
        target = (form.get("target") or [""])[0].strip()
        if not source or not target:
            return PlainTextResponse("both source and target are required", status_code=400)
        try:
            await run_in_threadpool(check, "webmention", source, target)
            adm = await run_in_threadpool(admit, "webmention", source, target)
        except Busy as exc:
            return PlainTextResponse(
                exc.message, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)}
            )
        except Rejected as exc:
            return PlainTextResponse(exc.message, status_code=400)
        # 201, not 202: a receiver that offers a status page answers 201 Created with its
        # Location (W3C Webmention 3.2.1; webmention.rocks receiver test #1 checks it).
        return PlainTextResponse(
            "Accepted: the source will be verified; its status is at the Location.",
            status_code=201,
            headers={"Location": f"{public(request)}/status/{adm.token}"},
        )

    # -- the rest ---------------------------------------------------------------------------

    async def status_endpoint(request: Request) -> Response:
        row = await run_in_threadpool(_by_token, engine, request.path_params["token"])
        if row is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse(
            {
                "kind": row["kind"],
                "source": row["source"],
                "target": row["target"],
                "status": row["status"],
                "result": row["result"],
            }
        )

    async def home(request: Request) -> Response:
        disc = discovery(public(request))
        text = (
            "Groundswell pingback and webmention receiver.\n\n"
            "Add these to every page of your site (HTTP headers):\n"
            f"  Link: {disc['link_header']}\n"
            f"  X-Pingback: {disc['x_pingback']}\n\n"
            "or these elements in the <head> of its HTML:\n"
            f"{disc['html']}\n"
        )
        return PlainTextResponse(
            text, headers={"Link": disc["link_header"], "X-Pingback": disc["x_pingback"]}
        )

    async def healthz(request: Request) -> Response:
        counts = await run_in_threadpool(_counts, engine)
        return JSONResponse({"ok": True, "queue": counts})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if verify_in_background:
            worker.start()
        try:
            yield
        finally:
            worker.stop()

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/xmlrpc", xmlrpc_endpoint, methods=["POST"]),
            Route("/webmention", webmention_endpoint, methods=["GET", "POST"]),
            Route("/status/{token}", status_endpoint),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
    )
    app.state.worker = worker
    return app


def _by_token(engine: Engine, token: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        return ping_by_token(conn, token)


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return queue_counts(conn)
