"""What a post looks like on its platform *now*: for `hydrate` (rebuild a shared ID-only
dataset) and `recheck` (turn deletions into tombstones).

One lookup per platform, through the platform's real client: Mastodon.py `status()` on the
status's origin instance, atproto `app.bsky.feed.getPosts` (25 URIs a call) on a public
AppView, and the safe fetcher (`groundswell.net`) for blogs, pingbacks and webmentions.

Every answer is one of: `ok` (with the current content), `deleted` (404/410, or missing from
getPosts), `opted_out` (the author opted out since: Mastodon noindex / discoverable=false,
Bluesky `!no-unauthenticated`), `unsupported` (an id this lookup cannot resolve) or `error`
(the platform could not be asked; nothing is concluded). Only `deleted` ever deletes anything.

The hosts come from ID lists that strangers may hand us, so both clients connect only through
the guarded transport (`groundswell.net.guarded_session` / `guarded_request`): the address
policy is applied to the address actually connected to, on every redirect hop.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from groundswell.net import (
    Fetcher,
    FetchError,
    FetchPolicy,
    GoneError,
    PermanentFetchError,
    check_url,
    guarded_request,
    guarded_session,
)
from groundswell.sanitize import clean_text, html_to_text
from storage.records import AccountRecord

MASTODON_STATUS_URI = re.compile(r"^(https?://[^/\s]+)/users/([^/\s]+)/statuses/(\d+)/?$")
AT_POST_URI = re.compile(
    r"^at://(did:[a-z]+:[A-Za-z0-9._:%-]+)/app\.bsky\.feed\.post/([A-Za-z0-9._~:-]+)$"
)
HTTP_URL = re.compile(r"https?://[^\s<>\"']+")
TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
DEFAULT_APPVIEW = "https://public.api.bsky.app"
GET_POSTS_MAX = 25


@dataclass(slots=True)
class Found:
    platform: str
    native_id: str
    state: str  # ok | deleted | opted_out | unsupported | error
    detail: str = ""
    record: dict[str, Any] | None = None
    account: AccountRecord | None = None  # current opt-out flags, for recheck to store


def valid_native_id(platform: str, native_id: str) -> str | None:
    """Why this id cannot belong to this platform, or None (used to reject malformed lines)."""
    if not native_id or len(native_id) > 2000:
        return "empty or longer than 2000 characters"
    if platform in ("bluesky", "mastodon", "blog") and any(ch.isspace() for ch in native_id):
        return "contains spaces"
    if platform == "bluesky" and not native_id.startswith("at://"):
        return "a Bluesky id is an at:// URI"
    if platform == "mastodon" and not native_id.startswith(("https://", "http://")):
        return "a Mastodon id is the status URI (https://...)"
    return None


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value) if value else None


class Lookups:
    """The platform clients, configured once per command."""

    def __init__(
        self,
        *,
        policy: FetchPolicy | None = None,
        bluesky_base_url: str = DEFAULT_APPVIEW,
        bluesky_client: Any = None,
        instance_urls: dict[str, str] | None = None,
        discoverable_false_is_opt_out: bool = True,
        timeout_s: float = 15.0,
    ) -> None:
        """`bluesky_client`: the collector's logged-in `BlueskyClient` (used when credentials
        are configured). `instance_urls`: host -> base URL for Mastodon instances reached at
        another address than their domain (local test servers, internal mirrors)."""
        self.bluesky_client = bluesky_client
        self.instance_urls = dict(instance_urls or {})
        self.policy = policy or FetchPolicy(timeout_s=timeout_s)
        self.bluesky_base_url = bluesky_base_url.rstrip("/")
        self.discoverable_false_is_opt_out = discoverable_false_is_opt_out
        self.timeout_s = timeout_s
        self._mastodon: dict[str, Any] = {}
        self._bluesky: Any = None
        self._fetcher: Fetcher | None = None

    def close(self) -> None:
        if self._fetcher is not None:
            self._fetcher.close()

    def __enter__(self) -> Lookups:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lookup(self, platform: str, native_ids: Sequence[str]) -> list[Found]:
        if platform == "mastodon":
            return [self.mastodon(n) for n in native_ids]
        if platform == "bluesky":
            out: list[Found] = []
            for i in range(0, len(native_ids), GET_POSTS_MAX):
                out.extend(self.bluesky(native_ids[i : i + GET_POSTS_MAX]))
            return out
        if platform in ("blog", "pingback", "webmention"):
            return [self.web(platform, n) for n in native_ids]
        return [
            Found(platform, n, "unsupported", f"unknown platform {platform!r}") for n in native_ids
        ]

    # -- Mastodon --------------------------------------------------------------------------

    def _guard(self, url: str) -> str | None:
        try:
            check_url(url, self.policy)
        except FetchError as exc:
            return str(exc)
        return None

    def mastodon(self, native_id: str) -> Found:
        from mastodon import Mastodon, MastodonAPIError, MastodonError, MastodonNotFoundError

        m = MASTODON_STATUS_URI.match(native_id)
        if not m:
            return Found(
                "mastodon",
                native_id,
                "unsupported",
                "not a Mastodon status URI (https://host/users/NAME/statuses/ID)",
            )
        base, _user, status_id = m.groups()
        domain = urlsplit(base).netloc
        base = self.instance_urls.get(domain, base)
        refusal = self._guard(base + "/")
        if refusal:
            return Found("mastodon", native_id, "error", refusal)
        api = self._mastodon.get(base)
        if api is None:
            api = Mastodon(
                api_base_url=base,
                version_check_mode="none",
                request_timeout=self.timeout_s,
                ratelimit_method="pace",
                user_agent="Groundswell (research re-check)",
                session=guarded_session(self.policy),
            )
            self._mastodon[base] = api
        try:
            status = api.status(status_id)
        except MastodonNotFoundError:
            return Found("mastodon", native_id, "deleted", "404 from the origin instance")
        except MastodonAPIError as exc:
            code = exc.args[1] if len(exc.args) > 1 else None
            if code == 410:
                return Found("mastodon", native_id, "deleted", "410 from the origin instance")
            return Found("mastodon", native_id, "error", f"Mastodon API error {code}")
        except MastodonError as exc:
            return Found("mastodon", native_id, "error", f"{type(exc).__name__}: {exc}")
        acct = status["account"]
        acct_name = str(acct.get("acct") or "")
        absolute = acct_name if "@" in acct_name else f"{acct_name}@{domain}"
        account = AccountRecord(
            platform="mastodon",
            native_id=absolute,
            handle=absolute,
            indexable=acct.get("indexable"),
            discoverable=acct.get("discoverable"),
            noindex=acct.get("noindex"),
        )
        opted = account.noindex is True or (
            self.discoverable_false_is_opt_out and account.discoverable is False
        )
        if opted:
            return Found("mastodon", native_id, "opted_out", "author opted out", account=account)
        record = {
            "platform": "mastodon",
            "native_id": native_id,
            "url": status.get("url"),
            "created_at": _iso(status.get("created_at")),
            "author": absolute,
            "text": html_to_text(status.get("content")),
            "spoiler_text": status.get("spoiler_text") or None,
            "lang": status.get("language"),
            "like_count": status.get("favourites_count"),
            "repost_count": status.get("reblogs_count"),
            "reply_count": status.get("replies_count"),
        }
        return Found("mastodon", native_id, "ok", record=record, account=account)

    # -- Bluesky ---------------------------------------------------------------------------

    def _get_posts(self, uris: list[str]) -> dict[str, Any]:
        """getPosts as JSON: through the collector's logged-in client when one is given
        (bsky.social needs a login), else anonymously from a public AppView."""
        from atproto import Client, models

        params = models.AppBskyFeedGetPosts.Params(uris=uris)
        if self.bluesky_client is not None:
            return dict(
                self.bluesky_client.query("app.bsky.feed.getPosts", params, what="getPosts")
            )
        if self._bluesky is None:
            self._bluesky = Client(
                base_url=self.bluesky_base_url, request=guarded_request(self.policy)
            )
        content = self._bluesky.invoke_query("app.bsky.feed.getPosts", params=params).content
        if not isinstance(content, dict):
            raise ValueError("getPosts replied with something that is not JSON")
        return content

    def bluesky(self, uris: Sequence[str]) -> list[Found]:
        good = [u for u in uris if AT_POST_URI.match(u)]
        out = [
            Found("bluesky", u, "unsupported", "not an app.bsky.feed.post at:// URI")
            for u in uris
            if not AT_POST_URI.match(u)
        ]
        if not good:
            return out
        if self.bluesky_client is None:
            refusal = self._guard(self.bluesky_base_url + "/")
            if refusal:
                return out + [Found("bluesky", u, "error", refusal) for u in good]
        try:
            content = self._get_posts(good)
        except Exception as exc:  # typed SDK/transport errors: nothing is concluded
            msg = f"getPosts failed: {type(exc).__name__}: {str(exc)[:200]}"
            return out + [Found("bluesky", u, "error", msg) for u in good]
        raw_posts = content.get("posts")
        posts: list[Any] = raw_posts if isinstance(raw_posts, list) else []
        by_uri = {p.get("uri"): p for p in posts if isinstance(p, dict)}
        for uri in good:
            post = by_uri.get(uri)
            if post is None:
                out.append(Found("bluesky", uri, "deleted", "not returned by getPosts"))
                continue
            out.append(self._bluesky_found(uri, post))
        return out

    def _bluesky_found(self, uri: str, post: dict[str, Any]) -> Found:
        raw_author = post.get("author")
        author: dict[str, Any] = raw_author if isinstance(raw_author, dict) else {}
        labels = {lab.get("val") for lab in author.get("labels") or [] if isinstance(lab, dict)}
        did = str(author.get("did") or uri.split("/")[2])
        account = AccountRecord(
            platform="bluesky",
            native_id=did,
            handle=author.get("handle"),
            no_unauthenticated="!no-unauthenticated" in labels,
        )
        if account.no_unauthenticated:
            return Found("bluesky", uri, "opted_out", "author opted out", account=account)
        raw_rec = post.get("record")
        rec: dict[str, Any] = raw_rec if isinstance(raw_rec, dict) else {}
        langs = rec.get("langs") if isinstance(rec.get("langs"), list) else []
        return Found(
            "bluesky",
            uri,
            "ok",
            record={
                "platform": "bluesky",
                "native_id": uri,
                "url": f"https://bsky.app/profile/{did}/post/{uri.rsplit('/', 1)[1]}",
                "created_at": rec.get("createdAt"),
                "author": did,
                "text": clean_text(rec.get("text")) if isinstance(rec.get("text"), str) else None,
                "lang": langs[0] if langs else None,
                "like_count": post.get("likeCount"),
                "repost_count": post.get("repostCount"),
                "reply_count": post.get("replyCount"),
            },
            account=account,
        )

    # -- blogs, pingbacks, webmentions -------------------------------------------------------

    def web(self, platform: str, native_id: str) -> Found:
        m = HTTP_URL.search(native_id)
        if not m:
            return Found(platform, native_id, "unsupported", "no http(s) URL in the id")
        url = m.group(0)
        if self._fetcher is None:
            self._fetcher = Fetcher(self.policy)
        try:
            res = self._fetcher.get(url, accept="text/html,application/xhtml+xml")
        except GoneError:
            return Found(platform, native_id, "deleted", "410 Gone")
        except PermanentFetchError as exc:
            if exc.status == 404:
                return Found(platform, native_id, "deleted", "404 Not Found")
            return Found(platform, native_id, "error", str(exc))
        except FetchError as exc:
            return Found(platform, native_id, "error", str(exc))
        body = res.text()
        title = TITLE_RE.search(body)
        return Found(
            platform,
            native_id,
            "ok",
            record={
                "platform": platform,
                "native_id": native_id,
                "url": res.url,
                "title": html_to_text(title.group(1)) if title else None,
                "text": html_to_text(body),
            },
        )
