"""Every control checks the role on the server (issue 23): with `[access.roles]` mapping the
provider's groups, a viewer reaches no moderation, event editing, identified export or alert
acknowledgement by any page, while a moderator moderates, an editor edits events and a
researcher may export identified data. Pages run under AppTest from the real entry point; the
signed-in identity is what Streamlit keeps from the ID token (the real round trip through an
OpenID Connect provider is tests/browser/test_oidc_sign_in_browser.py)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from storage.queries.wall import moderation_log
from tests.html_tables import html_metrics
from tests.test_wall_pages import wall_store  # noqa: F401 - the fixture

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
CONFIG = """
[access]
claims = ["groups"]
[access.roles]
viewer = ["gs-viewers"]
moderator = ["gs-moderators"]
editor = ["gs-editors"]
researcher = ["gs-researchers"]
"""
AUTH = {
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "not-a-real-secret",
        "client_id": "groundswell",
        "client_secret": "not-a-real-secret",
        "server_metadata_url": "https://id.example/.well-known/openid-configuration",
    }
}


def _user(group: str | None, **extra) -> dict:
    return {
        "is_logged_in": True,
        "sub": f"sub-{group}",
        "email": f"{group or 'nobody'}@org.example",
        "name": (group or "nobody").title(),
        "groups": [group] if group else ["payroll"],
        "iat": int(time.time()) - 60,
        **extra,
    }


@pytest.fixture
def mapped(wall_store, tmp_path, monkeypatch):  # noqa: F811
    (tmp_path / "groundswell.toml").write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("GROUNDSWELL_CONFIG", str(tmp_path / "groundswell.toml"))
    monkeypatch.delenv("GROUNDSWELL_DASHBOARD_PASSWORD", raising=False)
    monkeypatch.setenv("GROUNDSWELL_MODERATOR_PASSWORD", "must not be a side door")
    return wall_store


def _open(page: str, user: dict, secrets: dict = AUTH) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets.update(secrets)
    at.user = user
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> str:
    return "\n".join(e.value for kind in (at.error, at.info, at.warning, at.caption) for e in kind)


def _hide_buttons(at: AppTest) -> list:
    return [b for b in at.button if b.label in ("Hide", "Pin", "Hide author")]


def test_a_viewer_gets_the_you_need_the_moderator_role_page_and_no_control(mapped):
    at = _open("views/moderate.py", _user("gs-viewers"))
    assert "You need the moderator role" in at.error[0].value
    assert "'gs-moderators'" in at.error[0].value
    assert not _hide_buttons(at)
    assert not at.text_input  # the shared moderator password is no side door


def test_a_moderator_from_the_provider_group_hides_a_post_recorded_under_their_name(mapped):
    store, posts = mapped
    at = _open("views/moderate.py", _user("gs-moderators"))
    assert _hide_buttons(at)
    at.button(key=f"hide-{posts[-1].id}").click()
    at.run()
    with store.connect() as conn:
        (entry,) = moderation_log(conn, "default")
    assert entry["moderator"] == "Gs-Moderators <gs-moderators@org.example>"


def test_a_viewer_and_a_moderator_cannot_edit_events_and_an_editor_can(mapped):
    for group in ("gs-viewers", "gs-moderators"):
        at = _open("views/events.py", _user(group))
        assert "You need the editor role" in _texts(at)
        assert not at.get("arrow_data_editor") and not at.get("file_uploader")
        assert "Save events" not in [b.label for b in at.button]
    at = _open("views/events.py", _user("gs-editors"))
    assert "You need the editor role" not in _texts(at)
    assert "Save events" in [b.label for b in at.button]


def test_only_a_researcher_is_offered_an_identified_export(mapped):
    for group in ("gs-viewers", "gs-moderators", "gs-editors"):
        at = _open("views/explore.py", _user(group))
        assert not [c for c in at.checkbox if c.label.startswith("Identified export")]
        assert "You need the researcher role" in _texts(at)
    at = _open("views/explore.py", _user("gs-researchers"))
    assert [c for c in at.checkbox if c.label.startswith("Identified export")]


def test_a_viewer_cannot_acknowledge_alerts(mapped):
    at = _open("views/alerts.py", _user("gs-viewers"))
    assert "You need the moderator role" in _texts(at)
    assert not [b for b in at.button if b.label == "Acknowledge"]


@pytest.mark.parametrize(
    "page", ["views/overview.py", "views/wall.py", "views/moderate.py", "views/explore.py"]
)
def test_someone_signed_in_with_no_mapped_group_sees_no_page(mapped, page):
    at = _open(page, _user(None))
    assert "You need the viewer role" in at.error[0].value
    assert [b.label for b in at.button] == ["Sign out"]
    assert not html_metrics(at) and not at.checkbox and not _hide_buttons(at)


def test_a_sign_in_older_than_max_session_hours_must_sign_in_again(mapped):
    at = _open("views/moderate.py", _user("gs-moderators", iat=int(time.time()) - 25 * 3600))
    assert "Your sign-in has expired" in at.warning[0].value
    assert [b.label for b in at.button] == ["Sign in"]
    assert not _hide_buttons(at)


def test_a_provider_that_is_down_gives_a_clear_message_instead_of_a_sign_in(mapped):
    with socket.socket() as s:  # a loopback port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = {"auth": {**AUTH["auth"], "server_metadata_url": f"http://127.0.0.1:{port}/.wk"}}
    at = _open("views/overview.py", {"is_logged_in": False}, secrets=down)
    at.button(key="gs-viewer-login").click()
    at.run()
    assert not at.exception
    assert f"identity provider (127.0.0.1:{port}) is not answering" in at.error[0].value


def test_an_unverified_email_on_the_access_list_gives_no_role(mapped, tmp_path):
    (tmp_path / "groundswell.toml").write_text(
        CONFIG + '[access.emails]\nresearcher = ["eve@org.example"]\n', encoding="utf-8"
    )
    user = _user("gs-viewers", email="eve@org.example")
    at = _open("views/explore.py", user)
    assert [c for c in at.checkbox if c.label.startswith("Identified export")]
    at = _open("views/explore.py", {**user, "email_verified": False})
    assert not [c for c in at.checkbox if c.label.startswith("Identified export")]


@pytest.mark.parametrize(
    ("roles", "offered"), [('["viewer"]', False), ('["viewer", "researcher"]', True)]
)
def test_the_shared_dashboard_password_gives_the_roles_the_config_says(
    wall_store,  # noqa: F811
    tmp_path,
    monkeypatch,
    roles,
    offered,
):
    config = tmp_path / "groundswell.toml"
    config.write_text(f"[access]\ndashboard_password_roles = {roles}\n", encoding="utf-8")
    monkeypatch.setenv("GROUNDSWELL_CONFIG", str(config))
    monkeypatch.setenv("GROUNDSWELL_DASHBOARD_PASSWORD", "a long dashboard password")
    monkeypatch.delenv("GROUNDSWELL_MODERATOR_PASSWORD", raising=False)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    next(t for t in at.text_input if t.label == "Dashboard password").input(
        "a long dashboard password"
    )
    next(b for b in at.button if b.label == "Open the dashboard").click()
    at.run()
    at.switch_page("views/explore.py")
    at.run()
    assert not at.exception, at.exception
    boxes = [c for c in at.checkbox if c.label.startswith("Identified export")]
    assert bool(boxes) is offered
    assert ("You need the researcher role" in _texts(at)) is not offered
