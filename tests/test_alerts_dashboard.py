"""The Alerts page lists alerts and rule status and lets moderators (only) acknowledge; the
Overview shows the unacknowledged ones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from storage.alerts import AL, NewAlert, record_alert
from storage.engine import make_engine, write_tx
from storage.migrate import upgrade
from storage.queries.scope import list_movements
from tests.dashboard_data import open_page
from tests.factories import movement

PASSWORD = "moderators only, please"
TITLE = "Spike: 120 mentions of NHS Citizen in 60 min, 6.0x the usual"


@pytest.fixture
def store_env(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'gs.db'}"
    engine = make_engine(url)
    upgrade(engine)
    movement(engine)
    with engine.connect() as conn:
        mv = list_movements(conn)[0]["id"]
    now = datetime.now(UTC)
    with write_tx(engine) as conn:
        record_alert(
            conn,
            NewAlert("spike", "spike", "e1", now, TITLE, "120 mentions", movement_id=mv),
            ["email"],
            now=now,
        )
    (tmp_path / "gs.toml").write_text(
        '[[alerts.rules]]\nname = "spike"\nkind = "spike"\n', encoding="utf-8"
    )
    monkeypatch.setenv("GROUNDSWELL_DB_URL", url)
    monkeypatch.setenv("GROUNDSWELL_CONFIG", str(tmp_path / "gs.toml"))
    monkeypatch.delenv("GROUNDSWELL_DASHBOARD_PASSWORD", raising=False)
    monkeypatch.setenv("GROUNDSWELL_MODERATOR_PASSWORD", PASSWORD)
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml: password mode
    yield engine
    engine.dispose()


def _open(at: AppTest | None, page: str) -> AppTest:
    if at is None:
        return open_page(page)
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_overview_shows_unacknowledged_alerts(store_env):
    at = _open(None, "views/overview.py")
    assert any(TITLE in w.value for w in at.warning)


def test_a_viewer_sees_alerts_and_rules_but_cannot_acknowledge(store_env):
    at = _open(None, "views/alerts.py")
    shown = at.dataframe[0].value
    assert list(shown["Alert"]) == [TITLE]
    assert list(at.dataframe[1].value["Rule"]) == ["spike"]
    assert any("You need the moderator role" in i.value for i in at.info)
    assert "Acknowledge" not in [b.label for b in at.button]


def test_a_moderator_acknowledges_and_the_alert_leaves_the_list(store_env):
    at = _open(None, "views/moderate.py")
    boxes = {t.label: t for t in at.text_input}
    boxes["Your name (recorded with each decision)"].input("Mo")
    boxes["Moderator password"].input(PASSWORD)
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    at = _open(at, "views/alerts.py")
    at.multiselect[0].select(at.multiselect[0].options[0]).run()
    next(b for b in at.button if b.label == "Acknowledge").click().run()
    assert not at.exception, at.exception
    with store_env.connect() as conn:
        assert conn.execute(select(AL.c.acknowledged_by)).scalar() == "Mo"
    assert not any(TITLE in w.value for w in _open(at, "views/overview.py").warning)
