"""Links that lead to people (DESIGN.md section 6).

A URL of a Mastodon status or profile carries the handle (`https://host/@name/123`), a
bsky.app URL the handle or DID, and any URL on a tracked blog's host names the blog, which is
its author. So in a pseudonymised export such links become **keyed references**:
`mention:<pseudonym>` / `account:<pseudonym>` with the same HMAC as the `mention_id` and
`account_id` columns (a researcher can still follow a link to a post in the dataset), or
`link:<pseudonym>` for a person's page Groundswell cannot name. Links to the wider web (a
pledge page, a news article) stay as they are.

In every export, pseudonymised or not, a link to a withheld post (deleted, its author opted
out, a consent-gated match) or to an opted-out account is removed, and the row says so: the URL
would carry the post's id.

Deciding needs the store (blog hosts, handles, which posts are withheld), so a chunk of rows is
`prepare`d in a few grouped queries before its rows are shaped; only URLs that can lead to a
person are looked at, everything else passes through untouched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from domain.records import account_id, mention_id
from groundswell.export.pseudonym import Pseudonymiser
from storage.people_links import proved_sites
from storage.queries import export as q

URL_RE = re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
_HOSTS = re.compile(r"(?:https?://|www\.)(?:[^/\s\"'@]*@)?([^/\s\"'?#:]+)", re.IGNORECASE)
_URL_PARTS = re.compile(r"^(?:(?:https?|at)://|www\.)([^/?#\s]+)([^?#\s]*)", re.IGNORECASE)
_MASTODON_AT = re.compile(r"^/@([^/@]+)(?:@([^/]+))?(?:/([^/]+))?/?$")
_MASTODON_USERS = re.compile(r"^/users/([^/]+)(?:/statuses/([^/]+))?/?$")
_BSKY_PROFILE = re.compile(r"^/profile/([^/]+)(?:/post/([^/]+))?/?$")
_AT_POST = re.compile(r"^/app\.bsky\.feed\.post/([^/]+)$")
# @name@instance (Mastodon) and @name.domain (Bluesky) in free text; not e-mail addresses.
MASTODON_HANDLE_RE = re.compile(r"(?<![\w/@.])@([A-Za-z0-9_]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
DOMAIN_HANDLE_RE = re.compile(r"(?<![\w/@.])@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
BLOG_LIKE = ("blog", "pingback", "webmention")
# A bare host in free text ("I read gpreflections.blog"), not inside an e-mail's local part.
BARE_HOST_RE = re.compile(r"(?<![\w.-])((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,63})(?![\w-])")
BSKY_WEB_HOSTS = ("bsky.app", "staging.bsky.app")


@dataclass(frozen=True, slots=True)
class Target:
    """What a person-link leads to: a post and/or an account (internal ids), else a page
    Groundswell cannot name (`page`)."""

    mention: int | None = None
    account: int | None = None
    page: str | None = None
    blog_url: bool = False  # a page on a blog host: ask the store whether it is a post


class LinkPolicy:
    """Decides, chunk by chunk, what each person-link becomes."""

    def __init__(
        self,
        conn: Connection,
        *,
        pseudo: Pseudonymiser | None,
        discoverable_false_is_opt_out: bool = True,
    ) -> None:
        self._conn = conn
        self._pseudo = pseudo
        self._discoverable = discoverable_false_is_opt_out
        # A blog's host is its author; so is a site an account proved is its own (a Bluesky
        # domain handle, a verified Mastodon field: storage/people_links.py): a link into
        # either, or the bare host in text, names the person (docs/people.md, "Privacy").
        self.blog_hosts = {**proved_sites(conn), **q.blog_hosts(conn)}
        self._dids: dict[str, str] | None = None
        self._tlds: tuple[str, ...] | None = None  # ".blog", ".uk": what a bare host ends in
        # person-URL -> replacement for the current chunk; None means removed (withheld).
        self._decided: dict[str, str | None] = {}
        # Only the few fixed markers go into the regex: an alternation of thousands of blog
        # hosts is matched branch by branch (measured: an export 5x slower); hosts are looked
        # up in the set instead.
        markers = ["/@", "/users/", "/~", "at://", *BSKY_WEB_HOSTS]
        self._maybe = re.compile("|".join(re.escape(m) for m in markers), re.IGNORECASE)

    def maybe_person(self, text: str) -> bool:
        """A cheap test for text that may hold a link to a person: a marker (one C regex
        search), or a URL on a tracked blog's host (set lookups)."""
        if self._maybe.search(text) is not None:
            return True
        hosts = self.blog_hosts
        return bool(hosts) and any(
            h.lower().removeprefix("www.") in hosts for h in _HOSTS.findall(text)
        )

    @property
    def pseudonymised(self) -> bool:
        return self._pseudo is not None

    # -- classification (pure, apart from the lazily loaded handle map) --------------------

    def _did(self, actor: str) -> str | None:
        if actor.startswith("did:"):
            return actor
        if self._dids is None:
            self._dids = q.bluesky_dids_by_handle(self._conn)
        return self._dids.get(actor.lower())

    def classify(self, url: str) -> Target | None:
        """None for the wider web; otherwise what the link leads to."""
        parts = _URL_PARTS.match(url)
        if parts is None:
            return None
        host = parts.group(1).lower().rsplit("@", 1)[-1].split(":", 1)[0]
        path = parts.group(2) or "/"
        if url[:5].lower() == "at://":
            did = parts.group(1)
            post = _AT_POST.match(path)
            acct = account_id("bluesky", did)
            if post:
                return Target(mention=mention_id("bluesky", f"at://{did}{path}"), account=acct)
            return Target(account=acct)
        bare = host.removeprefix("www.")
        if bare in self.blog_hosts:
            return Target(account=self.blog_hosts[bare], blog_url=True)
        if bare in BSKY_WEB_HOSTS:
            prof = _BSKY_PROFILE.match(path)
            if prof:
                did = self._did(prof.group(1))
                if did is None:
                    return Target(page=url)
                acct = account_id("bluesky", did)
                if prof.group(2):
                    native = f"at://{did}/app.bsky.feed.post/{prof.group(2)}"
                    return Target(mention=mention_id("bluesky", native), account=acct)
                return Target(account=acct)
            return None
        at = _MASTODON_AT.match(path)
        if at:
            name, remote, status = at.groups()
            acct = account_id("mastodon", f"{name}@{remote or host}".lower())
            if status and not remote:
                native = f"https://{host}/users/{name}/statuses/{status}"
                return Target(mention=mention_id("mastodon", native), account=acct)
            return Target(account=acct) if not status else Target(account=acct, page=url)
        users = _MASTODON_USERS.match(path)
        if users:
            name, status = users.groups()
            acct = account_id("mastodon", f"{name}@{host}".lower())
            if status:
                native = f"https://{host}/users/{name}/statuses/{status}"
                return Target(mention=mention_id("mastodon", native), account=acct)
            return Target(account=acct)
        if "/@" in path or "/~" in path:  # someone's page on another kind of site
            return Target(page=url)
        return None

    # -- one chunk ---------------------------------------------------------------------------

    def prepare(self, urls: Iterable[str]) -> None:
        """Decide every person-link among `urls` (one chunk's links) in grouped queries."""
        self._decided = {}
        targets: dict[str, Target] = {}
        for url in urls:
            if url in targets:
                continue
            target = self.classify(url)
            if target is not None:
                targets[url] = target
        if not targets:
            return
        blog_posts = q.blog_mentions_by_url(
            self._conn, [u for u, t in targets.items() if t.blog_url]
        )
        for url, t in list(targets.items()):
            if t.blog_url and url in blog_posts:
                targets[url] = Target(mention=blog_posts[url], account=t.account)
        withheld_m, opted_a = q.withheld_among(
            self._conn,
            [t.mention for t in targets.values() if t.mention is not None],
            [t.account for t in targets.values() if t.account is not None],
            discoverable_false_is_opt_out=self._discoverable,
        )
        for url, t in targets.items():
            if t.mention in withheld_m or t.account in opted_a:
                self._decided[url] = None
            elif self._pseudo is None:
                self._decided[url] = url
            else:
                self._decided[url] = self.reference(t)

    def reference(self, t: Target) -> str:
        """The keyed reference for a person-link (pseudonymised exports only)."""
        assert self._pseudo is not None
        if t.mention is not None and t.page is None:
            return f"mention:{self._pseudo.pseudonym('mention', t.mention)}"
        if t.account is not None and t.page is None:
            return f"account:{self._pseudo.pseudonym('account', t.account)}"
        return f"link:{self._pseudo.pseudonym('link', t.page)}"

    def account_reference(self, internal_id: int) -> str:
        assert self._pseudo is not None
        return f"account:{self._pseudo.pseudonym('account', internal_id)}"

    # -- values ------------------------------------------------------------------------------

    def links(self, value: Any) -> tuple[list[str] | None, bool]:
        """The links list after the chunk's decisions (None: unchanged, use it as it is), and
        whether any link was withheld."""
        if value is None:
            return None, False
        decided = self._decided
        if not decided:
            return None, False
        raw = value if isinstance(value, str) else " ".join(value)
        if not self.maybe_person(raw):
            return None, False
        urls = json.loads(value) if isinstance(value, str) else list(value)
        out: list[str] = []
        withheld = False
        for url in urls:
            if url in decided:
                new = decided[url]
                if new is None:
                    withheld = True
                    continue
                out.append(new)
            else:
                out.append(url)
        return out, withheld

    def text(self, value: str | None) -> str | None:
        """Free text with person-links keyed (or removed when withheld) and @handles replaced
        by account references (pseudonymised exports)."""
        if not value or self._pseudo is None:
            return value
        decided = self._decided

        def url(m: re.Match[str]) -> str:
            u = m.group(0)
            if u in decided:
                return decided[u] or "[withheld link]"
            return u

        if decided and ("://" in value or "www." in value):
            value = URL_RE.sub(url, value)
        value = self._bare_hosts(value)
        if "@" not in value:  # most posts: no handle to look for
            return value
        value = MASTODON_HANDLE_RE.sub(
            lambda m: (
                "@"
                + self.account_reference(
                    account_id("mastodon", f"{m.group(1)}@{m.group(2)}".lower())
                )
            ),
            value,
        )

        def domain(m: re.Match[str]) -> str:
            handle = m.group(1).lower()
            if handle in self.blog_hosts:
                return "@" + self.account_reference(self.blog_hosts[handle])
            did = self._did(handle)
            if did is None:
                return "@[person]"
            return "@" + self.account_reference(account_id("bluesky", did))

        return DOMAIN_HANDLE_RE.sub(domain, value)

    def _bare_hosts(self, value: str) -> str:
        """A person's host named in text without a scheme (a blog's, a proved site's) becomes
        the person's account reference; hosts are looked up in the set, never put in a regex."""
        hosts = self.blog_hosts
        if not hosts or "." not in value:
            return value
        if self._tlds is None:
            self._tlds = tuple(sorted({"." + h.rsplit(".", 1)[-1] for h in hosts}))
        if len(self._tlds) <= 64:  # most text names no host of theirs: a few C-level scans
            low = value.lower()
            if not any(t in low for t in self._tlds):
                return value

        def host(m: re.Match[str]) -> str:
            name = m.group(1).lower()
            internal = hosts.get(name.removeprefix("www."))
            return m.group(0) if internal is None else self.account_reference(internal)

        return BARE_HOST_RE.sub(host, value)

    def instance(self, platform: str | None, value: str | None) -> str | None:
        """A blog's host is its author: keyed like the account (pseudonymised exports). So is
        an instance that is a person's own proved site (a one-person Mastodon server)."""
        if value is None or self._pseudo is None:
            return value
        if platform not in BLOG_LIKE:
            own = self.blog_hosts.get(value.lower().removeprefix("www."))
            return value if own is None else self.account_reference(own)
        host = value.lower().removeprefix("www.")
        internal = self.blog_hosts.get(host, account_id("blog", host))
        return self.account_reference(internal)

    def scrub(self, value: Any) -> Any:
        """Any free-form string of the data card (source keys, targets, errors): person-links
        keyed and blog hosts replaced (pseudonymised exports)."""
        if self._pseudo is None or not isinstance(value, str) or not value:
            return value
        self.prepare(m.group(0) for m in URL_RE.finditer(value))
        value = self.text(value) or value
        low = value.lower()
        for host, internal in self.blog_hosts.items():
            if host in low:
                value = re.sub(re.escape(host), self.account_reference(internal), value, flags=re.I)
                low = value.lower()
        return value
