"""Sign-in for teams, for real (issue 23): the dashboard behind a real OpenID Connect provider
(panva's certified oidc-provider on loopback, tests/oidc_support.py), driven in Chromium through
Streamlit's own `st.login` (Authlib): sign-in, roles from the provider's groups, a role change
in the provider taking effect at the next sign-in, sign-out, and an expired session.

One provider and one dashboard for the module; each test signs in from a fresh browser context.
Screenshots: tests/browser/artifacts/oidc-*.png.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.audit import AuditFilter, list_actions
from storage.engine import make_engine
from storage.migrate import upgrade
from storage.models_export import ExportLog
from storage.queries.wall import moderation_log
from tests import wall_feeder
from tests.oidc_support import Provider, start_provider, stop_provider

# one xdist worker runs the module: one provider and one dashboard (the module's `site`), and
# one `npm ci` into tests/oidc at a time
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("oidc")]

ROLES = """
[access]
claims = ["groups", "realm_access.roles"]
max_session_hours = {hours}
[access.roles]
viewer = ["groundswell-viewers"]
moderator = ["groundswell-moderators"]
editor = ["groundswell-editors"]
researcher = ["groundswell-researchers"]
"""


def _account(name: str, *groups: str, realm: tuple[str, ...] = ()) -> dict:
    out: dict = {
        "email": f"{name}@org.example",
        "email_verified": True,
        "name": name.title(),
        "groups": list(groups),
    }
    if realm:  # Keycloak's shape
        out["realm_access"] = {"roles": list(realm)}
    return out


ACCOUNTS = {
    "vera": _account("vera", "groundswell-viewers"),
    "mo": _account("mo", "staff", realm=("groundswell-moderators",)),
    "rita": _account("rita", "groundswell-researchers"),
}


class Site:
    def __init__(self, base: str, provider: Provider, config: Path, store) -> None:
        self.base, self.provider, self.config, self.store = base, provider, config, store

    def set_session_hours(self, hours: float) -> None:
        # the dashboard reads its config at every page run: no restart
        self.config.write_text(ROLES.format(hours=hours), encoding="utf-8")


@pytest.fixture(scope="module")
def site(module_streamlit_app, tmp_path_factory, browser) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("oidc")
    provider = start_provider(work / "provider", ACCOUNTS)
    try:
        store = make_engine(f"sqlite:///{work / 'gs.db'}")
        upgrade(store)
        wall_feeder.ensure_movement(store)
        wall_feeder.write(store, *wall_feeder.conversation(datetime.now(UTC)))
        secrets = work / "secrets.toml"
        secrets.write_text(provider.secrets_toml(), encoding="utf-8")
        config = work / "groundswell.toml"
        config.write_text(ROLES.format(hours=12), encoding="utf-8")
        base = module_streamlit_app(
            str(store.url),
            env={
                "GROUNDSWELL_CONFIG": str(config),
                "GROUNDSWELL_MODERATOR_PASSWORD": "never a side door",
            },
            args=(f"--secrets.files={secrets}",),
        )
        yield Site(base, provider, config, store)
    finally:
        stop_provider(provider)


def sign_in(page, site: Site, login: str, path: str = "") -> None:
    """From a signed-out page: the dashboard's Sign in, the provider's login form, and back."""
    page.goto(f"{site.base}/{path}", wait_until="domcontentloaded")
    page.get_by_role("button", name="Sign in").click(timeout=60_000)
    page.locator("input[name=login]").fill(login, timeout=60_000)  # the provider's own page
    page.locator("input[name=password]").fill("any password")
    page.get_by_role("button", name="Sign-in").click()
    try:
        page.get_by_text(f"Signed in as {login.title()} ({login}@org.example)").wait_for(
            timeout=60_000
        )
    except Exception:
        page.screenshot(path=str(Path(__file__).parent / "artifacts" / "oidc-sign-in-failed.png"))
        raise AssertionError(f"not signed in; the browser is at {page.url}") from None


def sign_out(page) -> None:
    page.get_by_test_id("stSidebarUserContent").get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Yes, sign me out").click(timeout=60_000)  # the provider
    page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)


def test_a_viewer_reaches_no_moderation_event_editing_or_identified_export_by_any_url(
    site, page, artifacts
):
    sign_in(page, site, "vera")
    page.get_by_text("· viewer").first.wait_for(timeout=30_000)
    page.goto(f"{site.base}/moderate", wait_until="domcontentloaded")
    page.get_by_text("You need the moderator role").wait_for(timeout=60_000)
    assert page.get_by_text("'groundswell-moderators'").count() == 1
    assert page.get_by_label("Moderator password").count() == 0
    assert page.get_by_role("button", name="Hide").count() == 0
    page.screenshot(path=str(artifacts / "oidc-viewer-moderate.png"))

    page.goto(f"{site.base}/events", wait_until="domcontentloaded")
    page.get_by_text("You need the editor role").wait_for(timeout=60_000)
    assert page.get_by_role("button", name="Save events").count() == 0

    page.goto(f"{site.base}/explore", wait_until="domcontentloaded")
    page.get_by_text("You need the researcher role").wait_for(timeout=60_000)
    assert page.get_by_text("Identified export (names people").count() == 0

    page.goto(f"{site.base}/alerts", wait_until="domcontentloaded")
    page.get_by_text("You need the moderator role").wait_for(timeout=60_000)
    assert page.get_by_role("button", name="Acknowledge").count() == 0


def test_a_moderator_from_a_keycloak_realm_role_moderates_under_their_name(site, page, artifacts):
    sign_in(page, site, "mo", "moderate")
    page.goto(f"{site.base}/moderate", wait_until="domcontentloaded")
    hide = page.get_by_role("button", name="Hide", exact=True).first
    hide.wait_for(timeout=60_000)
    page.screenshot(path=str(artifacts / "oidc-moderator.png"))
    hide.click()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with site.store.connect() as conn:
            log = moderation_log(conn, "default")
        if log:
            break
        time.sleep(0.3)
    assert log and log[0]["moderator"] == "Mo <mo@org.example>"
    with site.store.connect() as conn:  # the audit trail: the sign-in and the hide
        trail = list_actions(conn, AuditFilter(), limit=1000)
    actions = {r["action"]: r for r in trail if r["actor"].startswith("Mo <mo@org.example>")}
    assert {"sign_in", "wall.hide"} <= set(actions), trail
    assert actions["wall.hide"]["role"] == "moderator"
    assert actions["sign_in"]["detail"]["roles"] == ["moderator", "viewer"]


def test_a_researcher_downloads_an_identified_export(site, page, artifacts):
    sign_in(page, site, "rita", "explore")
    page.goto(f"{site.base}/explore", wait_until="domcontentloaded")
    page.get_by_text("Identified export (names people").click(timeout=60_000)
    page.get_by_label("Reason for an identified export").fill("network study, ethics ref 42")
    page.get_by_role("button", name="Prepare download").click()
    download = page.get_by_role("button", name="Download zip")
    download.wait_for(timeout=90_000)
    page.screenshot(path=str(artifacts / "oidc-researcher-export.png"))
    log = ExportLog.__table__  # the export log names who asked and why
    with site.store.connect() as conn:
        row = conn.execute(select(log.c.requested_by, log.c.reason, log.c.options)).one()
    assert row.requested_by == "Rita <rita@org.example>"
    assert row.reason == "network study, ethics ref 42"
    assert row.options["pseudonymised"] is False


def test_a_role_given_in_the_provider_applies_at_the_next_sign_in_and_sign_out_ends_it(
    site, page, artifacts
):
    site.provider.set_accounts({**ACCOUNTS, "sam": _account("sam", "groundswell-viewers")})
    sign_in(page, site, "sam")
    page.goto(f"{site.base}/moderate", wait_until="domcontentloaded")
    page.get_by_text("You need the moderator role").wait_for(timeout=60_000)

    site.provider.set_accounts(
        {**ACCOUNTS, "sam": _account("sam", "groundswell-viewers", "groundswell-moderators")}
    )
    page.reload(wait_until="domcontentloaded")  # the sign-in holds the roles it was given
    page.get_by_text("You need the moderator role").wait_for(timeout=60_000)

    sign_out(page)
    assert page.get_by_text("Signed in as").count() == 0
    page.goto(f"{site.base}/moderate", wait_until="domcontentloaded")
    page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
    assert page.get_by_role("button", name="Hide").count() == 0

    sign_in(page, site, "sam")
    page.goto(f"{site.base}/moderate", wait_until="domcontentloaded")
    page.get_by_role("button", name="Hide", exact=True).first.wait_for(timeout=60_000)
    page.get_by_text("· moderator, viewer").first.wait_for(timeout=30_000)
    page.screenshot(path=str(artifacts / "oidc-role-changed.png"))


def test_an_expired_session_must_sign_in_again(site, page, artifacts):
    sign_in(page, site, "mo")
    site.set_session_hours(2 / 3600)  # two seconds
    try:
        time.sleep(2.5)
        page.goto(f"{site.base}/moderate", wait_until="domcontentloaded")
        page.get_by_text("Your sign-in has expired").wait_for(timeout=60_000)
        assert page.get_by_role("button", name="Hide").count() == 0
        page.screenshot(path=str(artifacts / "oidc-expired.png"))
        page.get_by_role("button", name="Sign in").click()
        page.locator("input[name=login]").fill("mo", timeout=60_000)  # back at the provider
    finally:
        site.set_session_hours(12)
    page.locator("input[name=password]").fill("any password")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_text("Signed in as Mo (mo@org.example)").wait_for(timeout=60_000)


def test_a_provider_that_is_down_gives_a_clear_page_not_a_stack_trace(site, page, artifacts):
    """Last in the module: it stops the module's provider."""
    stop_provider(site.provider)
    page.goto(f"{site.base}/moderate", wait_until="domcontentloaded")
    page.get_by_role("button", name="Sign in").click(timeout=60_000)
    host = site.provider.issuer.removeprefix("http://")
    page.get_by_text(f"identity provider ({host}) is not answering").wait_for(timeout=60_000)
    assert page.get_by_text("Traceback").count() == 0
    page.screenshot(path=str(artifacts / "oidc-provider-down.png"))
