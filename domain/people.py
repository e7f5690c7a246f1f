"""One person across platforms: what counts as evidence, and how accounts group into people.

Pure rules (no I/O, no SQL): `storage/people_links.py` feeds them stored rows and writes what
they decide; docs/people.md explains them to users (DESIGN.md section 2, "Person").

Identities are spelled as *keys*, so evidence from any platform can meet:

- `site:<host>`: a web site (a blog account's host; a Bluesky domain handle; a Mastodon field
  linking a site's home page). `www.` is dropped: `www.example.org` and `example.org` are one.
- `mastodon:<user>@<instance>`: a Mastodon (fediverse) account, lower-cased.
- `bluesky:<handle>` and `did:<did>`: a Bluesky account by handle or by DID.

An account *owns* the keys that name it (`owned_keys`) and *claims* keys that it says are also
its own (`Claim`: a profile field, a blog page's `rel=me`, a bridge's handle, a domain handle).
Evidence between two accounts is a claim of one meeting a key of the other (`evidence`):

- strong (merges): a Mastodon field the instance verified (`verified_at`: it found `rel=me`
  back), a Bluesky domain handle (proved by DNS or the site's well-known file), a Bridgy Fed
  bridge account, two profiles that link each other (`rel_me_mutual`), a moderator's link; two
  strong claims on one site (both proved control of it) are the same person too;
- claim (never merges; a suggestion for a moderator): a one-way link, because anyone can write
  someone else's address in their own profile.

Grouping (`group`) is union-find over strong evidence; a moderator's unlink says two accounts
are *not* one person, and no chain of evidence may join them again. A person's id is the
smallest account id in its group.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

STRONG = "strong"
CLAIM = "claim"

MASTODON_VERIFIED_FIELD = "mastodon_verified_field"
BLUESKY_DOMAIN_HANDLE = "bluesky_domain_handle"
BRIDGE = "bridge"
REL_ME_MUTUAL = "rel_me_mutual"
REL_ME_ONE_WAY = "rel_me_one_way"
PROFILE_LINK = "profile_link"
SAME_SITE = "same_site"
MODERATOR_LINK = "moderator_link"
MODERATOR_UNLINK = "moderator_unlink"

# kind -> (strength, what it means); the data card and docs/people.md print these.
KINDS: dict[str, tuple[str, str]] = {
    MASTODON_VERIFIED_FIELD: (
        STRONG,
        "a Mastodon profile field whose link the instance verified (rel=me back from the site)",
    ),
    BLUESKY_DOMAIN_HANDLE: (
        STRONG,
        "a Bluesky handle that is the site's domain (proved by DNS or the site's well-known file)",
    ),
    BRIDGE: (STRONG, "a Bridgy Fed bridge account and the account it mirrors"),
    REL_ME_MUTUAL: (STRONG, "two profiles or pages that link each other (rel=me both ways)"),
    SAME_SITE: (STRONG, "two blog accounts on one site (example.org and www.example.org)"),
    MODERATOR_LINK: (STRONG, "a moderator linked the two accounts (who and why are kept)"),
    MODERATOR_UNLINK: (STRONG, "a moderator said the two accounts are not one person"),
    REL_ME_ONE_WAY: (CLAIM, "a page's rel=me link with no link back: a suggestion only"),
    PROFILE_LINK: (CLAIM, "an unverified profile link with no link back: a suggestion only"),
}
# Kinds that the linking pass derives from stored accounts and claims; moderator rows are
# decisions, never recomputed.
MODERATOR_KINDS = frozenset({MODERATOR_LINK, MODERATOR_UNLINK})
# Claims read from an account's profile (replaced whenever the profile is seen again).
PROFILE_KINDS = frozenset({MASTODON_VERIFIED_FIELD, PROFILE_LINK})
# Claims read from a fetched page's rel=me links (replaced when the page is fetched again).
PAGE_KINDS = frozenset({REL_ME_ONE_WAY})
# Claims that follow from an account's own name (a handle, a bridge's address).
DERIVED_KINDS = frozenset({BLUESKY_DOMAIN_HANDLE, BRIDGE})
# Platforms whose handle names the account beside its id (`owned_keys`, `derived_claims`), so
# a new handle changes what the account proves. A Mastodon `acct` or a blog's host is the id.
HANDLE_NAMED_PLATFORMS = frozenset({"bluesky"})

# Bridgy Fed (https://fed.brid.gy/docs): a fediverse account user@instance appears on Bluesky
# as user.instance.ap.brid.gy; a Bluesky handle h on the fediverse as h@bsky.brid.gy; a web
# site example.org as example.org@web.brid.gy and on Bluesky as example.org.web.brid.gy.
AP_BRIDGE_SUFFIX = ".ap.brid.gy"
WEB_BRIDGE_SUFFIX = ".web.brid.gy"
BSKY_BRIDGE_DOMAIN = "bsky.brid.gy"
WEB_BRIDGE_DOMAIN = "web.brid.gy"
# Handles a provider hands out (not a site the person controls): not domain handles.
PROVIDER_HANDLE_SUFFIXES = (".bsky.social", ".brid.gy", ".bsky.team", ".test")
# A site is named by its home page or one of these "who I am" pages; a deeper page on a host
# (a profile on a shared site, an article) proves that page, not the site.
SITE_PATHS = frozenset({"", "/", "/about", "/about/", "/me", "/me/", "/contact", "/contact/"})
# Paths of a person's page on a shared host: never a claim on the host.
_USER_PAGE = re.compile(r"^/(?:@|~|u/|user/|users/|people/|profile/|author/)", re.I)
_HOST = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_MASTODON_USER = re.compile(r"^[a-z0-9_][a-z0-9_.-]{0,63}$", re.I)
_DID = re.compile(r"^did:(?:plc|web):[a-zA-Z0-9._:%-]{1,200}$")
# `.invalid` (RFC 6761) never resolves: Bluesky shows `handle.invalid` for a handle that no
# longer verifies, which proves no site (two such strangers would otherwise "share" one).
_NOT_PUBLIC_SUFFIXES = (
    ".local",
    ".localhost",
    ".internal",
    ".lan",
    ".home.arpa",
    ".test",
    ".invalid",
)


@dataclass(frozen=True, slots=True)
class Claim:
    """An account's pointer at another identity `key`, as `source` says it."""

    key: str
    kind: str
    strength: str
    source: str


