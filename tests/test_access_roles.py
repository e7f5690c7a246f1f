"""Roles from the identity provider (domain/access.py, issue 23): which claims give which role,
what each role allows, when a sign-in is too old, and what a refused person reads."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain.access import (
    ROLES,
    AccessSettings,
    allows,
    claim_values,
    missing_role_message,
    role_for,
    roles_from_claims,
    roles_from_email,
    session_expired,
)
from domain.settings.config import Settings

MAPPED = AccessSettings(
    roles={
        "moderator": ["groundswell-moderators"],
        "editor": ["groundswell-editors"],
        "researcher": ["groundswell-researchers"],
        "viewer": ["groundswell-viewers"],
    },
    claims=["groups", "roles", "realm_access.roles", "hd"],
)


def test_a_group_claim_gives_its_role_and_viewer_with_it():
    claims = {"sub": "1", "groups": ["groundswell-moderators", "payroll"]}
    assert roles_from_claims(claims, MAPPED) == {"moderator", "viewer"}


def test_values_match_case_insensitively_and_trimmed():
    assert roles_from_claims({"groups": [" GroundSwell-Researchers "]}, MAPPED) == {
        "researcher",
        "viewer",
    }


def test_no_matching_value_gives_no_role_at_all():
    assert roles_from_claims({"groups": ["payroll"], "email": "a@b.example"}, MAPPED) == set()


def test_keycloak_realm_roles_are_read_through_a_dotted_path():
    claims = {"realm_access": {"roles": ["offline_access", "groundswell-editors"]}}
    assert roles_from_claims(claims, MAPPED) == {"editor", "viewer"}


def test_entra_app_roles_are_read_from_the_roles_claim():
    assert roles_from_claims({"roles": ["groundswell-moderators"]}, MAPPED) == {
        "moderator",
        "viewer",
    }


def test_googles_hosted_domain_is_one_string_value():
    google = AccessSettings(roles={"viewer": ["nhs.example"]}, claims=["hd"])
    assert roles_from_claims({"hd": "nhs.example"}, google) == {"viewer"}
    assert roles_from_claims({"hd": "nhs.example.evil"}, google) == set()


def test_a_namespaced_claim_with_dots_in_its_name_is_read_whole():
    access = AccessSettings(roles={"researcher": ["r"]}, claims=["https://example.org/roles"])
    assert claim_values({"https://example.org/roles": ["r"]}, "https://example.org/roles") == ["r"]
    assert roles_from_claims({"https://example.org/roles": ["r"]}, access) == {
        "researcher",
        "viewer",
    }


def test_a_claim_only_counts_when_it_is_configured():
    access = AccessSettings(roles={"moderator": ["mods"]}, claims=["groups"])
    assert roles_from_claims({"roles": ["mods"]}, access) == set()


@pytest.mark.parametrize(
    "value",
    [
        {"groundswell-moderators": True},
        42,
        [["groundswell-moderators"]],
        [{"name": "groundswell-moderators"}],
        ["x" * 600],
        None,
    ],
)
def test_hostile_or_malformed_claim_values_give_nothing(value):
    assert roles_from_claims({"groups": value}, MAPPED) == set()


def test_only_the_first_thousand_values_of_a_claim_are_read():
    claims = {"groups": ["noise"] * 1000 + ["groundswell-moderators"]}
    assert roles_from_claims(claims, MAPPED) == set()


@pytest.mark.parametrize(
    ("role", "action", "allowed"),
    [
        ("viewer", "view", True),
        ("viewer", "export_pseudonymised", True),
        ("viewer", "moderate", False),
        ("viewer", "edit_events", False),
        ("viewer", "export_identified", False),
        ("viewer", "acknowledge_alerts", False),
        ("moderator", "moderate", True),
        ("moderator", "acknowledge_alerts", True),
        ("moderator", "edit_events", False),
        ("moderator", "export_identified", False),
        ("editor", "edit_events", True),
        ("editor", "edit_sources", True),
        ("editor", "moderate", False),
        ("editor", "export_identified", False),
        ("researcher", "export_identified", True),
        ("researcher", "moderate", False),
        ("researcher", "edit_events", False),
    ],
)
def test_what_each_role_allows(role, action, allowed):
    assert allows([role], action) is allowed


def test_every_role_can_view():
    assert all(allows([r], "view") for r in ROLES)


def test_the_refusal_names_the_role_needed_and_the_groups_that_give_it():
    text = missing_role_message("export_identified", {"viewer"}, MAPPED)
    assert text.startswith("You need the researcher role")
    assert "You have the viewer role." in text
    assert "'groundswell-researchers'" in text
    assert role_for("moderate") == "moderator"
    assert role_for("edit_events") == "editor"


def test_a_sign_in_older_than_the_maximum_has_expired():
    now = 1_800_000_000.0
    assert not session_expired({"iat": now - 3600}, now, max_hours=12)
    assert session_expired({"iat": now - 13 * 3600}, now, max_hours=12)
    assert session_expired({"auth_time": now - 2}, now, max_hours=1 / 3600)


def test_a_sign_in_issued_in_the_future_or_with_a_broken_time_has_expired():
    now = 1_800_000_000.0
    assert session_expired({"iat": now + 3600}, now, max_hours=12)
    assert session_expired({"iat": "yesterday"}, now, max_hours=12)
    assert session_expired({"iat": True}, now, max_hours=12)


def test_the_access_section_is_read_from_the_config_and_refuses_unknown_roles():
    settings = Settings.model_validate(
        {"access": {"roles": {"moderator": ["mods"]}, "claims": ["realm_access.roles"]}}
    )
    assert settings.access.mapped
    with pytest.raises(ValidationError, match="owner"):
        Settings.model_validate({"access": {"roles": {"owner": ["x"]}}})
    with pytest.raises(ValidationError, match="lists no group"):
        Settings.model_validate({"access": {"roles": {"moderator": [" "]}}})
    with pytest.raises(ValidationError, match="names no claim"):
        Settings.model_validate({"access": {"claims": []}})


def test_listed_verified_emails_give_roles_where_the_provider_has_no_groups():
    access = AccessSettings(emails={"researcher": ["Ana@NHS.example"], "moderator": ["mo@x.org"]})
    assert access.mapped
    assert roles_from_email("ana@nhs.example", access) == {"researcher", "viewer"}
    assert roles_from_email("someone@nhs.example", access) == set()
    assert roles_from_email("", access) == set()
    with pytest.raises(ValidationError, match="not an email address"):
        AccessSettings(emails={"researcher": ["ana"]})
