"""The dashboard as an application: no deprecated Streamlit arguments (Streamlit removes
`use_container_width` after 2025-12-31), no "Deploy" button, an upload box that states the
limit the parser enforces, and every page at its own address."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

import pytest
import streamlit
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from tests.test_dashboard_pages import PAGES, _run, data_url  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("page", [*PAGES, "views/explore.py"])
def test_no_page_uses_a_deprecated_streamlit_argument(page, data_url, monkeypatch):  # noqa: F811
    from streamlit import deprecation_util

    said: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            said.append(record.getMessage())

    monkeypatch.setattr(deprecation_util, "_shown_warnings", set())  # shown once per process
    handler = Collect(level=logging.WARNING)
    log = logging.getLogger(deprecation_util.__name__)
    log.addHandler(handler)
    try:
        at = _run(data_url, monkeypatch, page)
    finally:
        log.removeHandler(handler)
    assert not at.exception
    assert [m for m in said if "will be removed" in m] == []


def test_the_streamlit_the_suite_runs_is_inside_the_pinned_range():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (spec,) = [d.removeprefix("streamlit") for d in deps if d.startswith("streamlit")]
    allowed = SpecifierSet(spec)
    assert Version(streamlit.__version__) in allowed
    assert Version("2.0") not in allowed and Version("1.40") not in allowed


def test_the_dashboard_hides_the_deploy_button(data_url, monkeypatch):  # noqa: F811
    _run(data_url, monkeypatch)
    assert streamlit.get_option("client.toolbarMode") == "minimal"


def test_the_ics_upload_box_states_the_limit_the_parser_enforces(data_url, monkeypatch):  # noqa: F811
    from domain.ics import MAX_BYTES

    monkeypatch.setenv("GROUNDSWELL_MODERATOR_PASSWORD", "a moderator's password")
    at = _run(data_url, monkeypatch)
    at.session_state["gs_moderator"] = "Mo"  # signed in on the Moderate page (events editor)
    at.switch_page("views/events.py")
    at.run()
    (box,) = [u for u in at.get("file_uploader") if u.proto.label == "iCalendar file"]
    assert box.proto.max_upload_size_mb * 1_000_000 <= MAX_BYTES * 1.05


def test_the_dashboard_command_hides_the_deploy_button_and_states_the_upload_limit():
    from groundswell.commands.dashboard import streamlit_command

    cmd = streamlit_command(8501)
    assert cmd[cmd.index("--client.toolbarMode") + 1] == "minimal"
    assert cmd[cmd.index("--server.maxUploadSize") + 1] == "2"


def test_text_for_a_markdown_table_cell_cannot_become_a_link_an_image_or_emphasis():
    from dashboard.ui import md_escape

    hostile = "![x](http://evil.example/p.png) [click](javascript:alert(1)) **b** <b>x</b> www.a.io"
    out = md_escape(hostile)
    for ch in "![]()*<>:.":
        assert all(out[i - 1] == "\\" for i, c in enumerate(out) if c == ch), ch
    assert md_escape("nhs") == "nhs"


def test_the_repository_streamlit_config_matches_what_the_dashboard_command_passes():
    """`streamlit run dashboard/app.py` from the repository root reads .streamlit/config.toml;
    `groundswell dashboard` passes flags: both hide the Deploy button and say 2 MB."""
    from groundswell.commands.dashboard import streamlit_command

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    cmd = streamlit_command(8501)
    for section, options in config.items():
        for name, value in options.items():
            flag = f"--{section}.{name}"
            assert flag in cmd, flag
            assert cmd[cmd.index(flag) + 1] == str(value).lower(), flag


def test_a_static_table_link_goes_only_to_http_and_its_url_cannot_break_out_of_the_link():
    from dashboard.ui import md_link

    assert (
        md_link("https://example.org/p/1?a=b&c=d#top")
        == "[open](https://example.org/p/1?a=b&c=d#top)"
    )
    assert md_link("javascript:alert(1)") == md_link(None) == md_link("data:text/html,x") == ""
    hostile = md_link("https://ok.example/x) [evil](javascript:alert(1)) <b> \\")
    assert hostile.startswith("[open](https://ok.example/x") and hostile.count(")") == 1
    for ch in " []()<>\\":
        assert ch not in hostile.removeprefix("[open](").removesuffix(")")