@dataclass(frozen=True, slots=True)
class AccountName:
    """What the rules need of an account: its id and names."""

    id: int
    platform: str
    native_id: str
    handle: str | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """Evidence between two accounts, `lo < hi`."""

    lo: int
    hi: int
    kind: str
    strength: str
    source: str


# -- keys ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=65_536)  # every account's keys ask for its host
def public_host(host: str | None) -> str | None:
    """A lower-case DNS name that can be a person's site, or None: IP literals, single labels,
    `localhost` and private suffixes are refused (a claim on them names no one, and fetching
    them would reach inside the network)."""
    if not host:
        return None
    h = host.strip().lower().rstrip(".")
    if h.startswith("[") or ":" in h or len(h) > 253:
        return None
    if not h.isascii():  # an IDN host: its punycode is the name DNS knows
        try:
            h = h.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    try:
        ipaddress.ip_address(h)
        return None
    except ValueError:
        pass
    if h == "localhost" or h.endswith(_NOT_PUBLIC_SUFFIXES) or not _HOST.match(h):
        return None
    return h


def site_key(host: str | None) -> str | None:
    h = public_host(host)
    if h is None:
        return None
    if h.startswith("www.") and h.count(".") >= 2:
        h = h[4:]
    return f"site:{h}"


def mastodon_key(acct: str | None) -> str | None:
    """`user@instance` (Bridgy Fed spells `_` as `-` in Bluesky handles; Mastodon usernames
    have no `-`, so folding `_` to `-` joins the two spellings and nothing else)."""
    if not acct or acct.count("@") != 1:
        return None
    user, _, domain = acct.strip().lstrip("@").partition("@")
    host = public_host(domain)
    if host is None or not _MASTODON_USER.match(user):
        return None
    return f"mastodon:{user.lower().replace('_', '-')}@{host}"


def bluesky_key(handle: str | None) -> str | None:
    if not handle:
        return None
    h = handle.strip().lstrip("@").lower()
    if _DID.match(h):
        return f"did:{h[4:]}"
    host = public_host(h)
    return f"bluesky:{host}" if host else None


def did_key(did: str | None) -> str | None:
    return f"did:{did[4:]}" if did and _DID.match(did) else None


def owned_keys(account: AccountName) -> list[str]:
    """The keys that name this account itself."""
    keys: list[str | None]
    if account.platform == "mastodon":
        keys = [mastodon_key(account.native_id)]
    elif account.platform == "bluesky":
        keys = [did_key(account.native_id), bluesky_key(account.handle)]
    elif account.platform == "blog":
        keys = [site_key(account.native_id)]
    else:
        keys = []
    return [k for k in keys if k]


