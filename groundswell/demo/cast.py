"""The people and places of the demo conversation: instances, blogs, communities, accounts.

Pure and deterministic for a seed: the same seed always casts the same people with the same
DIDs, handles and opt-out flags, so a replay resumed by another process (which regenerates the
cast from the source's stored parameters) writes exactly the rows the first one would have.

Everyone here is fictional; organisations are plausible but invented, except the movement
itself (NHS Citizen), which the demo is about.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from domain.people import (
    CLAIM,
    MASTODON_VERIFIED_FIELD,
    PROFILE_LINK,
    STRONG,
    Claim,
    site_key,
)
from domain.records import AccountRecord

# Mastodon instances the demo "follows" (all tracked: each status is seen via one or more of
# them) and a few untracked home instances whose statuses only arrive by federation.
TRACKED_INSTANCES = (
    "mastodon.social",
    "mastodonapp.uk",
    "med-mastodon.com",
    "social.coop",
    "scholar.social",
    "mstdn.social",
)
FEDERATED_ONLY_INSTANCES = ("hachyderm.io", "fosstodon.org", "toot.wales")
# A home instance the conversation first reaches at the event: the most active newcomer on a
# federated-only instance lives here instead (a "new place" alert, docs/alerts.md).
EVENT_INSTANCE = "assembly.social"

COMMUNITIES = ("patients", "clinicians", "policy", "organisers", "research")

# Where each community lives: (platform, instance or None, weight).
_HOMES: dict[str, tuple[tuple[str, str | None, float], ...]] = {
    "patients": (
        ("bluesky", None, 0.6),
        ("mastodon", "mastodon.social", 0.25),
        ("mastodon", "mastodonapp.uk", 0.1),
        ("mastodon", "toot.wales", 0.05),
    ),
    "clinicians": (
        ("bluesky", None, 0.45),
        ("mastodon", "med-mastodon.com", 0.45),
        ("mastodon", "mstdn.social", 0.1),
    ),
    "policy": (
        ("bluesky", None, 0.7),
        ("mastodon", "mastodonapp.uk", 0.3),
    ),
    "organisers": (
        ("mastodon", "social.coop", 0.45),
        ("bluesky", None, 0.35),
        ("mastodon", "mastodonapp.uk", 0.15),
        ("mastodon", "fosstodon.org", 0.05),
    ),
    "research": (
        ("mastodon", "scholar.social", 0.5),
        ("bluesky", None, 0.35),
        ("mastodon", "hachyderm.io", 0.15),
    ),
}

FIRST = [
    "Amara",
    "Aisha",
    "Ben",
    "Bethan",
    "Chloe",
    "Cerys",
    "Dan",
    "Deepa",
    "Dylan",
    "Efe",
    "Ellie",
    "Femi",
    "Fiona",
    "Gareth",
    "Grace",
    "Hamza",
    "Hannah",
    "Ifan",
    "Imran",
    "Isla",
    "Jack",
    "Jo",
    "Kemi",
    "Kiran",
    "Laura",
    "Leon",
    "Maya",
    "Megan",
    "Mo",
    "Nadia",
    "Niamh",
    "Olu",
    "Owen",
    "Priya",
    "Rhys",
    "Rosa",
    "Ruth",
    "Sam",
    "Sara",
    "Seren",
    "Tariq",
    "Tom",
    "Una",
    "Vik",
    "Wen",
    "Yusuf",
    "Zara",
    "Zoe",
    "Alun",
    "Bea",
    "Cai",
    "Dilys",
    "Ewan",
    "Farah",
    "Gwen",
    "Harvey",
    "Ines",
    "Jude",
    "Kofi",
    "Lowri",
    "Marcus",
    "Nia",
    "Oren",
    "Pam",
    "Qasim",
    "Rob",
    "Sian",
]
LAST = [
    "Adeyemi",
    "Ahmed",
    "Bailey",
    "Begum",
    "Brown",
    "Campbell",
    "Chowdhury",
    "Clarke",
    "Davies",
    "Edwards",
    "Evans",
    "Green",
    "Hughes",
    "Hussain",
    "Iqbal",
    "Jackson",
    "James",
    "Jenkins",
    "Jones",
    "Khan",
    "Kaur",
    "Lewis",
    "Lloyd",
    "Mensah",
    "Mitchell",
    "Morgan",
    "Murphy",
    "Nwosu",
    "Okafor",
    "Owen",
    "Patel",
    "Phillips",
    "Price",
    "Rahman",
    "Roberts",
    "Shah",
    "Singh",
    "Smith",
    "Taylor",
    "Thomas",
    "Turner",
    "Walker",
    "Watkins",
    "White",
    "Williams",
    "Wilson",
    "Wright",
    "Young",
]

ROLES = {
    "patients": ("carer", "patient rep", "parent carer", "lived experience", "Long Covid"),
    "clinicians": ("GP", "nurse", "midwife", "paramedic", "junior doctor", "pharmacist"),
    "policy": ("ICB", "health policy", "commissioner", "NHS manager", "councillor"),
    "organisers": ("community organiser", "VCSE", "volunteer", "campaigner", "co-op"),
    "research": ("researcher", "PhD", "health economist", "ethnographer", "data"),
}

_B32 = "abcdefghijklmnopqrstuvwxyz234567"


@dataclass(frozen=True, slots=True)
class Blog:
    """A tracked blog: its host is the blog account's native id."""

    host: str
    name: str
    community: str
    feed_path: str
    cms: str  # wordpress | ghost | hugo (how its URLs and feeds look)

    @property
    def feed_url(self) -> str:
        return f"https://{self.host}{self.feed_path}"


