"""The one TOML configuration file, validated (DESIGN.md sections 1-2).

Errors name the file, the key and the fix; the CLI turns `ConfigError` into exit code 2.
Secrets never live here: a source names the *environment variable* that holds its token.
Platform sections are defined next to their collectors (`collectors/<platform>/settings.py`)
so each collector owns the shape of its own settings.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from domain.access import AccessSettings
from domain.matching import normalise_hashtag, normalise_url
from domain.settings.alerts import AlertsSettings
from domain.settings.blogs import BlogsSettings
from domain.settings.bluesky import BlueskySettings
from domain.settings.checks import check_emails, check_zone
from domain.settings.mastodon import MastodonSettings

ENV_CONFIG = "GROUNDSWELL_CONFIG"
DEFAULT_CONFIG_PATHS = ("groundswell.toml", "config/groundswell.toml")


class ConfigError(ValueError):
    """A configuration problem, phrased for the person who has to fix the file."""


_DOMAIN_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class StoreSettings(_Strict):
    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; GROUNDSWELL_DB_URL or --db override it. "
        "Default: sqlite:///groundswell.db",
    )


class MovementSettings(_Strict):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,79}$")
    name: str = Field(min_length=1, max_length=200)
    hashtags: list[str] = Field(default_factory=list)
    terms: list[str] = Field(default_factory=list)
    urls: list[str] = Field(default_factory=list)

    @field_validator("hashtags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        out = []
        for tag in v:
            t = tag.strip().lstrip("#")
            if not t or not normalise_hashtag(t):
                raise ValueError(f"hashtag {tag!r} is empty; write it like 'NHSCitizen'")
            if any(ch.isspace() for ch in t):
                raise ValueError(f"hashtag {tag!r} contains a space; hashtags are one word")
            out.append(t)
        return out

    @field_validator("urls")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        for url in v:
            if normalise_url(url) is None:
                raise ValueError(f"{url!r} is not an absolute http(s) URL")
        return v

    @model_validator(mode="after")
    def _something_to_track(self) -> MovementSettings:
        if not (self.hashtags or self.terms or self.urls):
            raise ValueError("a movement needs at least one of hashtags, terms or urls")
        return self


class EventSettings(_Strict):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,119}$")
    name: str = Field(min_length=1, max_length=300)
    movement: str | None = None
    starts: datetime
    ends: datetime
    timezone: str = "UTC"
    hashtags: list[str] = Field(default_factory=list)
    place: str | None = None

    _zone = field_validator("timezone")(classmethod(lambda cls, v: check_zone(v)))

    @model_validator(mode="after")
    def _window(self) -> EventSettings:
        zone = ZoneInfo(self.timezone)
        if self.starts.tzinfo is None:
            self.starts = self.starts.replace(tzinfo=zone)
        if self.ends.tzinfo is None:
            self.ends = self.ends.replace(tzinfo=zone)
        if self.ends <= self.starts:
            raise ValueError(
                f"ends ({self.ends.isoformat()}) must be after starts "
                f"({self.starts.isoformat()}); swap them or fix the date"
            )
        return self


class NetworkSettings(_Strict):
    """Outbound connections, whatever the collector."""

    # A PEM file of CA certificates trusted instead of the public roots, for organisations
    # whose servers or TLS-inspecting proxy use their own CA (net.fetcher.use_ca_bundle).
    ca_bundle: str | None = Field(
        default=None,
        description="PEM file of CA certificates trusted instead of the public roots, for every "
        "feed, page, Mastodon, Bluesky and Jetstream connection (an organisation's own CA)",
    )

    contact_url: str | None = Field(
        default=None,
        description="a page saying who runs this collector and how to reach them; named in "
        "the User-Agent of every feed and page fetch (site owners read it in their logs)",
    )

    @field_validator("contact_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and urlsplit(v).scheme not in ("http", "https"):
            raise ValueError(f"contact_url {v!r} must be an http(s) URL")
        return v

    @field_validator("ca_bundle")
    @classmethod
    def _readable(cls, v: str | None) -> str | None:
        if v is not None and not Path(v).expanduser().is_file():
            raise ValueError(f"ca_bundle {v!r} is not a readable file")
        return str(Path(v).expanduser()) if v is not None else None


class CollectSettings(_Strict):
    default_interval_s: int = Field(default=60, ge=5, le=86_400)
    backfill_days: int = Field(default=7, ge=0, le=3650)
    max_backoff_s: int = Field(default=3600, ge=10, le=86_400)
    lease_s: int = Field(default=300, ge=10, le=3600)
    retention_days: int | None = Field(default=None, ge=1)


class PeopleSettings(_Strict):
    """The scheduled linking pass of `collect --loop` and `up` (docs/people.md, "When linking
    runs"): every `link_every_s` it re-reads some accounts' names and the due blogs' rel=me
    pages, bounded so one pass never holds a collector up for long."""

    link_every_s: int = Field(
        default=3600,
        ge=0,
        le=7 * 86_400,
        description="seconds between two linking passes of `collect --loop` and `up` (the "
        "next due time is stored, so a restart does not run it again early; a "
        "`groundswell people link` run by hand counts as a pass); 0 turns the scheduled "
        "pass off (`groundswell people link` still runs it by hand)",
    )
    pages_per_pass: int = Field(
        default=50,
        ge=0,
        le=10_000,
        description="at most this many blogs' home pages read for rel=me links per pass (each "
        "page is cached for a week); 0 reads none",
    )
    accounts_per_pass: int = Field(
        default=20_000,
        ge=0,
        le=10_000_000,
        description="at most this many accounts re-read through the evidence rules per pass; "
        "the next pass goes on where this one stopped, and starts over after the last",
    )


class WallSettings(_Strict):
    """The live wall (issue 6). Moderators can override most keys at run time from the
    moderator page; the overrides are stored in the `wall_setting` table, not in this file."""

    id: str = Field(default="default", pattern=r"^[a-z0-9][a-z0-9_-]{0,79}$")
    movement: str | None = Field(
        default=None, description="movement slug shown; default: every movement"
    )
    title: str = Field(default="Join the conversation", max_length=200)
    hashtag: str | None = Field(default=None, max_length=100)
    where_to_post: str | None = Field(default=None, max_length=300)
    moderation: str = Field(default="post", pattern=r"^(post|pre)$")
    mode: str = Field(default="cards", pattern=r"^(cards|pulse|both)$")
    refresh_s: int = Field(default=3, ge=1, le=120)
    show_handles: bool = True
    first_names_only: bool = False
    public_figures: list[str] = Field(
        default_factory=list,
        description="handles shown in full even in first-names/no-handles mode",
    )
    mask_personal_data: bool = True
    blocklist: list[str] = Field(default_factory=list, description="words never shown")
    max_cards: int = Field(default=24, ge=1, le=200)
    page_s: int = Field(
        default=10,
        ge=2,
        le=300,
        description="seconds each page of cards stays up before the next turns (the wall "
        "shows 6 cards at a time, 4 beside the pulse, and turns through all `max_cards`)",
    )
    qr_url: str | None = Field(
        default=None,
        max_length=500,
        description="where the wall's QR code points; default: the hashtag's page on the "
        "first configured Mastodon instance, else on Bluesky",
    )
    text_max_chars: int = Field(default=400, ge=40, le=5000)
    timezone: str = "UTC"
    moderator_emails: list[str] = Field(
        default_factory=list,
        description="who may moderate when the dashboard signs people in with OIDC "
        "(`[auth]` in .streamlit/secrets.toml, st.login); case-insensitive",
    )
    login_provider: str | None = Field(
        default=None,
        description="the `[auth.<name>]` provider moderators sign in with; default: `[auth]` "
        "itself",
    )

    _emails = field_validator("moderator_emails")(classmethod(lambda cls, v: check_emails(v)))

    _zone = field_validator("timezone")(classmethod(lambda cls, v: check_zone(v)))

    @field_validator("qr_url")
    @classmethod
    def _qr_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("https://", "http://")):
            raise ValueError(f"{v!r} must start with https:// (a phone opens it)")
        return v


class DashboardSettings(_Strict):
    """Who may see the dashboard at all (every page, the wall included) when it signs people
    in with OIDC (`[auth]` in .streamlit/secrets.toml). Empty lists: no sign-in gate (a
    password in GROUNDSWELL_DASHBOARD_PASSWORD may still close it; docs/dashboard.md)."""

    viewer_emails: list[str] = Field(
        default_factory=list,
        description="emails that may view every page after signing in (moderators always "
        "may); case-insensitive",
    )
    viewer_domains: list[str] = Field(
        default_factory=list,
        description="email domains whose signed-in, verified addresses may view, like "
        "'nhs.example' (exact domain, no subdomains)",
    )
    login_provider: str | None = Field(
        default=None,
        description="the `[auth.<name>]` provider viewers sign in with; default: "
        "[wall].login_provider, else `[auth]` itself",
    )

    _emails = field_validator("viewer_emails")(classmethod(lambda cls, v: check_emails(v)))

    @field_validator("viewer_domains")
    @classmethod
    def _domains(cls, v: list[str]) -> list[str]:
        out = []
        for domain in v:
            d = domain.strip().lower().removeprefix("@")
            if not _DOMAIN_RE.match(d):
                raise ValueError(
                    f"{domain!r} is not an email domain; write it like 'nhs.uk' (no '@', "
                    "no scheme, no path)"
                )
            out.append(d)
        return out

    @property
    def restricted(self) -> bool:
        """True when the config names who may view: the sign-in gate is then wanted."""
        return bool(self.viewer_emails or self.viewer_domains)


class EthicsSettings(_Strict):
    """Opt-out rules, exports and retention (DESIGN.md section 6; docs/exports.md)."""

    discoverable_false_is_opt_out: bool = True
    retention_days: int | None = Field(
        default=None,
        ge=1,
        description="raw payloads older than this are purged (`groundswell purge`, and "
        "automatically by `collect --loop`); falls back to [collect].retention_days",
    )
    recheck_days: int = Field(
        default=7, ge=1, le=3650, description="`groundswell recheck` revisits mentions this recent"
    )
    pseudonym_key_env: str = Field(
        default="GROUNDSWELL_PSEUDONYM_KEY",
        description="environment variable holding an export pseudonymisation key; when set it "
        "wins over the key file",
    )
    pseudonym_key_file: str | None = Field(
        default=None,
        description="the per-store pseudonymisation key `init` creates (mode 0600, never in "
        "the store); default `<config name>.pseudonym.key` beside the config",
    )
    mask_personal_data_in_exports: bool = False
    text_retention_days: int | None = Field(
        default=None,
        ge=1,
        description="mention text, HTML, title, content warning, media and links older than "
        "this are redacted like a tombstone (the row and its counts stay)",
    )
    account_retention_days: int | None = Field(
        default=None,
        ge=1,
        description="accounts no mention or amplification refers to any more, last updated "
        "longer ago than this, are deleted",
    )
    ping_retention_days: int | None = Field(
        default=None,
        ge=1,
        description="received pingbacks/webmentions (verified, rejected or deleted) older "
        "than this are deleted; the mentions they made stay",
    )
    run_log_retention_days: int | None = Field(
        default=None, ge=1, description="collector run records older than this are deleted"
    )
    export_log_retention_days: int | None = Field(
        default=None, ge=1, description="export log entries older than this are deleted"
    )
    audit_retention_days: int | None = Field(
        default=400,
        ge=1,
        description="audit trail rows (who signed in, moderated, edited, exported) older than "
        "this are deleted; long by default, since auditors look back over a year",
    )

    def retention(self, collect: CollectSettings) -> int | None:
        return self.retention_days or collect.retention_days


class ReceiverSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=1, le=65535)
    public_url: str | None = None
    owned_sites: list[str] = Field(default_factory=list)
    movement: str | None = None
    allow_private_addresses: bool = False
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    fetch_timeout_s: float = Field(default=10.0, gt=0, le=120)
    # blogs area (collectors/blogs/receiver.py, docs/blogs.md)
    allow_loopback: bool = False  # verify sources on 127.0.0.1 (tests); private stays refused
    max_source_bytes: int = Field(default=2_000_000, ge=10_000)
    pingback_sync: bool = True  # verify before answering pingback.ping (faults 0x10/0x11)
    verify_threads: int = Field(default=2, ge=1, le=16)
    max_attempts: int = Field(default=5, ge=1, le=50)
    recheck_after_days: int | None = Field(default=30, ge=1)
    max_pending: int = Field(default=10_000, ge=10)  # queue full: 503 / fault 0x32, retry later
    # a re-sent item is verified again at most once per this many seconds (per source and target)
    reverify_interval_s: int = Field(default=600, ge=0)


class Settings(_Strict):
    """The whole configuration file."""

    store: StoreSettings = Field(default_factory=StoreSettings)
    movements: list[MovementSettings] = Field(default_factory=list)
    events: list[EventSettings] = Field(default_factory=list)
    collect: CollectSettings = Field(default_factory=CollectSettings)
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    mastodon: MastodonSettings = Field(default_factory=MastodonSettings)
    bluesky: BlueskySettings = Field(default_factory=BlueskySettings)
    blogs: BlogsSettings = Field(default_factory=BlogsSettings)
    receiver: ReceiverSettings = Field(default_factory=ReceiverSettings)
    wall: WallSettings = Field(default_factory=WallSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    ethics: EthicsSettings = Field(default_factory=EthicsSettings)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)
    access: AccessSettings = Field(default_factory=AccessSettings)
    people: PeopleSettings = Field(default_factory=PeopleSettings)

    @model_validator(mode="after")
    def _references(self) -> Settings:
        slugs = [m.slug for m in self.movements]
        dupes = {s for s in slugs if slugs.count(s) > 1}
        if dupes:
            raise ValueError(f"movement slugs must be unique; repeated: {sorted(dupes)}")
        for i, ev in enumerate(self.events):
            if ev.movement is not None and ev.movement not in slugs:
                raise ValueError(
                    f"events[{i}].movement {ev.movement!r} names no movement; "
                    f"known: {slugs or 'none'}"
                )
        # With no movements declared (the demo registers its own) any slug may be meant.
        if slugs and self.wall.movement is not None and self.wall.movement not in slugs:
            raise ValueError(
                f"wall.movement {self.wall.movement!r} names no movement; known: {slugs}"
            )
        named = [
            (f"alerts.rules[{i}].movement", r.movement) for i, r in enumerate(self.alerts.rules)
        ]
        named.append(("alerts.digest.movement", self.alerts.digest.movement))
        for key, slug in named:
            if slugs and slug is not None and slug not in slugs:
                raise ValueError(f"{key} {slug!r} names no movement; known: {slugs}")
        return self

    @property
    def has_sources(self) -> bool:
        return bool(
            self.mastodon.instances
            or self.bluesky.queries
            or self.blogs.feeds
            or self.blogs.tracked_posts
        )


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The settings model that owns the key at `loc` (for 'did you mean' suggestions)."""
    model: Any = Settings
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", {})
        field = fields.get(part)
        if field is None:
            return None
        model = _inner_model(field.annotation)
        if model is None:
            return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


# Keys people write when they paste a secret into the file instead of the environment.
_SECRET_KEYS = frozenset(
    {"token", "access_token", "password", "app_password", "secret", "client_secret", "api_key"}
)
_ENV_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")


def _secret_problems(data: Any, origin: str, loc: tuple[Any, ...] = ()) -> list[str]:
    """Secrets written inline: a secret-looking key, an `*_env` key holding something that is
    not a variable name, or a store URL with a password in it."""
    problems: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            here = (*loc, key)
            k = str(key).lower()
            if k in _SECRET_KEYS or k.endswith(("_token", "_password", "_secret")):
                problems.append(
                    f"{origin}: {_loc(here)}: secrets never go in the config file; put the "
                    f"value in an environment variable and name that variable with "
                    f'`{k}_env = "GS_..."` (see docs/configuration.md)'
                )
            elif k.endswith("_env") and isinstance(value, str) and not _ENV_NAME_RE.match(value):
                problems.append(
                    f"{origin}: {_loc(here)}: must be the NAME of an environment variable "
                    f"(capitals, digits and '_', like GS_MASTODON_TOKEN), not the secret itself"
                )
            elif here == ("store", "url") and isinstance(value, str) and _has_password(value):
                problems.append(
                    f"{origin}: store.url: contains a password; remove it from the file and "
                    "put the full URL in the environment variable GROUNDSWELL_DB_URL instead"
                )
            else:
                problems.extend(_secret_problems(value, origin, here))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            problems.extend(_secret_problems(item, origin, (*loc, i)))
    return problems


def _has_password(url: str) -> bool:
    try:
        return bool(urlsplit(url).password)
    except ValueError:
        return False


def _describe(err: Any, origin: str) -> str:
    loc = tuple(err["loc"])
    key = _loc(loc)
    where = f"{origin}: {key}" if key else origin
    kind = err["type"]
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        known = sorted(model.model_fields) if model else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        allowed = f"allowed here: {', '.join(known)}" if known else "see config/example.toml"
        return f"{where}: unknown key; {hint}{allowed}"
    if kind == "missing":
        return f"{where}: required key is missing; add it (see config/example.toml)"
    msg = str(err["msg"]).removeprefix("Value error, ")
    msg = msg[:1].lower() + msg[1:]
    if kind != "value_error" and "input" in err and not isinstance(err["input"], dict | list):
        return f"{where} = {err['input']!r}: {msg}"
    return f"{where}: {msg}"


def parse_settings(data: dict[str, Any], *, origin: str = "<config>") -> Settings:
    """Validate a parsed config; `ConfigError` lists one line per problem (file, key, fix)."""
    secrets = _secret_problems(data, origin)
    if secrets:
        raise ConfigError("\n".join(secrets))
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("\n".join(_describe(e, origin) for e in exc.errors())) from None


def load_settings(path: str | Path | None = None) -> tuple[Settings, Path | None]:
    """Load and validate the config; no file at all means an empty (demo-ready) config."""
    candidate: Path | None = None
    if path is not None:
        candidate = Path(path)
        if not candidate.is_file():
            raise ConfigError(f"{candidate}: no such config file; copy config/example.toml")
    elif os.environ.get(ENV_CONFIG):
        candidate = Path(os.environ[ENV_CONFIG])
        if not candidate.is_file():
            raise ConfigError(f"{candidate} (from ${ENV_CONFIG}): no such config file")
    else:
        for p in DEFAULT_CONFIG_PATHS:
            if Path(p).is_file():
                candidate = Path(p)
                break
    if candidate is None:
        return Settings(), None
    try:
        data = tomllib.loads(candidate.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{candidate}: not valid TOML: {exc}; fix the syntax there (strings need quotes, "
            "tables are written [name], lists [[name]])"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{candidate}: cannot read: {exc}") from None
    # No side effects here: the application hands `settings.network` to the guarded fetcher
    # (`net.fetcher.configure`) when it starts (the CLI's load_config, the dashboard's settings).
    return parse_settings(data, origin=str(candidate)), candidate