def is_domain_handle(handle: str | None) -> bool:
    """A Bluesky handle that is a site of the person's own (not `*.bsky.social`, not a
    bridge's handle)."""
    h = public_host(handle)
    return bool(h) and not h.endswith(PROVIDER_HANDLE_SUFFIXES)  # type: ignore[union-attr]


def derived_claims(account: AccountName) -> list[Claim]:
    """Claims that follow from the account's own name: a Bridgy Fed bridge mirrors its
    original; a Bluesky domain handle is the site's."""
    out: list[Claim] = []
    if account.platform == "bluesky" and account.handle:
        h = account.handle.lower()
        if h.endswith(AP_BRIDGE_SUFFIX):
            user, _, instance = h[: -len(AP_BRIDGE_SUFFIX)].partition(".")
            key = mastodon_key(f"{user}@{instance}") if instance else None
            if key:
                out.append(Claim(key, BRIDGE, STRONG, f"bluesky handle {h}"))
        elif h.endswith(WEB_BRIDGE_SUFFIX):
            key = site_key(h[: -len(WEB_BRIDGE_SUFFIX)])
            if key:
                out.append(Claim(key, BRIDGE, STRONG, f"bluesky handle {h}"))
        elif is_domain_handle(h):
            key = site_key(h)
            if key:
                out.append(Claim(key, BLUESKY_DOMAIN_HANDLE, STRONG, f"bluesky handle {h}"))
    elif account.platform == "mastodon" and account.native_id.count("@") == 1:
        user, _, domain = account.native_id.lower().partition("@")
        key = None
        if domain == BSKY_BRIDGE_DOMAIN:
            key = bluesky_key(user)
        elif domain == WEB_BRIDGE_DOMAIN:
            key = site_key(user)
        if key:
            out.append(Claim(key, BRIDGE, STRONG, f"fediverse account {account.native_id}"))
    return out


def key_of_link(url: str | None) -> str | None:
    """The identity a profile link names: a Bluesky profile (`bsky.app/profile/<handle|did>`),
    a Mastodon-style profile (`https://instance/@user`, `/users/user`, `/@user@elsewhere`), or a
    site's home page; None for anything else (a deeper page, a private address, not http)."""
    if not url or len(url) > 2000:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https"):
        return None
    host = public_host(parts.hostname)
    if host is None:
        return None
    path = unquote(parts.path or "")
    if host in ("bsky.app", "staging.bsky.app"):
        m = re.match(r"^/profile/([^/]+)/?$", path)
        return bluesky_key(m.group(1)) if m else None
    m = re.match(r"^/@([^/@]+)(?:@([^/]+))?/?$", path) or re.match(r"^/users/([^/@]+)/?$", path)
    if m:
        user = m.group(1)
        other = m.group(2) if m.re.groups == 2 else None
        return mastodon_key(f"{user}@{other or host}")
    if _USER_PAGE.match(path) or parts.query:
        return None
    if path.lower() in SITE_PATHS:
        return site_key(host)
    return None


