"""One Mastodon.py client per instance (and token), with pacing and typed errors.

Why a wrapper and not bare Mastodon.py calls:

- Rate limits are per instance and per IP/token, shared by every hashtag polled there, so the
  pacing state lives here and every source of that instance goes through it. Mastodon.py runs
  in `ratelimit_method="throw"`; this wrapper paces from the `X-RateLimit-*` headers the client
  parsed (never letting `Remaining` go below zero) and, on a 429, sleeps until the reset when
  that is short or ends the poll with `TransientError(retry_after=...)` when it is not.
- Mastodon also limits requests carrying `min_id`/`max_id`/`since_id` to 300 per 15 minutes
  (DESIGN.md section 4) without advertising it in headers, so those are counted here in a
  sliding window (`paging_budget` per `paging_window_s`).
- Mastodon.py reports failures as its own exception types; the collector needs ours:
  `TransientError` (5xx, timeouts, truncated or non-JSON bodies, 429) and `FatalSourceError`
  (401: "needs a token"; 403/404/410: the base URL or hashtag is wrong).
- Every wait (a 429 waited out, the paging budget, pacing) is noted as a completeness signal
  (`take_signals`) that the collector puts on the batch it was waiting for; a failure carries
  its own (`rate_limit_wait`, `unreachable`, `needs_token`).
- Link headers are read raw from the HTTP response (a `requests` hook), so paging ids stay the
  exact strings the server sent (Mastodon.py turns digit-only ids into ints). Every header is
  read case-insensitively: real Mastodon sends `x-ratelimit-*` and `link` in lower case.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
    MastodonWarning,
)
from requests.structures import CaseInsensitiveDict

from collectors.base import FatalSourceError, TransientError
from collectors.mastodon.parse import to_plain
from domain.brief import brief_error
from domain.records import (
    PACING_WAIT,
    PAGING_BUDGET_WAIT,
    RATE_LIMIT_WAIT,
    UNREACHABLE,
    add_signal,
)
from net.fetcher import (
    certificate_message,
    certificate_problem,
    guarded_session,
    operator_policy,
)

log = logging.getLogger("groundswell.collect.mastodon")
USER_AGENT = "Groundswell/0.1 (hashtag reader; +https://github.com/groundswell)"
NEEDS_TOKEN = "needs_token"

# Mastodon.py warns when instance metadata says a timeline needs a login; we act on that
# ourselves (as "needs a token") instead of printing a warning per request.
warnings.filterwarnings("ignore", message=".*appears to be unavailable.*", category=MastodonWarning)


def link_params(links: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """requests' parsed `Link` header ({rel: {"url": ...}}) -> {rel: {query param: value}}.

    The header is parsed by requests (`Response.links`, the parser Mastodon.py uses too), read
    case-insensitively: real servers send `link` in lower case. Values stay the server's
    strings (Mastodon.py turns digit-only ids into ints)."""
    out: dict[str, dict[str, str]] = {}
    for rel, link in links.items():
        url = link.get("url") if isinstance(link, Mapping) else None
        if isinstance(url, str):
            query = parse_qs(urlsplit(url).query)
            out[str(rel)] = {k: v[0] for k, v in query.items() if v}
    return out


@dataclass(slots=True)
class Page:
    """One timeline page: the statuses as plain JSON, and its `Link` header, verbatim."""

    items: list[dict[str, Any]]
    links: dict[str, dict[str, str]]

    def link(self, rel: str, param: str) -> str | None:
        return self.links.get(rel, {}).get(param)


class InstanceClient:
    """Mastodon.py pointed at one instance; every call goes through `call`."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        token_env: str | None = None,
        timeout_s: float = 30.0,
        paging_budget: int = 300,
        paging_window_s: float = 900.0,
        max_wait_s: float = 20.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url
        self.host = urlsplit(base_url).netloc
        self.has_token = bool(token)
        self.token_env = token_env
        self.paging_budget = paging_budget
        self.paging_window_s = paging_window_s
        self.max_wait_s = max_wait_s
        self.sleep = sleep
        self.clock = clock
        self.lock = threading.RLock()
        # Every connection and redirect hop checked: this instance's own address is allowed
        # (the operator configured it), anywhere it redirects to must be public.
        self.session = guarded_session(operator_policy(base_url))
        self.session.hooks["response"].append(self._capture)
        # The last reply's headers, case-insensitive like requests' own (real Mastodon sends
        # `x-ratelimit-*` and `link` in lower case), and its `Link` header parsed.
        self.last_headers: Mapping[str, str] = CaseInsensitiveDict()
        self.last_links: dict[str, dict[str, str]] = {}
        self.api = Mastodon(
            api_base_url=base_url,
            access_token=token,
            ratelimit_method="throw",
            request_timeout=timeout_s,
            session=self.session,
            user_agent=USER_AGENT,
            version_check_mode="none",
        )
        self._paging: deque[float] = deque()
        self._last_call: float | None = None
        self._info: dict[str, Any] | None = None
        self.requests_made = 0
        # Signals noted by calls on each thread (sources of one instance share this client,
        # live streams run on their own threads), until the collector takes them.
        self._pending = threading.local()

    # -- bookkeeping

    def _capture(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        # Streams run on their own threads and carry no paging or rate-limit news for us.
        if "/api/v1/streaming" not in str(getattr(response, "url", "")):
            self.last_headers = CaseInsensitiveDict(response.headers)
            self.last_links = link_params(response.links)

    def link(self, rel: str, param: str) -> str | None:
        return self.last_links.get(rel, {}).get(param)

    def budget(self) -> dict[str, Any]:
        """What `groundswell status` shows about this instance's limits."""
        now = self.clock()
        self._expire(now)
        reset = self.api.ratelimit_reset
        return {
            "limit": self.api.ratelimit_limit,
            "remaining": self.api.ratelimit_remaining,
            "reset_in_s": round(max(0.0, reset - now), 1) if reset else None,
            "paging_used": len(self._paging),
            "paging_budget": self.paging_budget,
            "paging_window_s": self.paging_window_s,
        }

    def _expire(self, now: float) -> None:
        while self._paging and self._paging[0] <= now - self.paging_window_s:
            self._paging.popleft()

    def _signals(self) -> dict[str, float]:
        pending: dict[str, float] | None = getattr(self._pending, "signals", None)
        if pending is None:
            pending = self._pending.signals = {}
        return pending

    def take_signals(self) -> dict[str, float]:
        """The completeness signals noted on this thread since the last call (then cleared)."""
        out = self._signals()
        self._pending.signals = {}
        return out

    def _wait(self, seconds: float, why: str, signal: str) -> None:
        if seconds <= 0:
            return
        if seconds > self.max_wait_s:
            raise TransientError(
                f"{self.host}: {why}; next try in {seconds:.0f} s",
                retry_after=seconds,
                signal=signal,
            )
        log.debug("%s: %s; waiting %.2f s", self.host, why, seconds)
        add_signal(self._signals(), signal, seconds=seconds)
        self.sleep(seconds)

    def _pace(self, paging: bool) -> None:
        """Sleep as needed so neither the advertised limit nor the paging budget is exceeded."""
        now = self.clock()
        if paging:
            self._expire(now)
            if len(self._paging) >= self.paging_budget:
                self._wait(
                    self._paging[0] + self.paging_window_s - now,
                    f"paging budget of {self.paging_budget} per {self.paging_window_s:.0f} s used",
                    PAGING_BUDGET_WAIT,
                )
        if "X-RateLimit-Remaining" not in self.last_headers:
            return  # nothing advertised yet
        remaining = self.api.ratelimit_remaining
        reset = self.api.ratelimit_reset
        limit = self.api.ratelimit_limit or 300
        now = self.clock()
        if reset is None or reset <= now or remaining is None:
            return
        if remaining <= 0:
            self._wait(reset - now + 0.05, "rate limit reached", RATE_LIMIT_WAIT)
        elif remaining < limit / 2 and self._last_call is not None:
            # Spread what is left evenly over the time to the reset (Mastodon.py's "pace").
            interval = (reset - now) / remaining
            self._wait(
                min(interval - (now - self._last_call), self.max_wait_s), "pacing", PACING_WAIT
            )

    # -- calls

    def call(
        self, what: str, fn: Callable[..., Any], *args: Any, paging: bool = False, **kw: Any
    ) -> Any:
        """Run one client call with pacing; map its failures to our typed errors."""
        with self.lock:
            for attempt in (1, 2):
                self._pace(paging)
                if paging:
                    self._paging.append(self.clock())
                self._last_call = self.clock()
                self.requests_made += 1
                try:
                    return fn(*args, **kw)
                except MastodonRatelimitError:
                    now = self.clock()
                    reset = self.api.ratelimit_reset
                    wait = (reset - now + 0.05) if reset and reset > now else 60.0
                    if attempt == 1 and wait <= self.max_wait_s:
                        log.info(
                            "%s: 429 on %s; waiting %.1f s for the reset", self.host, what, wait
                        )
                        add_signal(self._signals(), RATE_LIMIT_WAIT, seconds=wait)
                        self.sleep(wait)
                        continue
                    raise TransientError(
                        f"{self.host}: rate limited (429) on {what}; retrying after the reset",
                        retry_after=wait,
                        signal=RATE_LIMIT_WAIT,
                    ) from None
                except MastodonError as exc:
                    raise self._map(exc, what) from exc
            raise AssertionError("unreachable")

    def _map(self, exc: MastodonError, what: str) -> Exception:
        where = f"{self.base_url} ({what})"
        if isinstance(exc, MastodonUnauthorizedError):
            return self.needs_token(where, "refused the request (401)")
        if isinstance(exc, MastodonNotFoundError):
            return FatalSourceError(
                f"{where}: not found (404); check base_url points at a Mastodon server",
                status="fatal",
            )
        if isinstance(exc, MastodonServerError):
            code = _code(exc)
            gateway = UNREACHABLE if code in (502, 503, 504) else None
            return TransientError(f"{where}: server error {code}", signal=gateway)
        if isinstance(exc, MastodonNetworkError):
            problem = certificate_problem(exc)
            if problem is not None:
                return TransientError(f"{where}: {certificate_message(problem, self.base_url)}")
            return TransientError(
                f"{where}: network error or timeout: {_short(exc)}", signal=UNREACHABLE
            )
        if isinstance(exc, MastodonAPIError):
            code = _code(exc)
            if code in (403, 410):
                return FatalSourceError(
                    f"{where}: refused ({code}); check the instance allows API access"
                )
            if code is None:
                return TransientError(f"{where}: malformed reply (not JSON or truncated)")
            return TransientError(f"{where}: HTTP {code}: {_short(exc)}")
        return TransientError(f"{where}: {_short(exc)}")

    def needs_token(self, where: str, why: str) -> FatalSourceError:
        if self.has_token:
            fix = f"the token in ${self.token_env} was refused; create a new read-only token"
        elif self.token_env:
            fix = f"set ${self.token_env} to a read-only access token for this instance"
        else:
            fix = 'add token_env = "..." for this instance and set that variable to a token'
        return FatalSourceError(f"{where} {why}: needs a token; {fix}", status=NEEDS_TOKEN)

    # -- endpoints

    def info(self) -> dict[str, Any]:
        """Instance metadata (v2, else v1), fetched once: the local domain and timelines access."""
        if self._info is None:
            info: dict[str, Any] = {}
            try:
                raw = to_plain(self.call("instance", self.api.instance_v2))
                info = {
                    "domain": raw.get("domain"),
                    "version": raw.get("version"),
                    "timelines_access": (raw.get("configuration") or {}).get("timelines_access"),
                }
            except FatalSourceError as exc:
                if getattr(exc, "status", None) == NEEDS_TOKEN:
                    raise
                try:
                    raw = to_plain(self.call("instance", self.api.instance_v1))
                    info = {"domain": raw.get("uri"), "version": raw.get("version")}
                except FatalSourceError:
                    info = {}
            if not isinstance(info.get("domain"), str) or not info["domain"]:
                info["domain"] = urlsplit(self.base_url).hostname or self.host
            info["domain"] = info["domain"].lower()
            self._info = info
        return self._info

    @property
    def domain(self) -> str:
        return str(self.info()["domain"])

    def hashtag_needs_login(self) -> bool:
        """True when the instance says its hashtag timelines are not public."""
        return self.timeline_access("#") in ("authenticated", "disabled")

    def timeline_access(self, timeline: str) -> str | None:
        """Who may read `timeline` (`#tag`, `local`, `public`) by the instance's own word
        (Mastodon 4.4+ `configuration.timelines_access`): "public", "authenticated" or
        "disabled"; None when the instance does not say (older servers: just ask).

        The federated `public` timeline is as open as the more open of its local and remote
        parts (the server serves the part it allows), as Mastodon.py reads it too."""
        access = self.info().get("timelines_access")
        if not isinstance(access, dict):
            return None
        feed = access.get("hashtag_feeds" if timeline.startswith("#") else "live_feeds")
        if not isinstance(feed, dict):
            return None
        parts = ["local"] if timeline == "local" else ["local", "remote"]
        levels = [feed.get(p) for p in parts]
        for level in ("public", "authenticated", "disabled"):
            if level in levels:
                return level
        return None

    def timeline_page(
        self, timeline: str, *, limit: int, min_id: str | None = None, max_id: str | None = None
    ) -> Page:
        """One page of `#tag`, the `local` timeline or the federated `public` one, with its
        `Link` header as the server sent it."""
        paging = min_id is not None or max_id is not None
        kw: dict[str, Any] = {"min_id": min_id, "max_id": max_id, "limit": limit}
        if timeline.startswith("#"):
            fn: Callable[..., Any] = self.api.timeline_hashtag
            args: tuple[Any, ...] = (timeline[1:],)
        elif timeline == "local":
            fn, args = self.api.timeline_local, ()
        elif timeline == "public":
            fn, args = self.api.timeline_public, ()
        else:
            raise ValueError(f"unknown timeline {timeline!r}")
        what = timeline if timeline.startswith("#") else f"{timeline} timeline"
        with self.lock:  # the Link header read must belong to this very reply
            page = self.call(what, fn, *args, paging=paging, **kw)
            links = dict(self.last_links)
        if not isinstance(page, list):
            raise TransientError(f"{self.base_url} ({what}): expected a list of statuses")
        return Page([to_plain(item) for item in page], links)

    def hashtag_page(
        self, tag: str, *, limit: int, min_id: str | None = None, max_id: str | None = None
    ) -> Page:
        return self.timeline_page(f"#{tag}", limit=limit, min_id=min_id, max_id=max_id)

    def status(self, local_id: str) -> dict[str, Any] | None:
        try:
            return to_plain(self.call(f"status {local_id}", self.api.status, local_id))
        except FatalSourceError as exc:
            if exc.status == NEEDS_TOKEN:
                return None  # a private parent: not ours to see
            return None

    def reblogged_by(self, local_id: str, *, max_pages: int = 10) -> list[dict[str, Any]]:
        """Every account that boosted the status, following the `Link` pages."""
        with self.lock:
            return self._reblogged_by(local_id, max_pages)

    def _reblogged_by(self, local_id: str, max_pages: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page = self.call(f"reblogged_by {local_id}", self.api.status_reblogged_by, local_id)
        for _ in range(max_pages):
            if not isinstance(page, list) or not page:
                break
            out.extend(to_plain(a) for a in page)
            nxt = getattr(page, "_pagination_next", None)
            raw_max = self.link("next", "max_id")
            if not nxt or raw_max is None:
                break
            nxt = dict(nxt)
            nxt["max_id"] = raw_max  # the server's string, not Mastodon.py's int
            page = self.call(f"reblogged_by {local_id}", self.api.fetch_next, nxt, paging=True)
        return out


def _code(exc: MastodonError) -> int | None:
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    code = args[1] if len(args) >= 2 else None
    return code if isinstance(code, int) else None


def _short(exc: BaseException) -> str:
    return brief_error(exc)  # never "host='mastodon.socia": cut between words
