"""The dashboard's side of the audit trail (docs/access.md, "The audit trail"): who is acting,
named from this session's grant, and one call that records an action in the caller's
transaction (`storage.audit.record_action`), so a hide and its audit row commit together.

Actors: a provider sign-in is "Name <email> · sub:<subject>" (the subject is what the provider
never reassigns; names and emails change); a shared password is "shared password: <name typed
at sign-in>" or "shared password"; a dashboard with no gate is "open dashboard (no sign-in)".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import streamlit as st
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

# Naming the actor lives with the grant it names (`dashboard.roles`), so the sign-out there
# records under the same name as the sign-in here.
from dashboard.roles import OPEN_ACTOR, actor_name, grant, signed_in_user  # noqa: F401 - re-exported
from domain.settings.config import Settings
from storage.audit import already_recorded, record_action
from storage.engine import StoreConfigError, write_tx

log = logging.getLogger("groundswell.audit")
SIGNED_IN_KEY = "gs_audit_signed_in"

# Moderator page buttons -> audit action, for the decisions a (kind, action, active) triple
# does not tell apart: "approve" is also how a post is shown again or unpinned.
_VERBS = {"show": "wall.show", "unpin": "wall.unpin", "approve": "wall.approve"}


def moderation_action(kind: str, action: str, active: bool, verb: str | None = None) -> str:
    """The audit action of one wall decision (pure, unit-tested)."""
    if verb in _VERBS:
        return _VERBS[verb]
    if action == "hide":
        return "wall.hide" if active else "wall.unhide"
    if action == "block":
        return "wall.block" if active else "wall.unblock"
    if action == "pin":
        return "wall.pin" if active else "wall.unpin"
    return "wall.approve"


def actor(settings: Settings) -> str:
    """Who is acting in this browser session now."""
    return actor_name(grant(settings), signed_in_user(settings))


def record(
    conn: Connection,
    settings: Settings,
    *,
    role: str,
    action: str,
    target_kind: str | None = None,
    target_id: str | int | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Record `action`, done by this session under `role`, in the caller's transaction."""
    record_action(
        conn,
        actor=actor(settings),
        role=role,
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        detail=detail,
    )


def note_sign_in(settings: Settings) -> None:
    """Record a sign-in once (renders nothing): a provider sign-in once per ID token (its issue
    time is the target, so new tabs and reloads of the same sign-in add nothing), a shared
    password once per browser session (it is typed again in each). Runs on every page load, so
    signing out and in as someone else is recorded again. A store that cannot be written is
    logged and retried on the next run rather than locking everyone out."""
    g = grant(settings)
    if g.via not in ("oidc", "password"):
        return
    user = signed_in_user(settings)
    name = actor_name(g, user)
    issued = (user or {}).get("iat")
    seen = (name, issued, tuple(sorted(g.roles)))
    if st.session_state.get(SIGNED_IN_KEY) == seen:
        return
    from dashboard.wall_common import engine  # the store is opened only for a sign-in

    token = str(issued) if g.via == "oidc" and issued is not None else None
    try:
        with write_tx(engine()) as conn:
            if token is None or not already_recorded(
                conn, actor=name, action="sign_in", target_kind="id_token", target_id=token
            ):
                record_action(
                    conn,
                    actor=name,
                    role="session",
                    action="sign_in",
                    target_kind="id_token" if token else None,
                    target_id=token,
                    detail={"via": g.via, "roles": sorted(g.roles)},
                )
    except (SQLAlchemyError, StoreConfigError):  # the page itself then says what is wrong
        log.warning("could not record the sign-in of %s in the audit trail", name, exc_info=True)
        return
    st.session_state[SIGNED_IN_KEY] = seen
