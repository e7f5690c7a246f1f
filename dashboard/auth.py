"""Sign-in pieces shared by the whole-dashboard gate (`dashboard.access`) and the moderator
page (`dashboard.moderator_auth`): is OIDC configured, which email did the provider vouch for,
and a constant-time password check. Pure where possible, so the rules are unit-tested.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import streamlit as st

from domain.passwords import Throttle, check_secret, verify_password

# One per password, for the whole Streamlit process: a new browser session starts no fresh count.
VIEWER_THROTTLE = Throttle("dashboard password")
MODERATOR_THROTTLE = Throttle("moderator password")


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
    """Plain text or a scrypt hash (`groundswell hash-password`), compared in constant time."""
    return verify_password(given, secret)


def client_address() -> str:
    """Who is trying, for the throttle and the log: the connection's address (Streamlit gives
    None for localhost). Behind a reverse proxy every visitor shares the proxy's address."""
    try:
        ip = st.context.ip_address
    except Exception:  # no request context (bare mode)
        ip = None
    return ip if isinstance(ip, str) and ip else "localhost"


def try_password(throttle: Throttle, given: str, secret: str) -> bool:
    """Check a typed password through the per-client throttle; shows why when it fails."""
    problem = check_secret(secret)
    if problem:
        st.error(f"The configured {throttle.what} cannot be used: {problem}.")
        return False
    outcome = throttle.attempt(client_address(), given, secret)
    if outcome is True:
        return True
    if outcome is False:
        st.error("Wrong password.")
    else:
        st.error(f"Too many wrong passwords from your address; try again in {outcome:.0f} s.")
    return False


def _metadata_url(provider: str | None) -> str | None:
    """The provider's discovery document URL from `[auth]` (or `[auth.<provider>]`)."""
    try:
        section = st.secrets.get("auth") or {}
        if provider:
            section = section.get(provider) or {}
        url = section.get("server_metadata_url")
    except Exception:  # a broken secrets file: Streamlit reports it itself
        return None
    return str(url) if url else None


def provider_problem(url: str) -> str | None:
    """Why the identity provider cannot sign anyone in now, or None when its discovery
    document answers. Checked before offering "Sign in", because Streamlit's login route
    answers a provider that is down with a bare "Authentication error" page. Fetched through
    the guarded fetcher (the operator configured this address, so it may be on the intranet)."""
    from net.fetcher import Fetcher, FetchError, operator_policy

    try:
        with Fetcher(operator_policy(url, timeout_s=5.0, max_bytes=1_000_000)) as fetcher:
            result = fetcher.get(url)
    except FetchError as exc:
        return str(exc)[:300]
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    if not 200 <= result.status < 300:
        return f"it answered HTTP {result.status}"
    return None


def sign_in_button(provider: str | None, *, key: str) -> None:
    """ "Sign in" through the identity provider; when the provider is not answering, a clear
    message instead of Streamlit's bare "Authentication error" page. Checked on the click, not
    on every page load, so signed-out visitors cost the provider nothing."""
    if not st.button("Sign in", key=key, type="primary"):
        return
    url = _metadata_url(provider)
    problem = provider_problem(url) if url else None
    if problem is None:
        st.login(provider)
        return
    host = urlsplit(url or "").netloc or "the identity provider"
    st.error(
        f"Sign-in is unavailable: your organisation's identity provider ({host}) is not "
        f"answering ({problem}). Try again in a minute; if it persists, tell the dashboard's "
        "organisers (docs/access.md, 'When sign-in fails')."
    )
