"""The dashboard records each staff action in the audit trail with the right actor and role
(issue 23; docs/access.md, "The audit trail"), and shows the trail to moderators and auditors
only, with the download for auditors only. Pages run under AppTest from the real entry point,
signed in as the provider's claims (tests/test_access_pages.py) or with the shared password."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from streamlit.testing.v1 import AppTest

from storage.alerts import NewAlert, record_alert
from storage.audit import AuditFilter, list_actions, record_action
from storage.engine import write_tx
from tests.test_access_pages import APP, _open, _texts
from tests.test_wall_pages import wall_store  # noqa: F401 - the fixture

CONFIG = """
[access]
claims = ["groups"]
[access.roles]
viewer = ["gs-viewers"]
moderator = ["gs-moderators"]
editor = ["gs-editors"]
researcher = ["gs-researchers"]
auditor = ["gs-auditors"]
"""


def _user(group: str) -> dict:
    return {
        "is_logged_in": True,
        "sub": f"sub-{group}",
        "email": f"{group}@org.example",
        "name": group.title(),
        "groups": [group],
        "iat": int(time.time()) - 60,
    }


def _actor(group: str) -> str:
    return f"{group.title()} <{group}@org.example> · sub:sub-{group}"


@pytest.fixture
def mapped(wall_store, tmp_path, monkeypatch):  # noqa: F811
    (tmp_path / "groundswell.toml").write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("GROUNDSWELL_CONFIG", str(tmp_path / "groundswell.toml"))
    monkeypatch.delenv("GROUNDSWELL_DASHBOARD_PASSWORD", raising=False)
    monkeypatch.delenv("GROUNDSWELL_MODERATOR_PASSWORD", raising=False)
    return wall_store


def _trail(store, **where) -> list[dict]:
    with store.connect() as conn:
        return list(reversed(list_actions(conn, AuditFilter(**where))))


def test_a_provider_sign_in_is_recorded_once_per_session_with_subject_and_roles(mapped):
    store, _ = mapped
    user = _user("gs-moderators")
    at = _open("views/overview.py", user)
    at.switch_page("views/spread.py").run()
    _open("views/overview.py", user)  # another tab, the same sign-in (ID token)
    [row] = _trail(store, action="sign_in")
    assert row["actor"] == _actor("gs-moderators")
    assert row["detail"] == {"via": "oidc", "roles": ["moderator", "viewer"]}
    assert (row["target_kind"], row["target_id"]) == ("id_token", str(user["iat"]))
    _open("views/overview.py", {**user, "iat": user["iat"] + 30})  # signed in again
    assert len(_trail(store, action="sign_in")) == 2


def test_each_wall_decision_is_recorded_with_the_moderator_and_what_it_did(mapped):
    store, posts = mapped
    at = _open("views/moderate.py", _user("gs-moderators"))
    post = posts[-1]
    at.button(key=f"pin-{post.id}").click().run()
    at.button(key=f"unpin-{post.id}").click().run()
    at.button(key=f"hide-{post.id}").click().run()
    at.button(key=f"show-{post.id}").click().run()
    at.button(key=f"hide-author-{post.id}").click().run()
    assert not at.exception, at.exception
    rows = [r for r in _trail(store) if r["action"] != "sign_in"]
    assert [(r["action"], r["target_kind"]) for r in rows] == [
        ("wall.pin", "mention"),
        ("wall.unpin", "mention"),
        ("wall.hide", "mention"),
        ("wall.show", "mention"),
        ("wall.hide", "account"),
    ]
    assert {(r["actor"], r["role"]) for r in rows} == {(_actor("gs-moderators"), "moderator")}
    assert rows[0]["target_id"] == str(post.id) and rows[0]["detail"] == {"wall": "default"}


def test_an_editor_saving_events_is_recorded(mapped):
    store, _ = mapped
    at = _open("views/events.py", _user("gs-editors"))
    next(b for b in at.button if b.label == "Save events").click().run()
    assert not at.exception, at.exception
    [row] = _trail(store, action="events.save")
    assert (row["actor"], row["role"], row["target_kind"]) == (
        _actor("gs-editors"),
        "editor",
        "movement",
    )


def test_a_moderator_acknowledging_an_alert_is_recorded(mapped):
    store, _ = mapped
    now_alert = NewAlert(
        "spike", "spike", "e1", datetime.now(UTC), "Spike", "120 mentions", movement_id=1
    )
    with write_tx(store) as conn:
        alert_id = record_alert(conn, now_alert, [], now=datetime.now(UTC))
    at = _open("views/alerts.py", _user("gs-moderators"))
    at.multiselect[0].select(alert_id).run()
    next(b for b in at.button if b.label == "Acknowledge").click().run()
    [row] = _trail(store, action="alerts.acknowledge")
    assert (row["actor"], row["role"], row["target_id"]) == (
        _actor("gs-moderators"),
        "moderator",
        str(alert_id),
    )


def test_a_researchers_identified_export_from_the_page_is_recorded(mapped):
    store, _ = mapped
    at = _open("views/explore.py", _user("gs-researchers"))
    next(c for c in at.checkbox if c.label.startswith("Identified")).check()
    at.text_input(key="explore_reason").input("ethics approval 2026/114")
    next(b for b in at.button if b.label == "Prepare download").click().run()
    assert not at.exception, at.exception
    assert "explore_zip" in at.session_state
    [row] = _trail(store, action="export")
    assert (row["actor"], row["role"]) == (_actor("gs-researchers"), "researcher")
    assert row["detail"]["identified"] is True and row["detail"]["tool"] == "dashboard"


def test_a_viewers_pseudonymised_export_from_the_page_is_recorded_as_a_viewers(mapped, monkeypatch):
    store, _ = mapped
    monkeypatch.setenv("GROUNDSWELL_PSEUDONYM_KEY", "k" * 40)
    at = _open("views/explore.py", _user("gs-viewers"))
    next(b for b in at.button if b.label == "Prepare download").click().run()
    assert not at.exception, at.exception
    [row] = _trail(store, action="export")
    assert (row["actor"], row["role"]) == (_actor("gs-viewers"), "viewer")
    assert row["detail"]["identified"] is False


def test_a_moderator_linking_two_accounts_on_the_people_page_is_recorded_with_the_subject(
    mapped,
):
    store, _ = mapped
    at = _open("views/people.py", _user("gs-moderators"))
    at.text_input(key="people_a_q").input("ada").run()
    at.text_input(key="people_b_q").input("mary").run()
    at.text_input(key="people_reason").input("same person, says her profile")
    at.button(key="people_link").click().run()
    assert not at.exception, at.exception
    [row] = _trail(store, action="people.link")
    assert (row["actor"], row["role"]) == (_actor("gs-moderators"), "moderator")
    assert row["detail"]["reason"] == "same person, says her profile"


def test_a_shared_moderator_password_is_recorded_under_the_name_typed_at_sign_in(
    wall_store,  # noqa: F811
    monkeypatch,
):
    store, posts = wall_store
    monkeypatch.setenv("GROUNDSWELL_MODERATOR_PASSWORD", "moderators only")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("views/moderate.py").run()
    boxes = {t.label: t for t in at.text_input}
    boxes["Your name (recorded with each decision)"].input("Mo")
    boxes["Moderator password"].input("moderators only")
    next(b for b in at.button if b.label == "Sign in").click().run()
    at.button(key=f"hide-{posts[-1].id}").click().run()
    assert not at.exception, at.exception
    sign_in, hide = _trail(store)
    assert (sign_in["action"], sign_in["actor"]) == ("sign_in", "shared password: Mo")
    assert (hide["action"], hide["actor"], hide["role"]) == (
        "wall.hide",
        "shared password: Mo",
        "moderator",
    )


def test_the_trail_is_shown_to_moderators_and_downloaded_by_auditors_only(mapped):
    store, _ = mapped
    with write_tx(store) as conn:
        record_action(conn, actor="Ana <ana@org.example>", role="moderator", action="wall.hide")
    at = _open("views/audit.py", _user("gs-viewers"))
    assert "You need the moderator role" in _texts(at)
    assert not at.table
    at = _open("views/audit.py", _user("gs-moderators"))
    assert "Ana <ana@org.example>" in list(at.table[0].value["Actor"])
    assert "Only the auditor role may download" in _texts(at)
    assert "Prepare the audit export (CSV)" not in [b.label for b in at.button]
    at = _open("views/audit.py", _user("gs-auditors"))
    at.selectbox(key="audit_actor").select("Ana <ana@org.example>").run()
    assert list(at.table[0].value["Actor"]) == ["Ana <ana@org.example>"]
    at.button(key="audit_prepare").click().run()
    assert not at.exception, at.exception
    _, payload = at.session_state["audit_csv"]
    assert payload.count("\n") == 2 and "wall.hide" in payload  # header + Ana's row
    [row] = _trail(store, action="audit.export")
    assert (row["actor"], row["role"]) == (_actor("gs-auditors"), "auditor")
    assert row["detail"]["rows"] == 1 and row["detail"]["actor"] == "Ana <ana@org.example>"


@pytest.mark.parametrize(
    ("decision", "verb", "action"),
    [
        (("mention", "hide", True), "hide", "wall.hide"),
        (("mention", "approve", True), "show", "wall.show"),
        (("mention", "approve", True), "unpin", "wall.unpin"),
        (("mention", "approve", True), "approve", "wall.approve"),
        (("mention", "pin", True), "pin", "wall.pin"),
        (("account", "hide", False), "unhide-author", "wall.unhide"),
        (("instance", "hide", True), None, "wall.hide"),
        (("word", "block", True), None, "wall.block"),
        (("word", "block", False), None, "wall.unblock"),
    ],
)
def test_each_moderator_button_has_its_own_audit_action(decision, verb, action):
    from dashboard.audit import moderation_action

    assert moderation_action(*decision, verb) == action


def test_the_trail_names_a_provider_sign_in_by_subject_a_password_by_the_typed_name():
    from dashboard.audit import OPEN_ACTOR, actor_name
    from dashboard.roles import Grant

    oidc = Grant(frozenset({"viewer"}), "Ana <ana@org.example>", "oidc")
    assert actor_name(oidc, {"sub": "abc-123"}) == "Ana <ana@org.example> · sub:abc-123"
    assert actor_name(oidc, {}) == "Ana <ana@org.example>"
    mo = Grant(frozenset({"moderator"}), "mo@org.example", "oidc")
    assert actor_name(mo, {"sub": "mo"}) == "mo@org.example · sub:mo"
    by_subject = Grant(frozenset({"viewer"}), "abc-123", "oidc")
    assert actor_name(by_subject, {"sub": "abc-123"}) == "abc-123"
    password = Grant(frozenset({"moderator"}), "Mo", "password")
    assert actor_name(password, None) == "shared password: Mo"
    assert actor_name(Grant(frozenset(), None, "password"), None) == "shared password"
    assert actor_name(Grant(frozenset({"viewer"}), None, "open"), None) == OPEN_ACTOR


def test_a_sign_out_is_recorded_with_the_sign_in_it_ends(mapped):
    """docs/access.md, "The audit trail": the trail says when a session ended, not only when
    it began, tied to the same ID token (its issue time) as the sign-in."""
    store, _ = mapped
    user = _user("gs-moderators")
    at = _open("views/overview.py", user)
    at.button(key="gs-viewer-logout").click().run()
    [sign_in] = _trail(store, action="sign_in")
    [sign_out] = _trail(store, action="sign_out")
    assert sign_out["actor"] == sign_in["actor"] == _actor("gs-moderators")
    assert sign_out["role"] == "session"
    assert (sign_out["target_kind"], sign_out["target_id"]) == ("id_token", str(user["iat"]))
    assert sign_out["detail"] == {"via": "oidc"}
