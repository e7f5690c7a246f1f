"""This browser session's roles, and the server-side check in front of every control
(docs/access.md; the rules themselves are pure, in `domain.access`).

Where roles come from, in order:
1. A sign-in through the identity provider (`st.login`): the ID token's group/role claims
   mapped by `[access.roles]`, plus the older email lists (`[dashboard].viewer_emails` /
   `viewer_domains` give viewer; `[wall].moderator_emails` give moderator and editor). A
   sign-in older than `[access].max_session_hours` counts as signed out.
2. The shared passwords, when no sign-in is configured: the dashboard password gives
   `[access].dashboard_password_roles`, the moderator password `moderator_password_roles`.
3. A dashboard with no gate at all (local use): `[access].open_roles`.

Pages ask `permitted(settings, action)` before drawing a control and `require(settings,
action)` in front of a whole page; both run on the server at every rerun, so a hand-made URL
or a replayed widget message reaches no control the role does not allow.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from dashboard.auth import email_problem, oidc_configured, signed_in_email
from dashboard.gate import configured_gate
from domain.access import (
    Action,
    Role,
    allows,
    missing_role_message,
    roles_from_claims,
    roles_from_email,
    session_expired,
    with_viewer,
)
from domain.settings.config import Settings

log = logging.getLogger("groundswell.audit")
OPEN_ACTOR = "open dashboard (no sign-in)"
VIEWER_SESSION_KEY = "gs_viewer"  # set by the dashboard password form (dashboard.access)
MODERATOR_SESSION_KEY = "gs_moderator"  # set by the moderator password form


@dataclass(frozen=True)
class Grant:
    """What this session may do and who it is (recorded with each action)."""

    roles: frozenset[Role]
    who: str | None
    via: str  # "oidc", "password", "open" or "none"

    def allows(self, action: Action) -> bool:
        return allows(self.roles, action)


def identity(user: Mapping[str, Any]) -> str:
    """How a signed-in person is named in logs: 'Name <email>', the email, else the subject."""
    email = signed_in_email(user)
    name = str(user.get("name") or "").strip()
    if email:
        return f"{name} <{email}>"[:200] if name else email
    return str(user.get("preferred_username") or user.get("sub") or "signed-in user")[:200]


def shown_identity(user: Mapping[str, Any]) -> str:
    """The identity as the sidebar shows it ('Name (email)': markdown would turn the log's
    'Name <email>' into a bare link and drop the brackets)."""
    email = signed_in_email(user)
    name = str(user.get("name") or "").strip()
    if email and name:
        return f"{name} ({email})"[:200]
    return identity(user)


def oidc_roles(user: Mapping[str, Any], settings: Settings) -> frozenset[Role]:
    """The roles of a signed-in identity: mapped claims, plus the email lists (a verified
    email only: an unverified address proves nothing about who signed in)."""
    roles: set[Role] = set(roles_from_claims(user, settings.access))
    if email_problem(user, to="use this dashboard") is None:
        email = signed_in_email(user)
        roles |= roles_from_email(email, settings.access)
        if email in {e.lower() for e in settings.wall.moderator_emails}:
            roles |= {"moderator", "editor"}
        dashboard = settings.dashboard
        if email in {e.lower() for e in dashboard.viewer_emails} or (
            email.rpartition("@")[2] in set(dashboard.viewer_domains)
        ):
            roles.add("viewer")
    return with_viewer(roles)


def signed_in_user(settings: Settings) -> Mapping[str, Any] | None:
    """The provider's claims for this session when signed in and not expired, else None."""
    if not oidc_configured():
        return None
    user = st.user
    if not user.get("is_logged_in", False):
        return None
    if session_expired(user, time.time(), settings.access.max_session_hours):
        return None
    return user


def sign_in_expired(settings: Settings) -> bool:
    """True when this session signed in, but longer ago than `max_session_hours`."""
    if not oidc_configured():
        return False
    user = st.user
    return bool(user.get("is_logged_in", False)) and session_expired(
        user, time.time(), settings.access.max_session_hours
    )


