"""The configuration file: the example validates; every mistake is one line naming the file,
the key and the fix, and the CLI exits with code 2 (never a traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from domain.settings.checks import secret_from_env
from domain.settings.config import ConfigError, load_settings
from groundswell.cli import app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "example.toml"

MINIMAL = """
[[movements]]
slug = "nhscitizen"
name = "NHS Citizen"
hashtags = ["NHSCitizen"]
"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "groundswell.toml"
    path.write_text(body, encoding="utf-8")
    return path


def config_error(tmp_path: Path, body: str) -> str:
    """The one-line message `groundswell init` prints for this config, checking exit code 2."""
    path = write(tmp_path, body)
    result = CliRunner().invoke(
        app, ["init", "--config", str(path), "--db", f"sqlite:///{tmp_path / 'gs.db'}"]
    )
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    assert str(path) in lines[0]
    return lines[0]


# -- the example ----------------------------------------------------------------------------


def test_the_example_config_is_valid():
    settings, path = load_settings(EXAMPLE)
    assert path == EXAMPLE
    assert [m.slug for m in settings.movements] == ["nhscitizen", "changeday"]
    assert "https://www.nhscitizen.org.uk/pledge" in settings.movements[0].urls


def test_the_example_event_is_in_london_time():
    settings, _ = load_settings(EXAMPLE)
    assembly = next(e for e in settings.events if e.name == "NHS Citizen Assembly")
    assert assembly.timezone == "Europe/London"
    assert assembly.starts.tzinfo is not None
    assert assembly.starts < assembly.ends


def test_the_example_tracks_several_platforms():
    settings, _ = load_settings(EXAMPLE)
    hosts = {i.base_url for i in settings.mastodon.instances}
    assert {"https://mastodon.social", "https://mastodon.scot", "https://social.coop"} <= hosts
    assert settings.bluesky.queries
    assert len(settings.blogs.feeds) >= 3
    assert settings.wall.hashtag


def test_the_example_names_secrets_only_by_environment_variable():
    text = EXAMPLE.read_text()
    settings, _ = load_settings(EXAMPLE)
    assert settings.bluesky.app_password_env.isupper()
    assert all(i.token_env is None or i.token_env.isupper() for i in settings.mastodon.instances)
    assert "password =" not in text and "token =" not in text


def test_no_config_file_is_an_empty_demo_ready_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GROUNDSWELL_CONFIG", raising=False)
    settings, path = load_settings(None)
    assert path is None and not settings.has_sources


def test_secrets_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("GS_TEST_TOKEN", "  s3cret  ")
    assert secret_from_env("GS_TEST_TOKEN", what="token") == "s3cret"
    assert secret_from_env("GS_UNSET_TOKEN_XYZ", what="token") is None


# -- mistakes -------------------------------------------------------------------------------


def test_an_unknown_key_is_named_with_a_suggestion(tmp_path):
    line = config_error(tmp_path, MINIMAL.replace("hashtags =", "hashtag ="))
    assert "movements[0].hashtag" in line
    assert "did you mean 'hashtags'" in line


def test_an_unknown_table_is_named(tmp_path):
    line = config_error(tmp_path, MINIMAL + "\n[mastadon]\nfetch_boosts = true\n")
    assert "mastadon: unknown key" in line
    assert "did you mean 'mastodon'" in line


def test_a_wrong_type_names_the_key_the_value_and_what_is_expected(tmp_path):
    line = config_error(tmp_path, MINIMAL + '\n[collect]\ndefault_interval_s = "sixty"\n')
    assert "collect.default_interval_s = 'sixty'" in line
    assert "valid integer" in line


def test_an_out_of_range_value_says_the_limit(tmp_path):
    line = config_error(tmp_path, MINIMAL + "\n[collect]\ndefault_interval_s = 1\n")
    assert "collect.default_interval_s = 1" in line
    assert "greater than or equal to 5" in line


def test_bad_toml_syntax_names_the_line(tmp_path):
    line = config_error(tmp_path, MINIMAL + "\n[collect\nlease_s = 60\n")
    assert "not valid TOML" in line
    assert "line" in line


def test_an_unknown_time_zone_suggests_an_iana_name(tmp_path):
    body = MINIMAL + (
        '\n[[events]]\nslug = "a"\nname = "Assembly"\n'
        "starts = 2026-03-14T09:30:00\nends = 2026-03-14T17:00:00\n"
        'timezone = "London/England"\n'
    )
    line = config_error(tmp_path, body)
    assert "events[0].timezone" in line
    assert "Europe/London" in line


def test_an_event_that_ends_before_it_starts_is_refused(tmp_path):
    body = MINIMAL + (
        '\n[[events]]\nslug = "a"\nname = "Assembly"\n'
        "starts = 2026-03-15T09:30:00\nends = 2026-03-14T17:00:00\n"
        'timezone = "Europe/London"\n'
    )
    line = config_error(tmp_path, body)
    assert "events[0]" in line
    assert "must be after starts" in line


def test_an_event_naming_an_unknown_movement_is_refused(tmp_path):
    body = MINIMAL + (
        '\n[[events]]\nslug = "a"\nname = "Assembly"\nmovement = "nhs-citizen"\n'
        "starts = 2026-03-14T09:30:00\nends = 2026-03-14T17:00:00\n"
    )
    line = config_error(tmp_path, body)
    assert "events[0].movement 'nhs-citizen' names no movement" in line


def test_a_token_written_inline_is_refused(tmp_path):
    body = MINIMAL + (
        '\n[[mastodon.instances]]\nbase_url = "https://mastodon.social"\n'
        'token = "Xy7pQ2-abcdEFGHijklMNOPqrstUVWXyz0123456789"\n'
    )
    line = config_error(tmp_path, body)
    assert "mastodon.instances[0].token" in line
    assert "environment variable" in line
    assert "Xy7pQ2" not in line  # the message never echoes the secret


def test_a_secret_pasted_into_an_env_key_is_refused(tmp_path):
    body = MINIMAL + '\n[bluesky]\napp_password_env = "abcd-efgh-ijkl-mnop"\n'
    line = config_error(tmp_path, body)
    assert "bluesky.app_password_env" in line
    assert "NAME of an environment variable" in line
    assert "abcd-efgh" not in line


def test_a_password_in_the_store_url_is_refused(tmp_path):
    body = MINIMAL + '\n[store]\nurl = "postgresql://gs:hunter2@db.example.org/gs"\n'
    line = config_error(tmp_path, body)
    assert "store.url" in line
    assert "GROUNDSWELL_DB_URL" in line
    assert "hunter2" not in line


def test_a_movement_with_nothing_to_track_is_refused(tmp_path):
    line = config_error(tmp_path, '[[movements]]\nslug = "x"\nname = "X"\n')
    assert "movements[0]" in line
    assert "at least one of hashtags, terms or urls" in line


def test_a_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(tmp_path / "nope.toml")


def test_the_installed_command_prints_one_line_and_exits_2(tmp_path):
    """The real process, not the test runner: no traceback reaches the terminal."""
    path = write(tmp_path, MINIMAL + "\n[collect]\nlease_s = true_ish\n")
    proc = subprocess.run(
        [sys.executable, "-m", "groundswell.cli", "init", "--config", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "300"},
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert str(path) in lines[0] and "not valid TOML" in lines[0]


def test_a_malformed_moderator_email_is_refused_naming_the_key():
    from domain.settings.config import ConfigError, parse_settings

    with pytest.raises(ConfigError, match=r"wall\.moderator_emails: 'not-an-email'"):
        parse_settings({"wall": {"moderator_emails": ["not-an-email"]}})
