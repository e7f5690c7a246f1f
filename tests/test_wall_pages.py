"""The wall and moderator pages, run by Streamlit's AppTest against a real store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from storage.engine import write_tx
from storage.queries.wall import load_decisions, record_decision
from tests import wall_feeder

VIEWS = Path(__file__).resolve().parents[1] / "dashboard" / "views"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def wall_store(sqlite_store, monkeypatch, tmp_path):
    """A store holding the feeder's conversation; the pages read it from the environment."""
    monkeypatch.setenv("GROUNDSWELL_DB_URL", str(sqlite_store.url))
    monkeypatch.setenv("GROUNDSWELL_CONFIG", "")
    monkeypatch.chdir(tmp_path)  # no groundswell.toml around: default settings
    wall_feeder.ensure_movement(sqlite_store)
    posts = wall_feeder.conversation(datetime.now(UTC))
    wall_feeder.write(sqlite_store, *posts, edges=wall_feeder.boosts(posts))
    return sqlite_store, posts


def _wall(**query: str) -> AppTest:
    at = AppTest.from_file(str(VIEWS / "wall.py"), default_timeout=30)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def _html(at: AppTest) -> str:
    return "\n".join(el.proto.body for el in at.get("html"))


def test_the_wall_shows_the_newest_post_first_with_author_platform_and_time(wall_store):
    _, posts = wall_store
    html = _html(_wall())
    first = html.index('data-mention-id="')
    assert f'data-mention-id="{posts[-1].id}"' in html[first : first + 40]
    assert "Ada Lovelace" in html and "@ada@mastodon.example" in html
    assert "Mastodon" in html and "just now" in html


def test_the_wall_escapes_markup_from_posts(wall_store):
    html = _html(_wall())
    assert "<script" not in html and "onerror" not in html.replace("onerror=alert", "")
    assert "<b>bold?</b>" not in html and "&lt;b&gt;bold?&lt;/b&gt;" in html
    assert "\u202e" not in html and "\u200b" not in html


def test_the_wall_shows_the_header_from_the_settings(wall_store, tmp_path):
    (tmp_path / "groundswell.toml").write_text(
        '[wall]\ntitle = "NHS Citizen Assembly"\nhashtag = "NHSCitizen"\n'
        'where_to_post = "Post on Bluesky or Mastodon"\n'
    )
    html = _html(_wall())
    assert "NHS Citizen Assembly" in html and "#NHSCitizen" in html
    assert "Post on Bluesky or Mastodon" in html


def test_a_post_hidden_by_a_moderator_is_not_on_the_wall(wall_store):
    store, posts = wall_store
    with write_tx(store) as conn:
        record_decision(
            conn, wall="default", target_kind="mention", target=str(posts[-1].id), action="hide"
        )
    html = _html(_wall())
    assert f'data-mention-id="{posts[-1].id}"' not in html
    assert f'data-mention-id="{posts[-2].id}"' in html


def test_pulse_mode_shows_the_rooms_figures_and_the_volume_chart(wall_store):
    at = _wall(mode="pulse")
    html = _html(at)
    assert "posts in the last 10 minutes" in html and "new voices today" in html
    assert "Top amplifiers today" in html and "Grace Hopper" in html
    assert "data-mention-id" not in html
    assert 'alt="Posts per minute"' in html


def test_both_mode_shows_cards_beside_the_pulse(wall_store):
    at = _wall(mode="both")
    html = _html(at)
    assert "data-mention-id" in html and "posts in the last 10 minutes" in html


# --- moderator page -------------------------------------------------------------------------