def grant(settings: Settings) -> Grant:
    """This session's roles now (renders nothing)."""
    mode = configured_gate(settings)
    open_roles: set[Role] = set(settings.access.open_roles) if mode == "open" else set()
    if oidc_configured():
        user = signed_in_user(settings)
        if user is None:
            return Grant(with_viewer(open_roles), None, "open" if open_roles else "none")
        return Grant(oidc_roles(user, settings) | open_roles, identity(user), "oidc")
    roles = set(open_roles)
    who: str | None = None
    if mode == "password" and st.session_state.get(VIEWER_SESSION_KEY):
        roles |= set(settings.access.dashboard_password_roles)
    moderator = st.session_state.get(MODERATOR_SESSION_KEY)
    if moderator:
        roles |= set(settings.access.moderator_password_roles)
        who = str(moderator)
    via = "password" if mode == "password" or moderator else ("open" if roles else "none")
    return Grant(with_viewer(roles), who, via)


def actor_name(g: Grant, user: Mapping[str, Any] | None) -> str:
    """How the audit trail names the person behind this grant (pure; `dashboard.audit`)."""
    if g.via == "oidc":
        who = g.who or "signed-in user"
        sub = str((user or {}).get("sub") or "").strip()
        # The subject is the stable key; it is left out only when the name *is* the subject
        # (a substring test dropped it for sub "mo" signed in as mo@org.example).
        return f"{who} · sub:{sub}"[:200] if sub and sub != who else who[:200]
    if g.via == "password":
        return f"shared password: {g.who}"[:200] if g.who else "shared password"
    return OPEN_ACTOR


def sign_out(settings: Settings) -> None:
    """End the provider sign-in (`st.logout`), recorded first in the audit trail: under the
    name its sign-in was recorded with, tied to the same ID token (its issue time), whether
    the session still had a role or not (a refused or expired sign-in signs out too). A store
    that cannot be written is logged; it never keeps anyone signed in."""
    from sqlalchemy.exc import SQLAlchemyError

    from dashboard.wall_common import engine  # the store is opened only for a sign-out
    from storage.audit import record_action
    from storage.engine import StoreConfigError, write_tx

    user = st.user if oidc_configured() and st.user.get("is_logged_in", False) else None
    if user is not None:
        name = actor_name(Grant(frozenset(), identity(user), "oidc"), user)
        issued = user.get("iat")
        try:
            with write_tx(engine()) as conn:
                record_action(
                    conn,
                    actor=name,
                    role="session",
                    action="sign_out",
                    target_kind="id_token" if issued is not None else None,
                    target_id=str(issued) if issued is not None else None,
                    detail={"via": "oidc"},
                )
        except (SQLAlchemyError, StoreConfigError):
            log.warning(
                "could not record the sign-out of %s in the audit trail", name, exc_info=True
            )
    st.logout()


def permitted(settings: Settings, action: Action) -> bool:
    """Whether this session may do `action` (renders nothing; ask before drawing a control)."""
    return grant(settings).allows(action)


def refusal_text(settings: Settings, action: Action) -> str:
    """What to show instead of a control this session may not use."""
    g = grant(settings)
    if g.via == "oidc":
        return missing_role_message(action, g.roles, settings.access)
    if action in ("moderate", "acknowledge_alerts", "edit_events", "edit_sources", "view_audit"):
        return missing_role_message(action, g.roles, settings.access).split(" Ask")[0] + (
            " Sign in on the Moderate page, then come back here."
        )
    return missing_role_message(action, g.roles, settings.access)


def refuse(settings: Settings, action: Action) -> None:
    """The "you need the X role" page: the reason, a way out, and nothing else."""
    st.error(refusal_text(settings, action))
    # The dashboard's own sign-in gate already shows Sign out in the sidebar.
    shown = configured_gate(settings) == "oidc"
    if grant(settings).via == "oidc" and not shown and st.button("Sign out", key="gs-role-logout"):
        sign_out(settings)
    st.stop()
