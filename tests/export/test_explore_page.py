"""The Explore & export page (Streamlit AppTest): bounded preview without withheld content,
counts of what is withheld, and a downloadable zip with its data card."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from storage.engine import make_engine
from storage.migrate import upgrade
from tests.export.conftest import DELETED_TEXT, SECRET_TEXT, TERM_ONLY_TEXT, seed
from tests.html_tables import html_metrics, html_tables

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture
def page(tmp_path, monkeypatch) -> AppTest:
    url = f"sqlite:///{tmp_path / 'gs.db'}"
    engine = make_engine(url)
    upgrade(engine)
    seed(engine)
    engine.dispose()
    monkeypatch.setenv("GROUNDSWELL_DB_URL", url)
    monkeypatch.setenv("GROUNDSWELL_PSEUDONYM_KEY", "k" * 40)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["mv"] = "nhscitizen"
    at.query_params["range"] = "all"
    at.run()
    at.switch_page("views/explore.py")
    at.run()
    assert not at.exception, at.exception
    return at


def _page_text(at: AppTest) -> str:
    frames = [str(df.value.to_dict()) for df in at.dataframe]
    tables = [str(t) for t in html_tables(at)]
    return " ".join(
        frames + tables + [m.value for m in at.markdown] + [str(m.value) for m in html_metrics(at)]
    )


def _preview(at: AppTest) -> dict[str, list[str]]:
    (table,) = [t for t in html_tables(at) if "Post" in t]
    return table


def test_preview_shows_exportable_posts_and_counts_the_withheld(page):
    assert page.title[0].value == "Explore & export"
    assert len(_preview(page)["Post"]) == 3
    metrics = {m.label: m.value for m in html_metrics(page)}
    assert metrics["Withheld (opt-outs)"] == "2"
    assert metrics["Deleted by authors"] == "1"
    text = _page_text(page)
    for secret in (SECRET_TEXT, DELETED_TEXT, TERM_ONLY_TEXT):
        assert secret[:20] not in text


def test_the_grid_to_sort_and_scroll_is_drawn_on_demand_and_withholds_the_same(page):
    assert not page.dataframe  # no grid's code for a new tab
    next(t for t in page.toggle if t.label.startswith("Sort and scroll")).set_value(True).run()
    assert len(page.dataframe[0].value) == 3
    text = _page_text(page)
    for secret in (SECRET_TEXT, DELETED_TEXT, TERM_ONLY_TEXT):
        assert secret[:20] not in text


def test_search_narrows_the_preview(page):
    page.text_input(key="explore_search").input("07700").run()
    assert len(_preview(page)["Post"]) == 1


def test_prepare_download_builds_a_zip_with_the_data_card(page):
    page.button[0].click().run()
    assert not page.exception, page.exception
    assert page.session_state["explore_zip"]
    name, payload = page.session_state["explore_zip"]
    with zipfile.ZipFile(io.BytesIO(payload)) as zf:
        names = zf.namelist()
        card = json.loads(zf.read(next(n for n in names if n.endswith("datacard.json"))))
    assert name.endswith(".zip")
    assert any(n.endswith("mentions.csv") for n in names)
    assert card["counts"]["mentions"]["exported"] == 3
    assert card["query"]["filters"]["movement"] == "nhscitizen"


def test_the_page_exports_pseudonymised_by_default(page):
    page.button[0].click().run()
    assert not page.exception, page.exception
    _, payload = page.session_state["explore_zip"]
    with zipfile.ZipFile(io.BytesIO(payload)) as zf:
        names = zf.namelist()
        card = json.loads(zf.read(next(n for n in names if n.endswith("datacard.json"))))
    assert card["query"]["options"]["pseudonymised"] is True


def test_an_identified_download_needs_a_reason(page):
    box = next(c for c in page.checkbox if c.label.startswith("Identified"))
    box.check()
    page.button[0].click().run()  # one submit: form widgets send their values with it
    assert "explore_zip" not in page.session_state
    assert any("reason" in w.value for w in page.warning)
