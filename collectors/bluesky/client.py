"""The authenticated XRPC connection: the real `atproto.Client`, a reused session, typed errors.

Why this module exists:

- Logins (`createSession`) are rate-limited per handle (30 per 5 minutes, 300 a day), so the
  session is saved to `session_file` (0600) on every create/refresh and reused by the next run
  or process. The access token is refreshed by the SDK before it expires; when the server says
  the token is expired or invalid anyway (clock skew, revocation), we refresh with the refresh
  token, and only if that fails log in again with the app password.
- Every XRPC failure becomes `TransientError` (retry later, cursor untouched) or
  `FatalSourceError` (the configuration must change) with a message naming what to fix.
- Replies are read as raw JSON (`invoke_query`), not as SDK models: one malformed post must be
  skipped by the parser, not sink the whole page in model validation.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from atproto import Client, Session, SessionEvent
from atproto_client import models
from atproto_client.exceptions import (
    BadRequestError,
    InvokeTimeoutError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)
from atproto_client.models.common import XrpcError
from atproto_core.exceptions import AtProtocolError

from collectors.base import FatalSourceError, TransientError
from domain.records import RATE_LIMIT_WAIT, UNREACHABLE
from domain.settings.bluesky import BlueskySettings
from domain.settings.checks import secret_from_env
from net.fetcher import (
    certificate_message,
    certificate_problem,
    guarded_request,
    operator_policy,
)

log = logging.getLogger("groundswell.collect.bluesky")

# XRPC error names that mean "this token is no good", whatever the status code.
AUTH_ERRORS = frozenset(
    {"ExpiredToken", "InvalidToken", "AuthMissing", "AuthenticationRequired", "AuthRequired"}
)


def xrpc_error(exc: BaseException) -> tuple[int | None, str, str]:
    """(status, error name, message) of an SDK request error."""
    if isinstance(exc, RequestErrorBase) and exc.response is not None:
        content = exc.response.content
        if isinstance(content, XrpcError):
            return exc.response.status_code, content.error or "", content.message or ""
        return exc.response.status_code, "", repr(content)[:200]
    return None, type(exc).__name__, str(exc)


def is_auth_error(exc: BaseException) -> bool:
    status, name, _ = xrpc_error(exc)
    return (
        isinstance(exc, UnauthorizedError)
        or (isinstance(exc, BadRequestError) and name in AUTH_ERRORS)
        or (status in (400, 401) and name in AUTH_ERRORS)
    )


def _retry_after(exc: RateLimitExceededError) -> float | None:
    if exc.retry_after is not None:
        return exc.retry_after
    if exc.reset_at is not None:
        return max(1.0, (exc.reset_at - datetime.now(UTC)).total_seconds())
    return None


def map_error(exc: BaseException, what: str) -> TransientError | FatalSourceError:
    """An SDK/transport failure as our typed error, phrased for `groundswell status`."""
    status, name, message = xrpc_error(exc)
    if isinstance(exc, RateLimitExceededError):
        wait = _retry_after(exc)
        when = f"{wait:.0f} s" if wait is not None else "a back-off"
        return TransientError(
            f"{what}: rate limited by Bluesky (429); retrying after {when}",
            retry_after=wait,
            signal=RATE_LIMIT_WAIT,
        )
    if isinstance(exc, InvokeTimeoutError):
        return TransientError(f"{what}: Bluesky did not answer in time", signal=UNREACHABLE)
    problem = certificate_problem(exc)
    if problem is not None:
        return TransientError(f"{what}: {certificate_message(problem)}")
    if isinstance(exc, NetworkError):
        detail = f"HTTP {status}" if status else "network error"
        gateway = status is None or status in (502, 503, 504)
        return TransientError(
            f"{what}: {detail}; will retry", signal=UNREACHABLE if gateway else None
        )
    if status is not None and status >= 500:
        return TransientError(
            f"{what}: Bluesky server error {status} {name}; will retry",
            signal=UNREACHABLE if status in (502, 503, 504) else None,
        )
    if is_auth_error(exc):
        return FatalSourceError(
            f"{what}: Bluesky refused our credentials ({name}: {message}); check the handle and "
            "app password environment variables",
            status="auth_failed",
        )
    if status is not None and status in (400, 404, 501):
        return FatalSourceError(
            f"{what}: Bluesky rejected the request ({status} {name}: {message})"
        )
    return TransientError(f"{what}: {type(exc).__name__}: {exc}")


class BlueskyClient:
    """One logged-in XRPC client per process, shared by every Bluesky source."""

    def __init__(self, settings: BlueskySettings) -> None:
        self.settings = settings
        self._client: Client | None = None
        self._budget_reset: float | None = None  # epoch seconds when the window resets
        self.logins = 0  # password logins done by this process (tests and status)

    # -- session --------------------------------------------------------------------------

    def _credentials(self) -> tuple[str, str]:
        s = self.settings
        handle = secret_from_env(s.handle_env, what="Bluesky handle")
        password = secret_from_env(s.app_password_env, what="Bluesky app password")
        if not handle or not password:
            raise FatalSourceError(
                f"Bluesky search needs a login: set ${s.handle_env} to your handle and "
                f"${s.app_password_env} to an app password (Settings > Privacy and security > "
                "App passwords); anonymous search is refused",
                status="needs_token",
            )
        return handle, password

    def _session_path(self) -> Path:
        return Path(self.settings.session_file).expanduser()

    def _load_saved(self, handle: str) -> str | None:
        try:
            data = json.loads(self._session_path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if (
            isinstance(data, dict)
            and data.get("base_url") == self.settings.base_url
            and data.get("handle") == handle
            and isinstance(data.get("session"), str)
        ):
            try:  # a damaged file must cost a login, not block the source
                Session.decode(data["session"]).access_jwt_payload.exp  # noqa: B018
            except Exception:
                log.info(
                    "saved Bluesky session in %s is unreadable; logging in again",
                    self._session_path(),
                )
                return None
            return data["session"]
        return None

    def _save(self, handle: str, session: Session) -> None:
        """Written atomically, readable by this user only: it holds live tokens."""
        path = self._session_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(
                    {
                        "base_url": self.settings.base_url,
                        "handle": handle,
                        "session": session.export(),
                    },
                    fh,
                )
            os.replace(tmp, path)
        except OSError as exc:  # a read-only disk costs logins, not data
            log.warning("cannot save the Bluesky session to %s: %s", path, exc)

    def _new_client(self, handle: str) -> Client:
        # the configured service's own address is allowed; the PDS it hands us and any
        # redirect must be public (net.fetcher)
        request = guarded_request(
            operator_policy(self.settings.base_url), timeout=httpx.Timeout(self.settings.timeout_s)
        )
        client = Client(base_url=self.settings.base_url, request=request)

        def on_change(event: SessionEvent, session: Session) -> None:
            if event in (SessionEvent.CREATE, SessionEvent.REFRESH):
                self._save(handle, session)

        client.on_session_change(on_change)
        return client

    def _login(self) -> Client:
        handle, password = self._credentials()
        client = self._new_client(handle)
        saved = self._load_saved(handle)
        if saved:
            try:
                client.login(session_string=saved, fetch_bsky_profile=False)
                return client
            except (AtProtocolError, ValueError) as exc:
                log.info("saved Bluesky session not usable (%s); logging in again", exc)
        self._password_login(client, handle, password)
        return client

    def _password_login(self, client: Client, handle: str, password: str) -> None:
        try:
            self.logins += 1
            client.login(handle, password, fetch_bsky_profile=False)
        except AtProtocolError as exc:
            err = map_error(exc, f"Bluesky login as {handle}")
            if isinstance(err, FatalSourceError) or is_auth_error(exc):
                raise FatalSourceError(
                    f"Bluesky refused the login for {handle} at {self.settings.base_url}: "
                    f"{xrpc_error(exc)[2] or exc}. Check ${self.settings.app_password_env} "
                    "holds a valid app password",
                    status="auth_failed",
                ) from None
            raise err from None

    def _recover(self) -> None:
        """After the server rejected our token: refresh it, else log in with the password."""
        client = self._client
        if client is not None:
            try:
                current = Session.decode(client.export_session_string())
                fresh = client.com.atproto.server.refresh_session(
                    headers={"Authorization": f"Bearer {current.refresh_jwt}"},
                    ignore_session_check=True,
                )
                renewed = Session(
                    fresh.handle,
                    fresh.did,
                    fresh.access_jwt,
                    fresh.refresh_jwt,
                    current.pds_endpoint,
                )
                client.login(session_string=renewed.export(), fetch_bsky_profile=False)
                handle, _ = self._credentials()
                self._save(handle, renewed)
                return
            except (AtProtocolError, ValueError) as exc:
                if not is_auth_error(exc) and not isinstance(exc, ValueError):
                    raise map_error(exc, "Bluesky session refresh") from None
                log.info("Bluesky refresh token refused (%s); logging in again", exc)
        handle, password = self._credentials()
        client = self._new_client(handle)
        self._password_login(client, handle, password)
        self._client = client

    # -- calls ----------------------------------------------------------------------------

    def _invoke(self, nsid: str, params: Any) -> dict[str, Any]:
        assert self._client is not None
        if self._budget_reset is not None:
            wait = self._budget_reset - time.time()
            if wait > 0:  # the last reply said the window is spent: do not spend more
                raise TransientError(
                    f"{nsid}: Bluesky rate-limit window spent; next in {wait:.0f} s",
                    retry_after=wait,
                    signal=RATE_LIMIT_WAIT,
                )
            self._budget_reset = None
        response = self._client.invoke_query(nsid, params=params)
        self._note_budget(response.headers)
        if not isinstance(response.content, dict):
            raise TransientError(f"{nsid}: Bluesky replied with something that is not JSON")
        return response.content

    def _note_budget(self, headers: dict[str, Any]) -> None:
        try:
            remaining = int(headers.get("ratelimit-remaining", "1"))
            reset = float(headers.get("ratelimit-reset", "0"))
        except (TypeError, ValueError):
            return
        if remaining <= 0 and reset > time.time():
            self._budget_reset = reset

    def query(self, nsid: str, params: Any, *, what: str) -> dict[str, Any]:
        """GET an XRPC query and return its JSON object, or raise a typed error."""
        try:
            if self._client is None:
                self._client = self._login()
            try:
                return self._invoke(nsid, params)
            except AtProtocolError as exc:
                if not is_auth_error(exc):
                    raise
                log.info("%s: token refused (%s); refreshing the session", what, xrpc_error(exc)[1])
                self._recover()
                return self._invoke(nsid, params)
        except (TransientError, FatalSourceError):
            raise
        except AtProtocolError as exc:
            raise map_error(exc, what) from None
        except ValueError as exc:  # truncated or malformed JSON in a 200 reply
            raise TransientError(f"{what}: unreadable reply from Bluesky ({exc})") from None
        except httpx.HTTPError as exc:
            unreachable = isinstance(exc, httpx.TransportError)
            raise TransientError(
                f"{what}: {type(exc).__name__}: {exc}", signal=UNREACHABLE if unreachable else None
            ) from None

    # -- the methods we use ---------------------------------------------------------------

    def search_posts(self, **params: Any) -> dict[str, Any]:
        model = models.AppBskyFeedSearchPosts.Params(**params)
        label = f"searchPosts {params.get('q')!r}" + (
            f" tag={params['tag']}" if params.get("tag") else ""
        )
        return self.query("app.bsky.feed.searchPosts", model, what=label)

    def get_posts(self, uris: list[str]) -> dict[str, Any]:
        model = models.AppBskyFeedGetPosts.Params(uris=uris[:25])
        return self.query("app.bsky.feed.getPosts", model, what=f"getPosts ({len(uris)} posts)")

    def reposted_by(self, uri: str, cursor: str | None = None) -> dict[str, Any]:
        model = models.AppBskyFeedGetRepostedBy.Params(uri=uri, cursor=cursor, limit=100)
        return self.query("app.bsky.feed.getRepostedBy", model, what=f"getRepostedBy {uri}")

    def quotes(self, uri: str, cursor: str | None = None) -> dict[str, Any]:
        model = models.AppBskyFeedGetQuotes.Params(uri=uri, cursor=cursor, limit=100)
        return self.query("app.bsky.feed.getQuotes", model, what=f"getQuotes {uri}")

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.request.close()
