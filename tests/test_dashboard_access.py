"""The optional gate in front of the whole dashboard (dashboard/access.py): with a password in
the environment every page asks for it once per session; with OIDC and a viewer list every page
needs a listed, verified email; with neither the dashboard stays open. Pages run under AppTest
from the real entry point (dashboard/app.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from dashboard.access import viewer_refusal
from dashboard.gate import gate_mode
from domain.settings.config import DashboardSettings
from groundswell.cli import app as cli
from storage.engine import make_engine
from storage.migrate import upgrade
from tests.html_tables import html_metrics

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
PAGES = [
    "views/overview.py",
    "views/spread.py",
    "views/amplifiers.py",
    "views/events.py",
    "views/explore.py",
    "views/wall.py",
    "views/moderate.py",
]
PASSWORD = "a long dashboard password"
AUTH = {  # what st.login reads from .streamlit/secrets.toml; no provider is contacted here
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "not-a-real-secret",
        "client_id": "groundswell",
        "client_secret": "not-a-real-secret",
        "server_metadata_url": "https://id.example/.well-known/openid-configuration",
    }
}


@pytest.fixture
def store_env(tmp_path, monkeypatch) -> Path:
    """An empty initialised store, no config file and no passwords in the environment."""
    url = f"sqlite:///{tmp_path / 'gs.db'}"
    upgrade(make_engine(url))
    monkeypatch.setenv("GROUNDSWELL_DB_URL", url)
    monkeypatch.setenv("GROUNDSWELL_CONFIG", "")
    monkeypatch.delenv("GROUNDSWELL_DASHBOARD_PASSWORD", raising=False)
    monkeypatch.delenv("GROUNDSWELL_MODERATOR_PASSWORD", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _open(page: str, *, secrets: dict | None = None, user: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if secrets:
        at.secrets.update(secrets)
    if user is not None:
        at.user = user
    at.run()
    if page != PAGES[0]:
        at.switch_page(page)
        at.run()
    assert not at.exception, at.exception
    return at


def _kinds(at: AppTest) -> set[str]:
    """Every kind of element rendered in the main area and the sidebar."""
    found: set[str] = set()

    def walk(node) -> None:
        if hasattr(node, "children"):  # a block (the sidebar, a form, columns...)
            for child in node.children.values():
                walk(child)
        else:
            found.add(node.type)

    walk(at.main)
    walk(at.sidebar)
    return found


def _enter(at: AppTest, password: str) -> AppTest:
    at.text_input[0].input(password)
    at.button[0].click()
    at.run()
    assert not at.exception, at.exception
    return at


# --- password from the environment ---------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_with_a_password_set_each_page_shows_only_the_password_prompt(page, store_env, monkeypatch):
    monkeypatch.setenv("GROUNDSWELL_DASHBOARD_PASSWORD", PASSWORD)
    at = _open(page)
    assert [t.label for t in at.text_input] == ["Dashboard password"]
    assert [b.label for b in at.button] == ["Open the dashboard"]
    assert _kinds(at) <= {"title", "text_input", "button"}, _kinds(at)


def test_a_wrong_dashboard_password_is_refused_with_a_message(store_env, monkeypatch):
    monkeypatch.setenv("GROUNDSWELL_DASHBOARD_PASSWORD", PASSWORD)
    at = _enter(_open(PAGES[0]), "guess")
    assert [e.value for e in at.error] == ["Wrong password."]
    assert not at.info and not html_metrics(at)  # still nothing of the page
    assert [t.label for t in at.text_input] == ["Dashboard password"]


def test_the_right_password_opens_every_page_for_the_rest_of_the_session(store_env, monkeypatch):
    monkeypatch.setenv("GROUNDSWELL_DASHBOARD_PASSWORD", PASSWORD)
    at = _enter(_open(PAGES[0]), PASSWORD)
    assert any("groundswell demo" in i.value for i in at.info)  # the Overview itself
    for page in PAGES[1:6]:
        at.switch_page(page)
        at.run()
        assert not at.exception, at.exception
        assert "Dashboard password" not in [t.label for t in at.text_input], page


def test_the_password_typed_on_the_wall_opens_the_wall_not_the_default_page(store_env, monkeypatch):
    monkeypatch.setenv("GROUNDSWELL_DASHBOARD_PASSWORD", PASSWORD)
    at = _enter(_open("views/wall.py"), PASSWORD)
    assert not html_metrics(at) and not at.get("plotly_chart")  # not the Overview
    assert any("gs-wall" in h.proto.body or "gs-grid" in h.proto.body for h in at.get("html"))


def test_past_the_dashboard_password_the_moderator_page_still_asks_its_own(store_env, monkeypatch):
    monkeypatch.setenv("GROUNDSWELL_DASHBOARD_PASSWORD", PASSWORD)
    monkeypatch.setenv("GROUNDSWELL_MODERATOR_PASSWORD", "the moderators' own")
    at = _open(PAGES[0])
    at.switch_page("views/moderate.py")
    _enter(at, PASSWORD)
    assert "Moderator password" in [t.label for t in at.text_input]
    assert not [b for b in at.button if b.label == "Hide"]


@pytest.mark.parametrize("page", PAGES[:6])
def test_without_a_password_or_sign_in_each_page_renders_as_before(page, store_env):
    at = _open(page)
    assert "Dashboard password" not in [t.label for t in at.text_input]
    assert not [b for b in at.button if b.label == "Sign in"]
    assert _kinds(at) - {"title", "text_input", "button"}  # the page's own content


# --- OIDC sign-in with a viewer list --------------------------------------------------------


def _config(tmp_path: Path, body: str) -> None:
    (tmp_path / "groundswell.toml").write_text(body, encoding="utf-8")


VIEWERS = (
    '[dashboard]\nviewer_domains = ["nhs.example"]\n[wall]\nmoderator_emails = ["mo@x.example"]\n'
)


@pytest.mark.parametrize("page", ["views/overview.py", "views/wall.py"])
def test_with_sign_in_and_a_viewer_list_a_signed_out_visitor_sees_only_sign_in(
    page, store_env, monkeypatch
):
    _config(store_env, VIEWERS)
    monkeypatch.setenv("GROUNDSWELL_DASHBOARD_PASSWORD", PASSWORD)  # must not be a side door
    at = _open(page, secrets=AUTH, user={"is_logged_in": False})
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.text_input
    assert _kinds(at) <= {"title", "info", "button"}, _kinds(at)


def test_a_signed_in_viewer_from_a_listed_domain_sees_the_page(store_env):
    _config(store_env, VIEWERS)
    at = _open(PAGES[0], secrets=AUTH, user={"is_logged_in": True, "email": "ann@NHS.example"})
    assert any("groundswell demo" in i.value for i in at.info)
    assert any("ann@nhs.example" in c.value for c in at.caption)


def test_a_signed_in_person_off_the_viewer_list_is_refused_with_the_reason(store_env):
    _config(store_env, VIEWERS)
    at = _open(PAGES[0], secrets=AUTH, user={"is_logged_in": True, "email": "eve@else.example"})
    assert "not on this dashboard's list of viewers" in at.error[0].value
    assert [b.label for b in at.button] == ["Sign out"]
    assert not at.info and not html_metrics(at)


def test_a_viewer_who_is_not_a_moderator_gets_no_moderation_controls(store_env):
    _config(store_env, VIEWERS)
    user = {"is_logged_in": True, "email": "ann@nhs.example"}
    at = _open("views/moderate.py", secrets=AUTH, user=user)
    assert any("not on this wall's list of moderators" in e.value for e in at.error)
    assert not [b for b in at.button if b.label == "Hide"]


def test_a_viewer_list_without_any_sign_in_configured_locks_the_dashboard(store_env):
    _config(store_env, VIEWERS)
    at = _open(PAGES[0])
    assert "GROUNDSWELL_DASHBOARD_PASSWORD" in at.error[0].value
    assert not at.info and not html_metrics(at) and not at.button


# --- the rules, as pure functions -----------------------------------------------------------


def test_sign_in_with_a_viewer_list_wins_over_the_password():
    listed = DashboardSettings(viewer_emails=["a@b.example"])
    assert gate_mode(listed, oidc=True, password="pw") == "oidc"
    assert gate_mode(listed, oidc=False, password="pw") == "password"
    assert gate_mode(listed, oidc=False, password=None) == "locked"


def test_without_a_viewer_list_sign_in_alone_does_not_close_the_dashboard():
    assert gate_mode(DashboardSettings(), oidc=True, password=None) == "open"
    assert gate_mode(DashboardSettings(), oidc=True, password="pw") == "password"
    assert gate_mode(DashboardSettings(), oidc=False, password=None) == "open"


DASH = DashboardSettings(viewer_emails=["Ann@Listed.example"], viewer_domains=["nhs.example"])


def test_an_unverified_email_is_refused_even_when_listed():
    user = {"email": "ann@listed.example", "email_verified": False}
    assert "not verified" in (viewer_refusal(user, DASH) or "")


def test_an_identity_without_an_email_is_refused():
    assert "did not share an email" in (viewer_refusal({"name": "Ann"}, DASH) or "")


def test_an_unlisted_email_is_refused_naming_it():
    reason = viewer_refusal({"email": "eve@else.example"}, DASH) or ""
    assert "eve@else.example is not on this dashboard's list of viewers" in reason


def test_a_listed_email_may_view_whatever_its_case():
    assert viewer_refusal({"email": " ANN@listed.EXAMPLE "}, DASH) is None


def test_an_email_in_a_listed_domain_may_view():
    assert viewer_refusal({"email": "bo@nhs.example", "email_verified": True}, DASH) is None


def test_a_subdomain_or_lookalike_domain_is_not_a_listed_domain():
    for email in ("bo@sub.nhs.example", "bo@evilnhs.example", "nhs.example@evil.example"):
        assert viewer_refusal({"email": email}, DASH) is not None, email


def test_moderators_are_always_viewers():
    assert viewer_refusal({"email": "mo@x.example"}, DASH, ["Mo@X.example"]) is None


# --- the [dashboard] section of the config --------------------------------------------------


def _init(tmp_path: Path, body: str):
    path = tmp_path / "groundswell.toml"
    path.write_text(body, encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'gs.db'}"
    return CliRunner().invoke(cli, ["init", "--config", str(path), "--db", db])


def test_a_bad_viewer_email_exits_2_naming_the_key(tmp_path):
    result = _init(tmp_path, '[dashboard]\nviewer_emails = ["ann at nhs"]\n')
    assert result.exit_code == 2, result.output
    assert "dashboard.viewer_emails" in result.output and "'ann at nhs'" in result.output


def test_a_bad_viewer_domain_exits_2_naming_the_key(tmp_path):
    result = _init(tmp_path, '[dashboard]\nviewer_domains = ["https://nhs.example/"]\n')
    assert result.exit_code == 2, result.output
    assert "dashboard.viewer_domains" in result.output


def test_an_unknown_key_in_the_dashboard_section_exits_2_with_a_suggestion(tmp_path):
    result = _init(tmp_path, '[dashboard]\nviewer_email = ["ann@nhs.example"]\n')
    assert result.exit_code == 2, result.output
    assert "dashboard.viewer_email" in result.output and "viewer_emails" in result.output


def test_viewer_domains_are_stored_without_a_leading_at_and_lower_case():
    dash = DashboardSettings(viewer_domains=["@NHS.example"])
    assert dash.viewer_domains == ["nhs.example"]
