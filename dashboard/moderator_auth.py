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
    signed_in_email,
    try_password,
)
from groundswell.config import DashboardSettings, WallSettings

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


def _oidc_gate(wall: WallSettings, *, identity_shown: bool) -> str:
    user = st.user
    if not user.get("is_logged_in", False):
        st.info("Moderators sign in with their organisation's account.")
        if st.button("Sign in", key="gs-oidc-login", type="primary"):
            st.login(wall.login_provider)
        st.stop()
    reason = refusal(user, wall.moderator_emails)
    if reason is not None:
        st.error(reason)
        if st.button("Sign out", key="gs-oidc-logout"):
            st.logout()
        st.stop()
    name = str(user.get("name") or "").strip()
    email = str(user.get("email")).strip().lower()
    if not identity_shown:  # else the dashboard's own gate already shows it in the sidebar
        with st.sidebar:
            st.caption(f"Signed in as {email}")
            if st.button("Sign out", key="gs-oidc-logout"):
                st.logout()
    return f"{name} <{email}>"[:200] if name else email


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


def signed_in_moderator(wall: WallSettings) -> str | None:
    """The moderator signed in on this browser session, or None; renders nothing and never
    stops the page (pages that only show some controls to moderators ask this)."""
    if not oidc_configured():
        if not os.environ.get(PASSWORD_ENV, "").strip():
            return None
        who = st.session_state.get("gs_moderator")
        return str(who) if who else None
    user = st.user
    if not user.get("is_logged_in", False) or refusal(user, wall.moderator_emails) is not None:
        return None
    return signed_in_email(user)


def require_moderator(wall: WallSettings, dashboard: DashboardSettings | None = None) -> str:
    """The signed-in moderator's name for the audit log; stops the page for anyone else.

    Stricter than the dashboard's own gate (`dashboard.access`), which has already let this
    visitor in as a viewer: a viewer is not a moderator.
    """
    if not oidc_configured():
        return _password_gate()
    return _oidc_gate(wall, identity_shown=dashboard is not None and dashboard.restricted)