BLOGS = (
    Blog("carersvoice.org.uk", "Carers' Voice", "patients", "/feed/", "wordpress"),
    Blog("longcovidkitchen.blog", "The Long Covid Kitchen", "patients", "/feed/", "wordpress"),
    Blog("gpreflections.blog", "Reflections of a Valleys GP", "clinicians", "/feed/", "wordpress"),
    Blog("nightshiftnotes.uk", "Night Shift Notes", "clinicians", "/rss/", "ghost"),
    Blog("midwiferymatters.org", "Midwifery Matters", "clinicians", "/feed/", "wordpress"),
    Blog("thecommissioner.co.uk", "The Commissioner", "policy", "/feed/", "wordpress"),
    Blog("icbwatch.org.uk", "ICB Watch", "policy", "/index.xml", "hugo"),
    Blog("healthcareradicals.net", "Healthcare Radicals", "organisers", "/feed/", "wordpress"),
    Blog("peoplepoweredhealth.org", "People Powered Health", "organisers", "/rss/", "ghost"),
    Blog("communityofpractice.uk", "Community of Practice", "organisers", "/feed/", "wordpress"),
    Blog("changeday.blog", "Change Day Diaries", "organisers", "/feed/", "wordpress"),
    Blog("participationlab.ac.uk", "Participation Lab", "research", "/index.xml", "hugo"),
    Blog("healthdemocracy.org", "Health Democracy Notes", "research", "/feed/", "wordpress"),
    Blog("coproductionnotes.net", "Co-production Notes", "research", "/rss/", "ghost"),
    Blog("wardround.blog", "Ward Round", "clinicians", "/feed/", "wordpress"),
    Blog("patientleaders.uk", "Patient Leaders", "patients", "/feed/", "wordpress"),
)

# Sites that pingback tracked posts without being tracked themselves.
PINGERS = (
    ("localnewsbirmingham.co.uk", "Birmingham Local News"),
    ("healthwatchanytown.org.uk", "Healthwatch Anytown"),
    ("nursingnotes.wordpress.com", "Nursing Notes"),
    ("thirdsectordigest.org.uk", "Third Sector Digest"),
    ("samsgardenshed.wordpress.com", "Sam's Garden Shed"),
)

# The few voices most boosts and reposts go to (fictional, except the movement's own account).
HUBS = (
    ("NHS Citizen", "nhscitizen", "bluesky", None, "organisers", 1.0),
    ("NHS Citizen", "nhscitizen", "mastodon", "mastodonapp.uk", "organisers", 0.8),
    ("Dr Amara Okafor", "amaraokafor", "bluesky", None, "clinicians", 0.7),
    ("Patient Voices Network", "patientvoices", "bluesky", None, "patients", 0.6),
    ("Rhys Llewellyn (nurse)", "rhys", "mastodon", "med-mastodon.com", "clinicians", 0.55),
    ("Health Democracy Lab", "healthdemocracy", "mastodon", "scholar.social", "research", 0.45),
    ("Bethan Price", "bethanprice", "bluesky", None, "policy", 0.4),
    ("Kofi Mensah", "kofi", "mastodon", "social.coop", "organisers", 0.4),
)


@dataclass(slots=True)
class Person:
    """One voice: one account, or two for a bridge (same person on two platforms)."""

    name: str
    community: str
    accounts: list[AccountRecord]
    activity: float  # relative share of posting
    reach: float  # how much their posts get amplified
    hub: bool = False
    bridge: bool = False
    second_community: str | None = None
    new_voice: bool = False  # first appears at the event

    @property
    def communities(self) -> tuple[str, ...]:
        if self.second_community:
            return (self.community, self.second_community)
        return (self.community,)


@dataclass(slots=True)
class Cast:
    people: list[Person] = field(default_factory=list)
    blog_accounts: dict[str, AccountRecord] = field(default_factory=dict)
    pinger_accounts: dict[str, AccountRecord] = field(default_factory=dict)

    @property
    def accounts(self) -> list[AccountRecord]:
        out = [a for p in self.people for a in p.accounts]
        out.extend(self.blog_accounts.values())
        out.extend(self.pinger_accounts.values())
        return out


