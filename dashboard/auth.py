"""Sign-in pieces shared by the whole-dashboard gate (`dashboard.access`) and the moderator
page (`dashboard.moderator_auth`): is OIDC configured, which email did the provider vouch for,
and a constant-time password check. Pure where possible, so the rules are unit-tested.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

import streamlit as st


def oidc_configured() -> bool:
    """True when secrets.toml has an `[auth]` section (what `st.login` reads)."""
    try:
        if not st.secrets.load_if_toml_exists():
            return False
        return bool(st.secrets.get("auth"))
    except Exception:  # a broken secrets file: Streamlit logs it; fall back to the password
        return False


def signed_in_email(user: Mapping[str, Any]) -> str:
    """The signed-in identity's email, trimmed and lower-cased ('' when the provider sent none)."""
    return str(user.get("email") or "").strip().lower()


def email_problem(user: Mapping[str, Any], *, to: str) -> str | None:
    """Why this identity's email cannot be trusted to `to` (e.g. "moderate"), or None.

    An address the provider marks unverified proves nothing about who signed in: anyone can
    type someone else's address into a self-service account.
    """
    email = signed_in_email(user)
    if not email:
        return f"Your identity provider did not share an email address, so you cannot {to}."
    if user.get("email_verified") is False:
        return f"{email} is not verified by your identity provider."
    return None


def password_matches(given: str, secret: str) -> bool:
    """Constant-time comparison, so response timing does not leak how much of a guess is right."""
    return hmac.compare_digest(given.encode(), secret.strip().encode())
