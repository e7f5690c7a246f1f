"""Who may do what on the dashboard: roles, the actions each role allows, and the mapping from
an identity provider's claims (groups, app roles, Keycloak realm roles, Google's hosted domain)
to roles (docs/access.md; issue 23).

Pure: no Streamlit, no I/O. The dashboard asks `roles_from_claims` once per run with the
signed-in user's ID-token claims and `allows` before drawing any control, so every rule here is
unit-tested and every control is checked on the server.

Why roles and not one moderator list: in a large organisation the people who moderate the wall
in the room are not the people who may export identified data, and the identity provider
already knows who is in which team; the config only says which of its groups means which role.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Role = Literal["viewer", "moderator", "editor", "researcher", "auditor"]
ROLES: tuple[Role, ...] = get_args(Role)

Action = Literal[
    "view",
    "export_pseudonymised",
    "moderate",
    "acknowledge_alerts",
    "edit_events",
    "edit_sources",
    "export_identified",
    "view_audit",
    "export_audit",
]

# What each role allows. Every role can view: a moderator who cannot see the dashboard could not
# moderate from it. Moderating and acknowledging alerts belong together (the people on duty in
# the room); editing events and sources changes every page's baselines; identified exports name
# people and leave the operator's hands. The audit trail (who did what) is shown to moderators,
# who answer for the room, and to auditors; only auditors may take it away (it names staff).
ROLE_ACTIONS: Mapping[Role, frozenset[Action]] = {
    "viewer": frozenset({"view", "export_pseudonymised"}),
    "moderator": frozenset(
        {"view", "export_pseudonymised", "moderate", "acknowledge_alerts", "view_audit"}
    ),
    "editor": frozenset({"view", "export_pseudonymised", "edit_events", "edit_sources"}),
    "researcher": frozenset({"view", "export_pseudonymised", "export_identified"}),
    "auditor": frozenset({"view", "export_pseudonymised", "view_audit", "export_audit"}),
}

# What users read on the "you need the X role" page.
ROLE_PURPOSE: Mapping[Role, str] = {
    "viewer": "read the dashboard's pages and download pseudonymised exports",
    "moderator": "moderate the live wall and acknowledge alerts",
    "editor": "add, change, delete or import events and sources",
    "researcher": "download identified exports (they name people; each one is logged)",
    "auditor": "read and download the audit trail (who signed in, moderated, edited, exported)",
}

# A hostile or broken token must not cost much: only this many values per claim are read, and
# only strings this long are compared.
MAX_CLAIM_VALUES = 1000
MAX_VALUE_LENGTH = 512


def role_for(action: Action) -> Role:
    """The narrowest role that allows `action` (what the refusal page names)."""
    for role in ("viewer", "moderator", "editor", "researcher", "auditor"):
        if action in ROLE_ACTIONS[role]:  # type: ignore[index]
            return role  # type: ignore[return-value]
    raise ValueError(f"no role allows {action!r}")


def allows(roles: Iterable[Role], action: Action) -> bool:
    """Whether any of `roles` allows `action`."""
    return any(action in ROLE_ACTIONS.get(r, frozenset()) for r in roles)


def claim_values(claims: Mapping[str, Any], name: str) -> list[str]:
    """The string values of one claim, as a list.

    `name` is either a claim's own name, dots included (Auth0-style namespaced claims such as
    "https://example.org/roles"), or a dotted path into nested objects ("realm_access.roles",
    Keycloak's realm roles). A single string counts as one value (Google's "hd"); anything that is
    neither a string nor a list of strings counts as nothing.
    """
    value: Any = claims.get(name)
    if value is None and "." in name:
        value = claims
        for part in name.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        items: list[Any] = [value]
    elif isinstance(value, list | tuple):
        items = list(value[:MAX_CLAIM_VALUES])
    else:
        return []
    return [v.strip() for v in items if isinstance(v, str) and 0 < len(v) <= MAX_VALUE_LENGTH]


def _roles(*roles: Role) -> list[Role]:
    return list(roles)


class AccessSettings(BaseModel):
    """`[access]` in the config: which provider claims give which role, what the shared
    passwords give, and how long a sign-in lasts (docs/access.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    roles: dict[Role, list[str]] = Field(
        default_factory=dict,
        description="[access.roles]: role -> claim values that give it, e.g. moderator = "
        '["groundswell-moderators"]; matched case-insensitively against every claim in `claims`',
    )
    claims: list[str] = Field(
        default_factory=lambda: ["groups", "roles"],
        description="the ID-token claims whose values are matched: 'groups', 'roles' (Entra "
        "app roles), 'realm_access.roles' (Keycloak), 'hd' (Google's hosted domain)",
    )
    emails: dict[Role, list[str]] = Field(
        default_factory=dict,
        description="[access.emails]: role -> signed-in, verified emails that give it (for "
        "providers without group claims, such as Google)",
    )
    dashboard_password_roles: list[Role] = Field(
        default_factory=lambda: _roles("viewer"),
        description="roles the shared dashboard password (GROUNDSWELL_DASHBOARD_PASSWORD) gives",
    )
    moderator_password_roles: list[Role] = Field(
        default_factory=lambda: _roles("moderator", "editor"),
        description="roles the shared moderator password (GROUNDSWELL_MODERATOR_PASSWORD) gives",
    )
    open_roles: list[Role] = Field(
        default_factory=lambda: _roles("viewer", "researcher"),
        description="roles of everyone when the dashboard has no gate at all (local use, bound "
        "to 127.0.0.1): whoever reaches it can run `groundswell export --identified` anyway",
    )
    max_session_hours: float = Field(
        default=24.0,
        gt=0,
        le=24 * 90,
        description="a sign-in older than this (from the ID token's issue time) must sign in "
        "again, so a role taken away in the provider is gone within a day; raise it for a wall "
        "projected through a multi-day event",
    )

    @field_validator("roles")
    @classmethod
    def _values(cls, v: dict[Role, list[str]]) -> dict[Role, list[str]]:
        out: dict[Role, list[str]] = {}
        for role, values in v.items():
            cleaned = [s.strip() for s in values if s.strip()]
            if not cleaned:
                raise ValueError(
                    f"[access.roles] {role} lists no group or role; write it like "
                    f'{role} = ["groundswell-{role}s"] or remove the line'
                )
            out[role] = cleaned
        return out

    @field_validator("emails")
    @classmethod
    def _emails(cls, v: dict[Role, list[str]]) -> dict[Role, list[str]]:
        out: dict[Role, list[str]] = {}
        for role, emails in v.items():
            cleaned = [e.strip().lower() for e in emails if e.strip()]
            bad = [e for e in cleaned if not _EMAIL.match(e)]
            if bad:
                raise ValueError(
                    f"[access.emails] {role}: {bad[0]!r} is not an email address; write it "
                    "like 'mo@nhs.uk'"
                )
            out[role] = cleaned
        return out

    @field_validator("claims")
    @classmethod
    def _claims(cls, v: list[str]) -> list[str]:
        cleaned = [c.strip() for c in v if c.strip()]
        if not cleaned:
            raise ValueError(
                'names no claim; write it like claims = ["groups"] (Keycloak: '
                '"realm_access.roles", Entra ID app roles: "roles", Google: "hd")'
            )
        return cleaned

    @property
    def mapped(self) -> bool:
        """True when sign-in gives roles (then sign-in is the dashboard's gate)."""
        return bool(self.roles or self.emails)


def roles_from_claims(claims: Mapping[str, Any], access: AccessSettings) -> frozenset[Role]:
    """The roles a signed-in identity's claims give under `[access.roles]`.

    Any value of any configured claim that equals (case-insensitively) a value listed for a
    role gives that role; every role also gives viewer. No match: no role at all.
    """
    have = {v.casefold() for name in access.claims for v in claim_values(claims, name)}
    roles: set[Role] = {
        role for role, wanted in access.roles.items() if have & {w.casefold() for w in wanted}
    }
    if roles:
        roles.add("viewer")
    return frozenset(roles)


def roles_from_email(verified_email: str, access: AccessSettings) -> frozenset[Role]:
    """The roles `[access.emails]` gives an address the provider verified (the caller checks
    that; an unverified address proves nothing about who signed in)."""
    email = verified_email.strip().lower()
    roles: set[Role] = {role for role, listed in access.emails.items() if email and email in listed}
    return with_viewer(roles)


def with_viewer(roles: Iterable[Role]) -> frozenset[Role]:
    """`roles` plus viewer when there is any (every role can see what it works on)."""
    out = frozenset(roles)
    return out | {"viewer"} if out else out


def session_expired(claims: Mapping[str, Any], now: float, max_hours: float) -> bool:
    """Whether a sign-in is too old: issued (`iat`, else `auth_time`) more than `max_hours`
    before `now` (seconds since the epoch), or issued in the future (a forged or broken clock).
    A sign-in that says neither is not judged here: OIDC requires `iat` in every ID token and
    Authlib refuses a token without it, so only a hand-made identity lacks it.

    Not the ID token's `exp`: Google and Entra issue one-hour tokens, and a wall projected
    through a whole day must not fall to a sign-in page every hour.
    """
    issued = claims.get("iat", claims.get("auth_time"))
    if issued is None:
        return False
    if isinstance(issued, bool) or not isinstance(issued, int | float):
        return True
    return now - float(issued) > max_hours * 3600 or float(issued) > now + 300


def missing_role_message(action: Action, roles: Iterable[Role], access: AccessSettings) -> str:
    """The refusal a signed-in person reads instead of a control: which role is needed, what
    they have, and whom to ask (the provider groups that give it, when the config maps any)."""
    need = role_for(action)
    have = sorted(roles)
    parts = [f"You need the {need} role to {ROLE_PURPOSE[need]}."]
    parts.append(
        f"You have the {', '.join(have)} role{'s' if len(have) > 1 else ''}."
        if have
        else "You have no role on this dashboard."
    )
    groups = access.roles.get(need)
    if groups:
        parts.append(
            "Ask your organisation's administrators to add you to "
            + " or ".join(f"'{g}'" for g in groups)
            + ", then sign out and sign in again."
        )
    else:
        parts.append("Ask the dashboard's organisers for it.")
    return " ".join(parts)
