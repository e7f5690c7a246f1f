"""The `[alerts]` settings (docs/alerts.md): rules, email, webhooks and the digest.

Kept beside the alerts code, like the collectors' settings, so this area owns its own shape;
`domain.settings.config.Settings` holds one `alerts` table of this type. Secrets (SMTP login) are
named by environment variable (`*_env`), never written here.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

RuleKind = Literal["spike", "new_place", "watched_terms", "new_amplifier", "event"]
WebhookFormat = Literal["json", "slack", "mattermost"]
_NAME = r"^[a-z0-9][a-z0-9_-]{0,79}$"
_SCHEDULE_RE = re.compile(
    r"^(daily|weekly(?: (mon|tue|wed|thu|fri|sat|sun))?) (\d\d):(\d\d)(?: (\S+))?$"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _emails(v: list[str]) -> list[str]:
    from domain.settings.checks import check_emails

    return check_emails(v)


class AlertRule(_Strict):
    """One rule. Which keys matter depends on `kind` (docs/alerts.md, "Rules")."""

    name: str = Field(pattern=_NAME, description="unique; names the rule in alerts and links")
    kind: RuleKind
    movement: str | None = Field(default=None, description="movement slug; default: every one")
    platform: str | None = Field(
        default=None, description="spike: count only this platform (bluesky, mastodon, blog...)"
    )
    window_minutes: int = Field(
        default=60, ge=5, le=1440, description="spike: the recent window compared"
    )
    baseline_days: Literal[7, 28] = Field(
        default=7, description="spike: same time of day over the previous 7 or 28 days"
    )
    min_count: int = Field(default=20, ge=1, description="spike: fewest mentions in the window")
    lift: float = Field(default=3.0, gt=1, description="spike: window / baseline to fire")
    clear_lift: float | None = Field(
        default=None,
        gt=0,
        description="spike: the episode ends when the lift falls below this (hysteresis); "
        "default: half way between 1 and `lift`",
    )
    cooldown_minutes: int = Field(
        default=180, ge=0, le=10_080, description="no new episode of this rule sooner than this"
    )
    terms: list[str] = Field(
        default_factory=list, description="watched_terms: words or phrases (case-insensitive)"
    )
    min_reposts: int = Field(
        default=50,
        ge=1,
        description="new_amplifier: amplifications (reposts, boosts, quotes, replies, links) "
        "a new author's posts must have drawn (the store keeps no follower counts)",
    )
    channels: list[str] = Field(
        default_factory=list,
        description="'email' and/or webhook names; default: every configured channel",
    )

    @field_validator("terms")
    @classmethod
    def _terms(cls, v: list[str]) -> list[str]:
        out = [t.strip() for t in v if t.strip()]
        if len(out) != len(v):
            raise ValueError("a watched term is empty; remove it or write the word")
        return out

    @model_validator(mode="after")
    def _kind_needs(self) -> AlertRule:
        if self.kind == "watched_terms" and not self.terms:
            raise ValueError(f"rule {self.name!r}: kind 'watched_terms' needs terms = [\"...\"]")
        clear = self.clear_lift if self.clear_lift is not None else (1 + self.lift) / 2
        if clear >= self.lift:
            raise ValueError(
                f"rule {self.name!r}: clear_lift ({clear}) must be below lift ({self.lift}), "
                "or the episode never ends"
            )
        self.clear_lift = clear
        return self


class EmailSettings(_Strict):
    """SMTP delivery: HTML with a plain-text part."""

    host: str = Field(min_length=1, description="SMTP server name or address")
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls",
        description="starttls (port 587), ssl (implicit TLS, port 465), or none (a local relay "
        "on loopback only)",
    )
    username_env: str | None = Field(
        default=None, description="environment variable holding the SMTP user name"
    )
    password_env: str | None = Field(
        default=None, description="environment variable holding the SMTP password"
    )
    sender: str = Field(description="the From address")
    to: list[str] = Field(min_length=1, description="recipients")
    timeout_s: float = Field(default=20.0, gt=0, le=300)

    _sender = field_validator("sender")(classmethod(lambda cls, v: _emails([v])[0]))
    _to = field_validator("to")(classmethod(lambda cls, v: _emails(v)))

    @model_validator(mode="after")
    def _consistent(self) -> EmailSettings:
        if self.security == "starttls" and self.port == 465:
            raise ValueError(
                'port 465 speaks implicit TLS: write security = "ssl" (or use port 587)'
            )
        if self.security == "ssl" and self.port in (25, 587, 1025):
            raise ValueError(
                f"port {self.port} expects STARTTLS or plain SMTP, not implicit TLS: write "
                'security = "starttls" (or port 465)'
            )
        if self.security == "none" and self.host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError(
                f'security = "none" sends mail unencrypted; only for a relay on loopback, '
                f'not {self.host!r}: write security = "starttls" or "ssl"'
            )
        if (self.username_env is None) != (self.password_env is None):
            raise ValueError("name both username_env and password_env, or neither")
        return self


class WebhookSettings(_Strict):
    name: str = Field(pattern=_NAME, description="names the channel in rules' `channels`")
    url: str = Field(description="the incoming-webhook URL (http or https)")
    format: WebhookFormat = Field(
        default="json", description="json (generic), slack or mattermost (incoming webhooks)"
    )

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{v!r} is not an http(s) URL; write it like https://hooks.example/x")
        return v


class DigestSettings(_Strict):
    schedule: str | None = Field(
        default=None,
        description="when `up` / `collect --loop` send the digest: 'daily 08:00 Europe/London' "
        "or 'weekly mon 08:00 Europe/London'; default: never (use `groundswell digest`)",
    )
    movement: str | None = Field(default=None, description="movement slug; default: the first")

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str | None) -> str | None:
        if v is None:
            return v
        m = _SCHEDULE_RE.match(v.lower())
        if not m or int(m.group(3)) > 23 or int(m.group(4)) > 59:
            raise ValueError(
                f"{v!r} is not a schedule; write 'daily 08:00 Europe/London' or "
                "'weekly mon 08:00 UTC'"
            )
        if m.group(5):
            from domain.settings.checks import check_zone

            check_zone(v.split()[-1])
        return v


class AlertsSettings(_Strict):
    """Alerts and digests (issue 19)."""

    enabled: bool = Field(default=True, description="evaluate rules after each collect cycle")
    dashboard_url: str = Field(
        default="http://127.0.0.1:8501",
        description="base of the dashboard links alerts carry",
    )
    allow_loopback: bool = Field(
        default=False,
        description="let email and webhooks reach 127.0.0.1 (a local relay, tests); private "
        "and other internal addresses stay refused",
    )
    max_attempts: int = Field(
        default=10, ge=1, le=100, description="deliveries given up (failed) after this many"
    )
    retry_base_s: int = Field(
        default=60, ge=1, le=86_400, description="first retry delay; doubles each attempt"
    )
    rules: list[AlertRule] = Field(default_factory=list)
    email: EmailSettings | None = None
    webhooks: list[WebhookSettings] = Field(default_factory=list)
    digest: DigestSettings = Field(default_factory=DigestSettings)

    @model_validator(mode="after")
    def _names(self) -> AlertsSettings:
        for label, names in (
            ("rules", [r.name for r in self.rules]),
            ("webhooks", [w.name for w in self.webhooks]),
        ):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{label} names must be unique; repeated: {dupes}")
        known = {"email", *(w.name for w in self.webhooks)}
        for i, rule in enumerate(self.rules):
            for ch in rule.channels:
                if ch not in known:
                    raise ValueError(
                        f"rules[{i}].channels: {ch!r} names no channel; known: {sorted(known)}"
                    )
        return self

    def secret_problems(self) -> list[str]:
        """Environment variables the SMTP login names but that are not set (`init` checks
        this, so a typo is found before the first alert, not when it is lost in a retry)."""
        from domain.settings.checks import secret_from_env

        e = self.email
        if e is None or e.username_env is None:
            return []
        return [
            f"alerts.email.{key}: the environment variable ${var} is not set; export it "
            "(the SMTP login), or remove username_env/password_env for a server without one"
            for key, var in (("username_env", e.username_env), ("password_env", e.password_env))
            if var and secret_from_env(var, what=key) is None
        ]

    def channel_names(self, rule: AlertRule) -> list[str]:
        """The channels one rule delivers to: its own list, else every configured one."""
        every = (["email"] if self.email else []) + [w.name for w in self.webhooks]
        return [c for c in (rule.channels or every) if c in every]