class _Anchors(HTMLParser):
    """(href, rel tokens) of every <a> and <link> in a piece of HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, frozenset[str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("a", "link"):
            d = {k.lower(): v or "" for k, v in attrs}
            if d.get("href"):
                rel = frozenset(d.get("rel", "").lower().split())
                self.links.append((d["href"].strip(), rel))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def anchors(html: str) -> list[tuple[str, frozenset[str]]]:
    parser = _Anchors()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # hostile markup: what parsed so far is all we use
        pass
    return parser.links


def rel_me_links(html: str, base: str | None = None, limit: int = 200) -> list[str]:
    """The absolute http(s) `rel=me` links of a page (at most `limit`, first ones kept)."""
    from urllib.parse import urljoin

    out: list[str] = []
    for href, rel in anchors(html):
        if "me" not in rel:
            continue
        url = urljoin(base, href) if base else href
        if url.lower().startswith(("http://", "https://")) and url not in out:
            out.append(url)
            if len(out) >= limit:
                break
    return out


def mastodon_field_claims(fields: object, limit: int = 16) -> list[Claim]:
    """Claims of a Mastodon Account's `fields` ([{name, value (HTML), verified_at}]): a field
    the instance verified is strong, any other link only a claim. Hostile shapes give []."""
    if not isinstance(fields, list):
        return []
    out: list[Claim] = []
    for field in fields[:limit]:
        if not isinstance(field, Mapping):
            continue
        value = field.get("value")
        if not isinstance(value, str) or len(value) > 5000:
            continue
        hrefs = [h for h, _ in anchors(value)]
        if not hrefs and value.strip().lower().startswith(("http://", "https://")):
            hrefs = [value.strip()]
        verified = isinstance(field.get("verified_at"), str) and bool(field.get("verified_at"))
        for href in hrefs[:1]:  # a field holds one link; more is markup noise
            key = key_of_link(href)
            if key is None:
                continue
            kind, strength = (
                (MASTODON_VERIFIED_FIELD, STRONG) if verified else (PROFILE_LINK, CLAIM)
            )
            claim = Claim(key, kind, strength, href[:1000])
            if claim not in out:
                out.append(claim)
    return out


# In free text (a Bluesky profile's description): a URL, a fediverse address
# (`@user@instance`), or a bare domain (`example.org`, `example.org/about`), as Bluesky's own
# apps turn them into links when they show the description.
_TEXT_URL = re.compile(r"https?://[^\s<>\"'()\[\]]+", re.I)
_TEXT_FEDI = re.compile(
    r"(?<![\w/@.])@([a-z0-9_][a-z0-9_.-]{0,63})@((?:[a-z0-9-]+\.)+[a-z]{2,63})", re.I
)
_TEXT_DOMAIN = re.compile(
    r"(?<![\w/@.:-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})(/[^\s<>\"'()]*)?",
    re.I,
)
_TRAILING = ".,;:!?)]}'\"…"


def _text_links(text: str) -> list[str]:
    """The links a piece of free text names, in order: URLs, fediverse addresses as their
    profile URL, bare domains as their https URL."""
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for m in _TEXT_URL.finditer(text):
        found.append((m.start(), m.group(0).rstrip(_TRAILING)))
        taken.append(m.span())
    for m in _TEXT_FEDI.finditer(text):
        if not any(a <= m.start() < b for a, b in taken):
            found.append((m.start(), f"https://{m.group(2)}/@{m.group(1).rstrip('.')}"))
            taken.append(m.span())
    for m in _TEXT_DOMAIN.finditer(text):
        if not any(a <= m.start() < b for a, b in taken):
            found.append((m.start(), f"https://{m.group(0).rstrip(_TRAILING)}"))
    return [url for _, url in sorted(found)]


def bluesky_profile_claims(profile: object, limit: int = 16) -> list[Claim] | None:
    """Claims of a Bluesky profile: its `website` and the links its `description` names (an
    `app.bsky.actor.profile` record, or a `profileView` / `profileViewDetailed`; links in
    `facets` too, should a profile carry them). Bluesky verifies none of them, so each is a
    one-way claim (`profile_link`): a suggestion, never a merge, unless the other side links
    back (`rel_me_mutual`). None when the profile carries neither field (a post's
    `profileViewBasic`): unknown, so what it claimed before is kept."""
    if not isinstance(profile, Mapping):
        return None
    description, website = profile.get("description"), profile.get("website")
    if "description" not in profile and "website" not in profile:
        return None
    urls: list[str] = []
    if isinstance(website, str) and len(website) <= 2000:
        urls.append(website.strip())
    facets = profile.get("facets")
    for facet in facets[:64] if isinstance(facets, list) else ():
        features = facet.get("features") if isinstance(facet, Mapping) else None
        for feature in features[:8] if isinstance(features, list) else ():
            if isinstance(feature, Mapping) and isinstance(feature.get("uri"), str):
                urls.append(feature["uri"])
    if isinstance(description, str):
        urls += _text_links(description[:2560])
    out: list[Claim] = []
    for url in urls:
        key = key_of_link(url)
        if key is None:
            continue
        if all(c.key != key for c in out):  # one claim per place, however often named
            out.append(Claim(key, PROFILE_LINK, CLAIM, url[:1000]))
            if len(out) >= limit:
                break
    return out


def page_claims(links: Iterable[str]) -> list[Claim]:
    """A blog page's `rel=me` links as claims: one-way until the other side links back."""
    out: list[Claim] = []
    for url in links:
        key = key_of_link(url)
        if key and key.split(":", 1)[0] in ("mastodon", "bluesky", "did"):
            claim = Claim(key, REL_ME_ONE_WAY, CLAIM, url[:1000])
            if claim not in out:
                out.append(claim)
    return out


# -- evidence -----------------------------------------------------------------------------------


