"""What a post looks like on its platform *now*: for `hydrate` (rebuild a shared ID-only
dataset) and `recheck` (turn deletions into tombstones).

One lookup per platform, through the platform's real client: Mastodon.py `status()` on the
status's origin instance, atproto `app.bsky.feed.getPosts` (25 URIs a call) on a public
AppView, and the safe fetcher (`net.fetcher`) for blogs, pingbacks and webmentions.

Every answer is one of: `ok` (with the current content), `deleted` (404/410, or missing from
getPosts), `opted_out` (the author opted out since: Mastodon noindex / discoverable=false,
Bluesky `!no-unauthenticated`), `unsupported` (an id this lookup cannot resolve) or `error`
(the platform could not be asked; nothing is concluded). Only `deleted` ever deletes anything.

The hosts come from ID lists that strangers may hand us, so both clients connect only through
the guarded transport (`net.fetcher.guarded_session` / `guarded_request`): the address
policy is applied to the address actually connected to, on every redirect hop.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from domain.records import AccountRecord
from domain.sanitize import clean_text, html_to_text
from net.fetcher import (
    Fetcher,
    FetchError,
    FetchPolicy,
    GoneError,
    PermanentFetchError,
    check_url_shape,
    guarded_request,
    guarded_session,
    operator_policy,
)

# The guard's refusal as the connection raised it (`net.fetcher.AddressRefused`), found in a
# client library's error text however deeply it wrapped it.
_REFUSAL = re.compile(r"[^\s'\"(]+ resolves to [^;]+; refused \(SSRF guard\)")


def _why(exc: BaseException) -> str:
    """A client library's error in one short line; an address refusal is named as such."""
    text = str(exc)
    refusal = _REFUSAL.search(text)
    if refusal:
        return refusal.group(0)
    return f"{type(exc).__name__}: {text[:200]}"


# Status URIs whose last segment is the status's API id on its origin: Mastodon
# (`/users/NAME/statuses/ID`, 4.4+ `/ap/users/ID/statuses/ID`) and GoToSocial (a ULID).
ORIGIN_ID_URI = re.compile(
    r"^(https?://[^/\s]+)/(?:users/[^/\s]+|ap/users/\d+)/statuses/([0-9A-Za-z]+)/?$"
)
# Shapes that name no API id: found by a search for the URI on an instance that has them.
OTHER_SHAPES = (
    (re.compile(r"^https?://[^/\s]+/objects/[^/\s]+/?$"), "a Pleroma/Akkoma object URI"),
    (re.compile(r"^https?://[^/\s]+/notes/[^/\s]+/?$"), "a Misskey-family note URI"),
)
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