def _moderate(monkeypatch, password: str | None = PASSWORD) -> AppTest:
    if password is None:
        monkeypatch.delenv("GROUNDSWELL_MODERATOR_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("GROUNDSWELL_MODERATOR_PASSWORD", password)
    at = AppTest.from_file(str(VIEWS / "moderate.py"), default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    return at


def _sign_in(at: AppTest, password: str = PASSWORD) -> AppTest:
    at.text_input[0].input("Mo")
    at.text_input[1].input(password)
    at.button[0].click()
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_moderator_page_is_locked_without_a_password_in_the_environment(
    wall_store, monkeypatch
):
    at = _moderate(monkeypatch, password=None)
    assert "GROUNDSWELL_MODERATOR_PASSWORD" in at.error[0].value
    assert not at.button


def test_a_wrong_password_shows_no_moderation_controls(wall_store, monkeypatch):
    at = _sign_in(_moderate(monkeypatch), "guess")
    assert at.error[0].value == "Wrong password."
    assert not [b for b in at.button if b.label == "Hide"]


def test_hide_on_the_moderator_page_is_stored_with_the_moderators_name(wall_store, monkeypatch):
    store, posts = wall_store
    at = _sign_in(_moderate(monkeypatch))
    newest = posts[-1].id
    at.button(key=f"hide-{newest}").click()
    at.run()
    with store.connect() as conn:
        (d,) = load_decisions(conn, "default")
    assert (d.target_kind, d.target, d.action) == ("mention", str(newest), "hide")
    assert f'data-mention-id="{newest}"' not in _html(_wall())


def test_switching_to_pre_moderation_empties_the_wall_until_a_post_is_approved(
    wall_store, monkeypatch
):
    _, posts = wall_store
    at = _sign_in(_moderate(monkeypatch))
    at.radio(key="gs-mode").set_value("pre")
    at.run()
    assert "data-mention-id" not in _html(_wall())
    at.button(key=f"approve-{posts[2].id}").click()
    at.run()
    html = _html(_wall())
    assert html.count("data-mention-id") == 1 and f'"{posts[2].id}"' in html


def test_a_word_blocked_on_the_moderator_page_hides_matching_posts(wall_store, monkeypatch):
    at = _sign_in(_moderate(monkeypatch))
    form_input = next(t for t in at.text_input if t.label.startswith("Block a word"))
    form_input.input("livestream")
    next(b for b in at.button if b.label == "Block").click()
    at.run()
    assert "livestream" not in _html(_wall())


def test_a_second_moderators_open_page_does_not_undo_a_mode_switch(wall_store, monkeypatch):
    from domain.settings.config import WallSettings
    from groundswell.wall import effective_settings

    store, _ = wall_store
    first, second = _sign_in(_moderate(monkeypatch)), _sign_in(_moderate(monkeypatch))
    first.radio(key="gs-mode").set_value("pre")
    first.run()
    second.run()  # the other laptop refreshes, its radio was still on "post"
    with store.connect() as conn:
        assert effective_settings(conn, WallSettings()).moderation == "pre"
    assert second.radio(key="gs-mode").value == "pre"


def test_a_hidden_post_is_listed_on_both_tabs_without_a_widget_clash(wall_store, monkeypatch):
    _, posts = wall_store
    at = _sign_in(_moderate(monkeypatch))
    at.button(key=f"hide-{posts[-1].id}").click()
    at.run()
    at.run()  # a full run renders the Posts tab ("all") and the Hidden tab together
    assert not at.exception, at.exception
    assert at.button(key=f"show-{posts[-1].id}")
    assert at.button(key=f"hidden-show-{posts[-1].id}")


def test_hiding_an_author_offers_to_unhide_them(wall_store, monkeypatch):
    _, posts = wall_store
    at = _sign_in(_moderate(monkeypatch))
    at.button(key=f"hide-author-{posts[-1].id}").click()
    at.run()
    at.button(key=f"unhide-author-{posts[-1].id}").click()
    at.run()
    assert f'data-mention-id="{posts[-1].id}"' in _html(_wall())


@pytest.mark.postgres
def test_the_wall_and_the_moderator_page_work_on_postgresql(pg_store, monkeypatch, tmp_path):
    monkeypatch.setenv("GROUNDSWELL_DB_URL", pg_store.url.render_as_string(hide_password=False))
    monkeypatch.setenv("GROUNDSWELL_CONFIG", "")
    monkeypatch.chdir(tmp_path)
    wall_feeder.ensure_movement(pg_store)
    posts = wall_feeder.conversation(datetime.now(UTC))
    wall_feeder.write(pg_store, *posts, edges=wall_feeder.boosts(posts))
    assert f'data-mention-id="{posts[-1].id}"' in _html(_wall(mode="both"))
    at = _sign_in(_moderate(monkeypatch))
    at.button(key=f"hide-{posts[-1].id}").click()
    at.run()
    assert not at.exception, at.exception
    assert f'data-mention-id="{posts[-1].id}"' not in _html(_wall())


# --- sign-in with OIDC (st.login) -----------------------------------------------------------

# What `st.login` reads from .streamlit/secrets.toml; AppTest's `secrets` and `user` stand in
# for the file and for the identity the provider returned (no provider is contacted here).
AUTH = {
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "not-a-real-secret",
        "client_id": "groundswell",
        "client_secret": "not-a-real-secret",
        "server_metadata_url": "https://id.example/.well-known/openid-configuration",
    }
}


def _moderate_oidc(monkeypatch, tmp_path, user: dict, emails=("mo@nhs.example",)) -> AppTest:
    listed = ", ".join(f'"{e}"' for e in emails)
    (tmp_path / "groundswell.toml").write_text(f"[wall]\nmoderator_emails = [{listed}]\n")
    monkeypatch.setenv("GROUNDSWELL_MODERATOR_PASSWORD", PASSWORD)  # must not be a side door
    at = AppTest.from_file(str(VIEWS / "moderate.py"), default_timeout=30)
    at.secrets.update(AUTH)
    at.user = user
    at.run()
    assert not at.exception, at.exception
    return at


def _controls(at: AppTest) -> list[str]:
    return [b.label for b in at.button if b.label in ("Hide", "Pin", "Hide author")]


def test_with_sign_in_configured_a_visitor_must_sign_in_and_no_password_is_asked(
    wall_store, monkeypatch, tmp_path
):
    at = _moderate_oidc(monkeypatch, tmp_path, {"is_logged_in": False})
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.text_input  # no password form: the shared password is not accepted
    assert not _controls(at)


def test_a_signed_in_moderator_on_the_list_can_hide_and_is_recorded_by_email(
    wall_store, monkeypatch, tmp_path
):
    store, posts = wall_store
    user = {"is_logged_in": True, "email": "Mo@NHS.example", "name": "Mo Ahmed"}
    at = _moderate_oidc(monkeypatch, tmp_path, user)
    assert "Hide" in _controls(at)
    at.button(key=f"hide-{posts[-1].id}").click()
    at.run()
    with store.connect() as conn:
        (entry,) = q_log(conn)
    assert entry["moderator"] == "Mo Ahmed <mo@nhs.example>"


def test_a_signed_in_person_not_on_the_moderator_list_gets_no_controls(
    wall_store, monkeypatch, tmp_path
):
    user = {"is_logged_in": True, "email": "visitor@elsewhere.example", "name": "V"}
    at = _moderate_oidc(monkeypatch, tmp_path, user)
    assert "not on this wall's list of moderators" in at.error[0].value
    assert [b.label for b in at.button] == ["Sign out"]


def test_an_email_the_provider_did_not_verify_gets_no_controls(wall_store, monkeypatch, tmp_path):
    user = {"is_logged_in": True, "email": "mo@nhs.example", "email_verified": False}
    at = _moderate_oidc(monkeypatch, tmp_path, user)
    assert "not verified" in at.error[0].value
    assert not _controls(at)


def test_sign_in_configured_without_any_moderator_email_locks_the_page(
    wall_store, monkeypatch, tmp_path
):
    user = {"is_logged_in": True, "email": "mo@nhs.example"}
    at = _moderate_oidc(monkeypatch, tmp_path, user, emails=())
    assert "moderator_emails" in at.error[0].value
    assert not _controls(at)


def q_log(conn):
    from storage.queries.wall import moderation_log

    return moderation_log(conn, "default")
