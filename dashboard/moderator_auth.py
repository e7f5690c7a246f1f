"""Who may moderate: an OIDC sign-in (Streamlit's `st.login`) with an allow-list of emails when
the dashboard has an `[auth]` section in `.streamlit/secrets.toml`, else the shared password
from the environment (GROUNDSWELL_MODERATOR_PASSWORD). DESIGN.md section 8: the moderation
controls are for signed-in moderators only.

OIDC wins when both are configured: a shared password cannot say who clicked, an identity
provider can, and leaving the password as a side door would undo the allow-list.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from dashboard.auth import (
    MODERATOR_THROTTLE,
    email_problem,
    oidc_configured,
    sign_in_button,
    signed_in_email,
    try_password,
)
from dashboard.roles import (
    grant,
    identity,
    refusal_text,
    shown_identity,
    sign_in_expired,
    sign_out,
    signed_in_user,
)
from domain.settings.config import Settings

PASSWORD_ENV = "GROUNDSWELL_MODERATOR_PASSWORD"


def refusal(user: Mapping[str, Any], allowed: Sequence[str]) -> str | None:
    """Why this signed-in identity may not moderate, or None when it may.

    The email must be on the wall's `moderator_emails` list (case-insensitive) and, when the
    provider says so, verified: an unverified address proves nothing about who signed in.
    """
    if not allowed:
        return (
            "Moderation is locked: sign-in is configured but no moderator is. Add their "
            "emails to moderator_emails in the [wall] section of the config file."
        )
    problem = email_problem(user, to="moderate")
    if problem is not None:
        return problem
    email = signed_in_email(user)
    if email not in {e.strip().lower() for e in allowed}:
        return f"{email} is not on this wall's list of moderators."
    return None


def _moderator_configured(settings: Settings) -> bool:
    return bool(settings.wall.moderator_emails or settings.access.roles.get("moderator"))


def _oidc_gate(settings: Settings, *, identity_shown: bool) -> str:
    wall = settings.wall
    provider = wall.login_provider
    if sign_in_expired(settings):
        st.warning("Your sign-in has expired. Sign in again to moderate.")
        sign_in_button(provider, key="gs-oidc-login")
        st.stop()
    user = signed_in_user(settings)
    if user is None:
        st.info("Moderators sign in with their organisation's account.")
        sign_in_button(provider, key="gs-oidc-login")
        st.stop()
    if not grant(settings).allows("moderate"):
        if settings.access.mapped and _moderator_configured(settings):
            reason = refusal_text(settings, "moderate")
        else:
            reason = refusal(user, wall.moderator_emails) or refusal_text(settings, "moderate")
        st.error(reason)
        if not identity_shown and st.button("Sign out", key="gs-oidc-logout"):
            sign_out(settings)  # else the sidebar already has the one Sign out
        st.stop()
    if not identity_shown:  # else the dashboard's own gate already shows it in the sidebar
        with st.sidebar:
            st.caption(f"Signed in as {shown_identity(user)}")
            if st.button("Sign out", key="gs-oidc-logout"):
                sign_out(settings)
    return identity(user)


def _password_gate() -> str:
    secret = os.environ.get(PASSWORD_ENV, "")
    if not secret.strip():
        st.error(
            f"Moderation is locked: set the environment variable {PASSWORD_ENV} to a password "
            "for moderators and restart the dashboard (or configure sign-in: docs/wall.md)."
        )
        st.stop()
    if not st.session_state.get("gs_moderator"):
        with st.form("gs-login"):
            who = st.text_input("Your name (recorded with each decision)", max_chars=100)
            password = st.text_input("Moderator password", type="password")
            submitted = st.form_submit_button("Sign in")
            if submitted and try_password(MODERATOR_THROTTLE, password, secret):
                st.session_state["gs_moderator"] = who.strip() or "moderator"
                st.rerun()
        st.stop()
    return str(st.session_state["gs_moderator"])


def require_moderator(settings: Settings) -> str:
    """The signed-in moderator's name for the audit log; stops the page for anyone else.

    Stricter than the dashboard's own gate (`dashboard.access`), which has already let this
    visitor in as a viewer: a viewer is not a moderator. With sign-in configured the moderator
    role comes from the provider's groups (`[access.roles]`) or `[wall].moderator_emails`;
    without it, from the shared moderator password.
    """
    if not oidc_configured():
        g = grant(settings)
        if g.allows("moderate") and g.via != "open":
            return g.who or "moderator"
        return _password_gate()
    restricted = settings.dashboard.restricted or settings.access.mapped
    return _oidc_gate(settings, identity_shown=restricted)
