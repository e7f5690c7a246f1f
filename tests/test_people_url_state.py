"""The Amplifiers page's "Count by" (person or account) lives in the URL like the shared
filters (dashboard/filters.py `url_choice`): a shared link opens the page counted the same way,
and the reader's choice is written back to the address bar."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.filters import choice_from_params
from storage.engine import make_engine
from storage.migrate import upgrade
from tests.dashboard_data import small_conversation

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
PAGE = "views/amplifiers.py"


@pytest.fixture(scope="module")
def data_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('amp_url') / 'data.db'}"
    engine = make_engine(url)
    upgrade(engine)
    small_conversation(engine)
    engine.dispose()
    return url


def _open(url: str, monkeypatch, params: dict[str, str]) -> AppTest:
    monkeypatch.setenv("GROUNDSWELL_DB_URL", url)
    monkeypatch.delenv("GROUNDSWELL_DASHBOARD_PASSWORD", raising=False)
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in params.items():
        at.query_params[k] = v
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    return at


def _param(at: AppTest, name: str) -> str | None:
    v = at.query_params.get(name)
    return v[-1] if isinstance(v, list) else v


def _count_by(at: AppTest):  # type: ignore[no-untyped-def]
    return next(r for r in at.radio if r.label == "Count by")


def test_a_shared_link_with_count_by_account_opens_the_page_by_account(data_url, monkeypatch):
    at = _open(data_url, monkeypatch, {"range": "7d", "by": "account"})
    assert _count_by(at).value == "account"
    assert _param(at, "by") == "account"  # the shared filters kept it when they wrote the URL
    assert _param(at, "range") == "7d"


def test_the_readers_choice_is_written_to_the_url(data_url, monkeypatch):
    at = _open(data_url, monkeypatch, {"range": "7d"})
    assert _count_by(at).value == "person"  # the default
    _count_by(at).set_value("account").run()
    assert not at.exception
    assert _count_by(at).value == "account"
    assert _param(at, "by") == "account"
    _count_by(at).set_value("person").run()
    assert _count_by(at).value == "person" and _param(at, "by") == "person"


def test_an_unknown_count_by_in_the_url_falls_back_to_person(data_url, monkeypatch):
    at = _open(data_url, monkeypatch, {"range": "7d", "by": "'; drop table"})
    assert _count_by(at).value == "person"
    assert _param(at, "by") == "person"


def test_choice_from_params_accepts_only_the_pages_options():
    options = ("person", "account")
    assert choice_from_params({"by": "account"}, "by", options) == "account"
    assert choice_from_params({"by": ["person", "account"]}, "by", options) == "account"
    assert choice_from_params({"by": "everyone"}, "by", options) is None
    assert choice_from_params({}, "by", options) is None
