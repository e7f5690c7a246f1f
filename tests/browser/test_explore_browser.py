"""The Explore & export page in real Chromium: preview, withheld counts, and a real download
of the zip (the browser saves the file; we open it)."""

from __future__ import annotations

import json
import zipfile

from tests.export.conftest import SECRET_TEXT, seed


def test_explore_page_previews_and_downloads_a_zip(
    sqlite_store, streamlit_app, page, artifacts, tmp_path
):
    seed(sqlite_store)
    # Exports are pseudonymous by default (issue 17): the page keys them with the store's key,
    # here from the environment as an operator would set it.
    base = streamlit_app(str(sqlite_store.url), env={"GROUNDSWELL_PSEUDONYM_KEY": "k" * 40})
    page.goto(f"{base}/explore?mv=nhscitizen&range=all", wait_until="networkidle")
    page.wait_for_selector("text=Explore & export", timeout=60_000)
    page.wait_for_selector("table.gs-table", timeout=60_000)  # the static preview
    page.wait_for_timeout(1000)
    assert "Withheld (opt-outs)" in page.content()
    assert SECRET_TEXT not in page.content()
    page.get_by_role("button", name="Prepare download").click()
    button = page.get_by_role("button", name="Download zip")
    button.wait_for(timeout=60_000)
    page.screenshot(path=str(artifacts / "explore-export.png"), full_page=True)
    with page.expect_download(timeout=60_000) as info:
        button.click()
    path = tmp_path / "download.zip"
    info.value.save_as(path)
    with zipfile.ZipFile(path) as zf:
        card_name = next(n for n in zf.namelist() if n.endswith("datacard.json"))
        card = json.loads(zf.read(card_name))
    assert card["counts"]["mentions"]["exported"] == 3
    assert card["query"]["options"]["pseudonymised"] is True
    assert "Traceback" not in page.content()
    # the grid to sort and scroll, drawn when asked for, withholds the same rows
    page.get_by_text("Sort and scroll the newest").click()
    page.wait_for_selector("[data-testid='stDataFrame']", timeout=60_000)
    page.wait_for_timeout(1000)
    assert SECRET_TEXT not in page.content() and "Traceback" not in page.content()
