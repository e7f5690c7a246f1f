"""The dashboard's passwords (issue 17 item 6): wrong tries slow down per client and are
logged, a scrypt hash in the environment works besides plain text, and only moderators may
edit events. Pages run under AppTest from the real entry point (dashboard/app.py); the
throttle's clock is held still, so no test depends on how fast the machine is."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from dashboard.auth import MODERATOR_THROTTLE, VIEWER_THROTTLE
from domain.passwords import Throttle, hash_password, verify_password
from groundswell.cli import app as cli
from storage.engine import make_engine
from storage.migrate import upgrade
from tests import wall_feeder
from tests.dashboard_data import open_page

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
MODERATOR_PASSWORD = "moderators only, please"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """Both process-wide throttles, emptied and on a clock that moves only when told."""
    c = Clock()
    for throttle in (MODERATOR_THROTTLE, VIEWER_THROTTLE):
        throttle.reset()
        monkeypatch.setattr(throttle, "clock", c)
    yield c
    for throttle in (MODERATOR_THROTTLE, VIEWER_THROTTLE):
        throttle.reset()


@pytest.fixture
def store_env(tmp_path, monkeypatch, clock) -> Path:
    url = f"sqlite:///{tmp_path / 'gs.db'}"
    engine = make_engine(url)
    upgrade(engine)
    wall_feeder.ensure_movement(engine)  # the Events page needs a movement to show
    engine.dispose()
    monkeypatch.setenv("GROUNDSWELL_DB_URL", url)
    monkeypatch.setenv("GROUNDSWELL_CONFIG", "")
    monkeypatch.delenv("GROUNDSWELL_DASHBOARD_PASSWORD", raising=False)
    monkeypatch.setenv("GROUNDSWELL_MODERATOR_PASSWORD", MODERATOR_PASSWORD)
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml: password mode
    return tmp_path


def _open(page: str) -> AppTest:
    return open_page(page)


def _moderator_sign_in(at: AppTest, password: str) -> AppTest:
    boxes = {t.label: t for t in at.text_input}
    boxes["Your name (recorded with each decision)"].input("Mo")
    boxes["Moderator password"].input(password)
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    assert not at.exception, at.exception
    return at


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


# -- throttle -------------------------------------------------------------------------------


def test_after_three_wrong_tries_the_right_moderator_password_must_wait(store_env, clock):
    at = _open("views/moderate.py")
    for _ in range(4):
        _moderator_sign_in(at, "a guess")
    _moderator_sign_in(at, MODERATOR_PASSWORD)
    assert any("Too many wrong passwords" in e for e in _errors(at)), _errors(at)
    assert "Moderator password" in [t.label for t in at.text_input]  # still not signed in
    clock.now += 2.0
    _moderator_sign_in(at, MODERATOR_PASSWORD)
    assert "Moderator password" not in [t.label for t in at.text_input]


def test_a_new_browser_session_does_not_reset_the_wait(store_env, clock):
    for _ in range(4):
        _moderator_sign_in(_open("views/moderate.py"), "a guess")
    fresh = _moderator_sign_in(_open("views/moderate.py"), MODERATOR_PASSWORD)
    assert any("Too many wrong passwords" in e for e in _errors(fresh)), _errors(fresh)


def test_each_wrong_moderator_password_is_logged_with_the_client(store_env, caplog):
    with caplog.at_level(logging.WARNING, logger="domain.passwords"):
        _moderator_sign_in(_open("views/moderate.py"), "a guess")
    assert any("wrong moderator password from localhost" in r.getMessage() for r in caplog.records)


def test_the_wait_doubles_with_each_further_failure_and_is_per_client():
    clock = Clock()
    t = Throttle("test password", free_failures=3, first_wait_s=2, max_wait_s=300, clock=clock)
    waits = []
    for _ in range(6):
        assert t.attempt("198.51.100.7", "guess", "secret") is False
        waits.append(t.wait_s("198.51.100.7"))
        clock.now += waits[-1]
    assert waits == [0, 0, 0, 2, 4, 8]
    clock.now -= 1  # still inside the last wait
    assert t.attempt("198.51.100.7", "secret", "secret") == pytest.approx(1.0)
    assert t.attempt("203.0.113.9", "secret", "secret") is True  # another client is not slowed


def test_the_right_password_clears_the_count():
    clock = Clock()
    t = Throttle("test password", clock=clock)
    for _ in range(3):
        t.attempt("198.51.100.7", "guess", "secret")
    assert t.attempt("198.51.100.7", "secret", "secret") is True
    assert t.attempt("198.51.100.7", "guess", "secret") is False
    assert t.wait_s("198.51.100.7") == 0  # counting starts again from zero


# -- hashed secrets -------------------------------------------------------------------------


def test_a_scrypt_hash_in_the_environment_opens_the_moderator_page_with_its_password(
    store_env, monkeypatch
):
    monkeypatch.setenv("GROUNDSWELL_MODERATOR_PASSWORD", hash_password(MODERATOR_PASSWORD))
    at = _moderator_sign_in(_open("views/moderate.py"), MODERATOR_PASSWORD)
    assert "Moderator password" not in [t.label for t in at.text_input]
    assert any("Signed in as Mo" in c.value for c in at.caption)


def test_the_hash_itself_is_not_the_password(store_env, monkeypatch):
    hashed = hash_password(MODERATOR_PASSWORD)
    monkeypatch.setenv("GROUNDSWELL_MODERATOR_PASSWORD", hashed)
    at = _moderator_sign_in(_open("views/moderate.py"), hashed)
    assert _errors(at) == ["Wrong password."]


def test_a_hashed_dashboard_password_opens_the_dashboard(store_env, monkeypatch):
    monkeypatch.setenv("GROUNDSWELL_DASHBOARD_PASSWORD", hash_password("the viewers' phrase"))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.text_input[0].input("the viewers' phrase")
    at.button[0].click()
    at.run()
    assert "Dashboard password" not in [t.label for t in at.text_input]


def test_a_malformed_hash_matches_nothing():
    assert not verify_password("anything", "scrypt$16384$8$1$bm90$")
    assert not verify_password("scrypt$16384$8$1$bm90$", "scrypt$16384$8$1$bm90$")


def test_plain_text_passwords_still_work():
    assert verify_password("plain and simple", "plain and simple\n")
    assert not verify_password("plain and simple ", "plain and simplE")


def test_hash_password_prints_a_hash_that_verifies_and_refuses_short_ones():
    runner = CliRunner()
    result = runner.invoke(cli, ["hash-password"], input="a long shared phrase\n" * 2)
    assert result.exit_code == 0, result.output
    hashed = result.output.strip().splitlines()[-1]
    assert hashed.startswith("scrypt$") and "a long shared phrase" not in hashed
    assert verify_password("a long shared phrase", hashed)
    short = runner.invoke(cli, ["hash-password"], input="short\nshort\n")
    assert short.exit_code == 2


# -- events are edited by moderators only ---------------------------------------------------


def test_a_viewer_sees_no_event_editor_or_importer(store_env):
    at = _open("views/events.py")
    assert not at.get("arrow_data_editor") and not at.get("file_uploader")
    assert "Save events" not in [b.label for b in at.button]
    assert any("You need the editor role" in i.value for i in at.info)


def test_a_signed_in_moderator_can_edit_events(store_env):
    at = _open("views/moderate.py")
    _moderator_sign_in(at, MODERATOR_PASSWORD)
    at.switch_page("views/events.py")
    at.run()
    assert not at.exception, at.exception
    assert "Save events" in [b.label for b in at.button]