def _ordered(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def evidence(
    accounts: Sequence[AccountName], claims: Mapping[int, Sequence[Claim]]
) -> list[Evidence]:
    """All evidence among `accounts`, given each one's claims (`claims[account id]`).

    - a claim on a key another account owns: that claim's kind and strength;
    - two strong claims on one key: both proved control of it, so one person (the kind of the
      claim that is not the domain handle's, which is the weaker-known of the two);
    - claims both ways between two accounts: `rel_me_mutual`, strong;
    - a one-way claim on a key another account claims strongly: a claim (a suggestion);
    - two blog accounts owning one site: `same_site`.
    """
    owners: dict[str, list[int]] = {}
    for a in accounts:
        for k in owned_keys(a):
            owners.setdefault(k, []).append(a.id)
    out: dict[tuple[int, int, str, str], Evidence] = {}
    one_way: dict[tuple[int, int], Claim] = {}  # (claimer, owner) -> a claim-strength claim

    def add(a: int, b: int, kind: str, strength: str, source: str) -> None:
        if a == b:
            return
        lo, hi = _ordered(a, b)
        out.setdefault((lo, hi, kind, source), Evidence(lo, hi, kind, strength, source))

    strong_by_key: dict[str, list[tuple[int, Claim]]] = {}
    weak_by_key: dict[str, list[tuple[int, Claim]]] = {}
    for claimer, cs in sorted(claims.items()):
        for c in cs:
            for owner in owners.get(c.key, ()):
                add(claimer, owner, c.kind, c.strength, c.source)
                if c.strength == CLAIM:
                    one_way.setdefault((claimer, owner), c)
            by_key = strong_by_key if c.strength == STRONG else weak_by_key
            by_key.setdefault(c.key, []).append((claimer, c))
    # A one-way claim on what another account proved is its own (a site whose domain is
    # their Bluesky handle): a suggestion for a moderator, never a merge.
    for key, weak in weak_by_key.items():
        for a, ca in weak:
            for b, _ in strong_by_key.get(key, ()):
                add(a, b, ca.kind, CLAIM, ca.source)
    for _key, group in strong_by_key.items():
        for i, (a, ca) in enumerate(group):
            for b, cb in group[i + 1 :]:
                kind, source = (
                    (cb.kind, cb.source)
                    if ca.kind == BLUESKY_DOMAIN_HANDLE
                    else (
                        ca.kind,
                        ca.source,
                    )
                )
                add(a, b, kind, STRONG, source)
    for (a, b), ca in sorted(one_way.items()):
        cb = one_way.get((b, a))
        if cb is not None and a < b:
            add(a, b, REL_ME_MUTUAL, STRONG, f"{ca.source} <-> {cb.source}")
    for key, ids in owners.items():
        if key.startswith("site:"):
            for i, a in enumerate(ids):
                for b in ids[i + 1 :]:
                    add(a, b, SAME_SITE, STRONG, key[5:])
    return sorted(out.values(), key=lambda e: (e.lo, e.hi, e.kind, e.source))


# -- grouping -----------------------------------------------------------------------------------


def group(
    nodes: Iterable[int],
    strong: Iterable[tuple[int, int]],
    decisions: Mapping[tuple[int, int], str] | None = None,
) -> dict[int, int]:
    """account id -> person id (the smallest id of its group).

    `strong`: pairs with strong evidence; `decisions`: a moderator's latest word on a pair
    (`MODERATOR_LINK` or `MODERATOR_UNLINK`, keyed by the ordered pair). A moderator's links
    are joined first; an unlinked pair is never joined, directly or through a chain: an edge
    that would put the two in one group is skipped. Edges are taken in sorted order, so the
    result does not depend on the order the evidence arrived in.
    """
    decisions = decisions or {}
    parent: dict[int, int] = {}
    members: dict[int, set[int]] = {}

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def ensure(x: int) -> None:
        if x not in parent:
            parent[x] = x
            members[x] = {x}

    cannot: dict[int, set[int]] = {}
    for (a, b), d in decisions.items():
        if d == MODERATOR_UNLINK:
            cannot.setdefault(a, set()).add(b)
            cannot.setdefault(b, set()).add(a)

    for n in nodes:
        ensure(n)
    moderator_links = sorted(p for p, d in decisions.items() if d == MODERATOR_LINK)
    evidence_links = sorted({_ordered(a, b) for a, b in strong} - set(decisions))
    for a, b in [*moderator_links, *evidence_links]:
        if a == b:
            continue
        ensure(a)
        ensure(b)
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        small, big = (ra, rb) if len(members[ra]) <= len(members[rb]) else (rb, ra)
        if any(find(y) == big for x in members[small] for y in cannot.get(x, ())):
            continue  # a moderator said these are two people
        parent[small] = big
        members[big] |= members.pop(small)
    out: dict[int, int] = {}
    for root, ms in members.items():
        if parent[root] == root:
            person = min(ms)
            for m in ms:
                out[m] = person
    return out