def _no_origin_id(native_id: str) -> str:
    """Why a status's origin cannot be asked by the id in its URI."""
    for pattern, what in OTHER_SHAPES:
        if pattern.match(native_id):
            return (
                f"{what} names no id its server's API takes; it is found through an instance "
                "that carried it: configure one under [mastodon]"
            )
    return "not a status URI with an id its origin's API takes (/users/NAME/statuses/ID)"


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
        bluesky_policy: FetchPolicy | None = None,
        bluesky_client: Any = None,
        instance_urls: dict[str, str] | None = None,
        mastodon_instances: Sequence[tuple[str, str | None]] = (),
        discoverable_false_is_opt_out: bool = True,
        timeout_s: float = 15.0,
    ) -> None:
        """`bluesky_client`: the collector's logged-in `BlueskyClient` (used when credentials
        are configured). `instance_urls`: host -> base URL for Mastodon instances reached at
        another address than their domain (local test servers, internal mirrors).
        `mastodon_instances`: the configured instances and their tokens, asked first."""
        self.bluesky_client = bluesky_client
        self.instance_urls = dict(instance_urls or {})
        # The configured [mastodon] instances (base URL, token or None), asked first.
        self.mastodon_instances = [base.rstrip("/") for base, _ in mastodon_instances]
        self.mastodon_tokens = {base.rstrip("/"): t for base, t in mastodon_instances if t}
        self._domains: dict[str, str] = {}
        self.policy = policy or FetchPolicy(timeout_s=timeout_s)
        self.bluesky_base_url = bluesky_base_url.rstrip("/")
        # The configured Bluesky service may sit on the operator's own network
        # (`net.fetcher.operator_policy`); anything else keeps `policy`.
        self.bluesky_policy = bluesky_policy or self.policy
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

    def lookup(
        self,
        platform: str,
        native_ids: Sequence[str],
        *,
        seen: Mapping[str, Sequence[tuple[str, str | None]]] | None = None,
    ) -> list[Found]:
        """`seen`: Mastodon only, native id -> [(instance, local id)] where it was seen."""
        if platform == "mastodon":
            return [self.mastodon(n, (seen or {}).get(n, ())) for n in native_ids]
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

    @staticmethod
    def _guard(url: str) -> str | None:
        """Why `url` is never asked (not http(s), credentials), or None. Its address is
        checked by the connection itself (the guarded session or transport), which resolves
        the host once and connects to the address it checked: no second resolution here."""
        try:
            check_url_shape(url)
        except FetchError as exc:
            return str(exc)
        return None

    def _api(self, base: str) -> Any:
        """One Mastodon.py client per base URL, through the guarded transport (with the
        instance's token when it is a configured one whose token is in the environment)."""
        from mastodon import Mastodon

        api = self._mastodon.get(base)
        if api is None:
            api = Mastodon(
                api_base_url=base,
                access_token=self.mastodon_tokens.get(base),
                version_check_mode="none",
                request_timeout=self.timeout_s,
                ratelimit_method="pace",
                user_agent="Groundswell (research re-check)",
                session=guarded_session(self._policy_for(base)),
            )
            self._mastodon[base] = api
        return api

    def _policy_for(self, base: str) -> FetchPolicy:
        """A configured instance is the operator's: its own address is allowed as the
        collector allows it (`operator_policy`); any other host follows `policy`."""
        if base in self.mastodon_instances or base in self.instance_urls.values():
            return replace(
                self.policy,
                allow_networks=operator_policy(base).allow_networks + self.policy.allow_networks,
            )
        return self.policy

    def _domain_of(self, base: str) -> str:
        """The domain an instance calls itself (its statuses' `acct`s are relative to it);
        asked once, else the host of its base URL."""
        if base not in self._domains:
            domain = urlsplit(base).netloc
            try:
                raw = self._api(base).instance_v2()
                if isinstance(raw.get("domain"), str) and raw["domain"]:
                    domain = raw["domain"].lower()
            except Exception:  # an instance that will not say: its host will do
                pass
            self._domains[base] = domain
        return self._domains[base]

    def _configured_base(self, domain: str) -> str | None:
        """The base URL of the configured instance called `domain` (None: not one of ours)."""
        if domain in self.instance_urls:
            return self.instance_urls[domain]
        for base in self.mastodon_instances:
            if urlsplit(base).netloc == domain or self._domain_of(base) == domain:
                return base
        return None

    def _by_id(self, base: str, domain: str, native_id: str, local_id: str) -> Found | str:
        """The status by its id on `base`: a Found (ok, opted out, deleted) or why not."""
        from mastodon import MastodonAPIError, MastodonError, MastodonNotFoundError

        refusal = self._guard(base + "/")
        if refusal:
            return refusal
        try:
            status = self._api(base).status(local_id)
        except MastodonNotFoundError:
            return Found("mastodon", native_id, "deleted", f"404 from {domain} (id {local_id})")
        except MastodonAPIError as exc:
            code = exc.args[1] if len(exc.args) > 1 else None
            if code == 410:
                return Found("mastodon", native_id, "deleted", f"410 from {domain}")
            if code in (401, 403):
                return f"{domain} refused an anonymous read ({code}): set its token_env"
            return f"{domain}: Mastodon API error {code}"
        except MastodonError as exc:
            return f"{domain}: {_why(exc)}"
        if not isinstance(status, dict) or status.get("uri") != native_id:
            return f"{domain}: id {local_id} is another status now"
        return self._mastodon_found(native_id, status, domain)

    def _by_search(self, base: str, native_id: str) -> Found | str:
        """The status found by searching its URI on `base` (a search that finds nothing is
        no proof of deletion: the instance may never have fetched it)."""
        from mastodon import MastodonError

        refusal = self._guard(base + "/")
        if refusal:
            return refusal
        domain = self._domain_of(base)
        api = self._api(base)
        try:
            found = api.search_v2(
                native_id, resolve=base in self.mastodon_tokens, result_type="statuses"
            )
        except MastodonError as exc:
            return f"search on {domain} failed: {_why(exc)}"
        for status in (found or {}).get("statuses") or []:
            if isinstance(status, dict) and status.get("uri") == native_id:
                return self._mastodon_found(native_id, status, domain)
        return f"not found by a search for its uri on {domain}"

    def mastodon(self, native_id: str, seen: Sequence[tuple[str, str | None]] = ()) -> Found:
        """The status now, asked (1) on the configured instances where it was seen, by its id
        there, else by a search for its URI there; (2) by a search on the other configured
        instances; (3) on its origin, by the id its URI carries (Mastodon, GoToSocial).
        A 404/410 by id is a deletion; anything else that concludes nothing says why."""
        reasons: list[str] = []
        asked = False
        tried: set[str] = set()
        for domain, local_id in seen:
            base = self._configured_base(domain)
            if base is None:
                reasons.append(f"seen on {domain}, which is not a configured [mastodon] instance")
                continue
            tried.add(base)
            for attempt in ("id", "search"):
                if attempt == "id" and not local_id:
                    continue
                asked = True
                res = (
                    self._by_id(base, domain, native_id, local_id or "")
                    if attempt == "id"
                    else self._by_search(base, native_id)
                )
                if isinstance(res, Found):
                    return res
                reasons.append(res)
        for base in self.mastodon_instances:
            if base not in tried:
                asked = True
                res = self._by_search(base, native_id)
                if isinstance(res, Found):
                    return res
                reasons.append(res)
        m = ORIGIN_ID_URI.match(native_id)
        if m:
            origin, status_id = m.group(1), m.group(2)
            domain = urlsplit(origin).netloc
            base = self._configured_base(domain) or origin
            asked = True
            res = self._by_id(base, domain, native_id, status_id)
            if isinstance(res, Found):
                return res
            reasons.append(res)
        else:
            reasons.append(_no_origin_id(native_id))
        return Found("mastodon", native_id, "error" if asked else "unsupported", "; ".join(reasons))

    def _mastodon_found(self, native_id: str, status: dict[str, Any], domain: str) -> Found:
        """ok (with the current content) or opted_out, from a status `domain` served."""
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
                base_url=self.bluesky_base_url, request=guarded_request(self.bluesky_policy)
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
            msg = f"getPosts failed: {_why(exc)}"
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
        # Stored page URLs are canonical (docs/blogs.md, "One page, one identity"), and the
        # canonical form drops a trailing slash: `/why-i-pledged` stands for `/why-i-pledged/`
        # too, and many servers answer only one of the two (without redirecting). A page is
        # gone only when every spelling its canonical URL stands for is gone.
        spellings = [url]
        path = urlsplit(url).path
        if path not in ("", "/") and not path.endswith("/"):
            spellings.append(urlunsplit(urlsplit(url)._replace(path=path + "/")))
        for i, ask in enumerate(spellings):
            last = i == len(spellings) - 1
            try:
                res = self._fetcher.get(ask, accept="text/html,application/xhtml+xml")
                break
            except GoneError:
                return Found(platform, native_id, "deleted", "410 Gone")
            except PermanentFetchError as exc:
                if exc.status != 404:
                    return Found(platform, native_id, "error", str(exc))
                if last:
                    return Found(platform, native_id, "deleted", "404 Not Found")
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