def did(rng: random.Random) -> str:
    return "did:plc:" + "".join(rng.choice(_B32) for _ in range(24))


def tid(ts_us: int, rng: random.Random) -> str:
    """A Bluesky record key (TID): 53 bits of microseconds + 10 bits of clock id, base32-sort."""
    alphabet = "234567abcdefghijklmnopqrstuvwxyz"
    value = (ts_us << 10) | rng.getrandbits(10)
    out = []
    for _ in range(13):
        out.append(alphabet[value & 31])
        value >>= 5
    return "".join(reversed(out))


def _slug(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def make_account(
    rng: random.Random,
    name: str,
    handle_base: str,
    platform: str,
    instance: str | None,
    *,
    opt_out: bool = False,
) -> AccountRecord:
    if platform == "bluesky":
        handle = f"{handle_base}.bsky.social"
        d = did(rng)
        return AccountRecord(
            platform="bluesky",
            native_id=d,
            handle=handle,
            display_name=name,
            url=f"https://bsky.app/profile/{handle}",
            avatar_url=f"https://cdn.bsky.app/img/avatar/plain/{d}/bafkrei{rng.getrandbits(64):x}@jpeg",
            no_unauthenticated=True if opt_out else None,
        )
    assert instance is not None
    acct = f"{handle_base}@{instance}"
    # Mastodon reports these flags for every account: most are discoverable and indexable.
    return AccountRecord(
        platform="mastodon",
        native_id=acct,
        handle=acct,
        display_name=name,
        url=f"https://{instance}/@{handle_base}",
        instance=instance,
        avatar_url=f"https://{instance}/system/accounts/avatars/{rng.getrandbits(48):x}.png",
        bot=False,
        indexable=False if opt_out else rng.random() < 0.7,
        discoverable=not opt_out,
        noindex=bool(opt_out),
    )


def _pick_home(rng: random.Random, community: str) -> tuple[str, str | None]:
    homes = _HOMES[community]
    r = rng.random() * sum(w for _, _, w in homes)
    for platform, instance, w in homes:
        r -= w
        if r <= 0:
            return platform, instance
    return homes[-1][0], homes[-1][1]


def make_cast(seed: int, mentions: int) -> Cast:
    """The cast for a conversation of `mentions` mentions (more people for more mentions)."""
    rng = random.Random(f"groundswell-demo-cast-{seed}")
    cast = Cast()
    used: set[str] = set()

    def handle_for(name: str) -> str:
        base = _slug(name)[:18] or "user"
        h, n = base, 1
        while h in used:
            n += 1
            h = f"{base}{n}"
        used.add(h)
        return h

    for name, handle, platform, instance, community, reach in HUBS:
        used.add(handle)
        acc = make_account(rng, name, handle, platform, instance)
        cast.people.append(
            Person(name, community, [acc], activity=30.0 * reach, reach=25 * reach, hub=True)
        )

    # Bridges: one person, two communities, an account on Bluesky and one on Mastodon.
    bridge_pairs = (
        ("clinicians", "patients"),
        ("policy", "organisers"),
        ("research", "clinicians"),
        ("organisers", "patients"),
        ("research", "policy"),
        ("patients", "clinicians"),
    )
    bridge_names: set[str] = set()
    for first_c, second_c in bridge_pairs:
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        while name in bridge_names:  # six distinct people, recognisable on both platforms
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        bridge_names.add(name)
        h = handle_for(name)
        instance = next(i for p, i, _ in _HOMES[second_c] if p == "mastodon")
        accounts = [
            make_account(rng, name, h, "bluesky", None),
            make_account(rng, name, h, "mastodon", instance),
        ]
        cast.people.append(
            Person(
                name,
                first_c,
                accounts,
                activity=3.0,
                reach=4.0,
                bridge=True,
                second_community=second_c,
            )
        )

    regulars = max(40, mentions // 9)
    newcomers = max(10, mentions // 40)
    for i in range(regulars + newcomers):
        community = rng.choices(COMMUNITIES, weights=(0.32, 0.24, 0.14, 0.18, 0.12))[0]
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        if rng.random() < 0.3:
            name = f"{name} ({rng.choice(ROLES[community])})"
        platform, instance = _pick_home(rng, community)
        opt_out = rng.random() < 0.03
        acc = make_account(
            rng, name, handle_for(name.split(" (")[0]), platform, instance, opt_out=opt_out
        )
        # Activity is heavy-tailed: a few prolific posters, many who post once or twice.
        activity = min(8.0, rng.paretovariate(1.4))
        reach = min(6.0, rng.paretovariate(2.2))
        cast.people.append(Person(name, community, [acc], activity, reach, new_voice=i >= regulars))
    _rehome_at_event(cast)

    for blog in BLOGS:
        cast.blog_accounts[blog.host] = AccountRecord(
            platform="blog",
            native_id=blog.host,
            handle=blog.host,
            display_name=blog.name,
            url=f"https://{blog.host}/",
            instance=blog.host,
        )
    for host, name in PINGERS:
        cast.pinger_accounts[host] = AccountRecord(
            platform="blog",
            native_id=host,
            handle=host,
            display_name=name,
            url=f"https://{host}/",
            instance=host,
        )
    _give_evidence(cast)
    return cast


# A person on three platforms: the first bridge person writes this blog, uses its host as
# their Bluesky handle and links it, verified, from Mastodon.
THREE_PLATFORM_BLOG = "gpreflections.blog"
# Not the movement page's host (www.nhscitizen.org.uk, in every export as a link to the wider
# web): a pseudonymised export must not name the account through it (tests/export).
NHS_CITIZEN_SITE = "nhscitizen.uk"


def _verified(url: str) -> Claim:
    key = site_key(urlsplit(url).hostname)
    assert key is not None
    return Claim(key, MASTODON_VERIFIED_FIELD, STRONG, url)


def _give_evidence(cast: Cast) -> None:
    """Realistic evidence that some accounts are one person (issue 20; docs/people.md), made
    without a random draw, so every other row of a seed stays what it was:

    - NHS Citizen's Bluesky handle is its domain and its Mastodon profile links the site,
      verified by the instance: one organisation on two platforms;
    - the first bridge person (Bluesky + Mastodon) writes `THREE_PLATFORM_BLOG`: the blog's
      host is their Bluesky handle and their verified Mastodon field: three platforms;
    - the next two bridge people have a personal site as their Bluesky handle, linked and
      verified from Mastodon: two platforms each;
    - an impersonator: the most active regular Mastodon voice names NHS Citizen's site in an
      unverified profile field ("NHS Citizen updates"). A one-way claim: it must not merge.
    """
    for person in cast.people:
        if person.hub and person.accounts[0].display_name == "NHS Citizen":
            _own_site(person, NHS_CITIZEN_SITE, f"https://www.{NHS_CITIZEN_SITE}/")
    bridges = [p for p in cast.people if p.bridge]
    for i, person in enumerate(bridges[:3]):
        base = person.accounts[1].native_id.split("@", 1)[0]
        host = THREE_PLATFORM_BLOG if i == 0 else f"{base}.uk"
        _own_site(person, host, f"https://{host}/")
    regulars = [
        p
        for p in cast.people
        if not (p.hub or p.bridge or p.new_voice)
        and p.accounts[0].platform == "mastodon"
        and not p.accounts[0].noindex
    ]
    if regulars:
        imp = max(regulars, key=lambda p: (p.activity, p.accounts[0].native_id))
        acc = imp.accounts[0]
        url = f"https://www.{NHS_CITIZEN_SITE}/"
        key = site_key(NHS_CITIZEN_SITE)
        assert key is not None
        imp.accounts[0] = replace(
            acc,
            display_name=f"{acc.display_name} | NHS Citizen updates",
            claims=[Claim(key, PROFILE_LINK, CLAIM, url)],
        )


def _own_site(person: Person, host: str, url: str) -> None:
    """The person's Bluesky handle becomes `host`; their Mastodon profile links `url`,
    verified. (Only the accounts this person has are changed.)"""
    for i, acc in enumerate(person.accounts):
        if acc.platform == "bluesky":
            person.accounts[i] = replace(acc, handle=host, url=f"https://bsky.app/profile/{host}")
        elif acc.platform == "mastodon":
            person.accounts[i] = replace(acc, claims=[_verified(url)])


def _rehome_at_event(cast: Cast) -> None:
    """Move the most active newcomer on a federated-only instance to `EVENT_INSTANCE`, so the
    event reaches a new place. No random draw is made and the home stays federated-only (its
    statuses are seen through a tracked instance either way), so every other account and
    post of a seed is what it was before."""
    movers = [
        p
        for p in cast.people
        if p.new_voice
        and p.accounts[0].instance in FEDERATED_ONLY_INSTANCES
        and not p.accounts[0].noindex
    ]
    if not movers:
        return
    person = max(movers, key=lambda p: p.activity)
    acc = person.accounts[0]
    base = acc.native_id.split("@", 1)[0]
    old = acc.instance or ""
    person.accounts[0] = replace(
        acc,
        native_id=f"{base}@{EVENT_INSTANCE}",
        handle=f"{base}@{EVENT_INSTANCE}",
        url=f"https://{EVENT_INSTANCE}/@{base}",
        instance=EVENT_INSTANCE,
        avatar_url=(acc.avatar_url or "").replace(old, EVENT_INSTANCE) or None,
    )
