"""Which gate stands in front of the dashboard, from the configuration alone (renders
nothing): shared by the gate itself (`dashboard.access`), the roles (`dashboard.roles`) and the
CLI, which asks before it lets the dashboard listen beyond loopback. Its own module so that
`access` and `roles` do not import each other."""

from __future__ import annotations

from typing import Literal

from dashboard.auth import oidc_configured
from domain.settings.checks import secret_from_env
from domain.settings.config import DashboardSettings, Settings

PASSWORD_ENV = "GROUNDSWELL_DASHBOARD_PASSWORD"

GateMode = Literal["open", "password", "oidc", "locked"]


def gate_mode(
    dashboard: DashboardSettings, *, oidc: bool, password: str | None, mapped: bool = False
) -> GateMode:
    """Which gate applies, from what is configured (pure: the precedence is unit-tested).

    `mapped`: `[access.roles]` maps provider groups to roles, which also closes the dashboard
    to anyone signed out or without a role.
    """
    if oidc and (dashboard.restricted or mapped):
        return "oidc"
    if mapped and not password:
        return "locked"
    if password:
        return "password"
    if dashboard.restricted:
        return "locked"
    return "open"


def mode_and_password(settings: Settings) -> tuple[GateMode, str | None]:
    password = secret_from_env(PASSWORD_ENV, what="dashboard password")
    mode = gate_mode(
        settings.dashboard,
        oidc=oidc_configured(),
        password=password,
        mapped=settings.access.mapped,
    )
    return mode, password


def configured_gate(settings: Settings) -> GateMode:
    """The gate this configuration puts in front of every page (the CLI asks before it lets
    the dashboard listen beyond loopback)."""
    return mode_and_password(settings)[0]
