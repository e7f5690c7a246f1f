"""`groundswell export` on the command line: a dataset on success, one clear line on failure."""

from __future__ import annotations

import getpass
import json
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from groundswell.cli import app
from groundswell.export.pseudonym import key_fingerprint
from storage.engine import make_engine
from storage.models_export import ExportLog
from tests.export.conftest import seed

runner = CliRunner()


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    """An (empty) config in its own folder: the key file lives beside it."""
    folder = tmp_path / "conf"
    folder.mkdir()
    path = folder / "groundswell.toml"
    path.write_text("")
    monkeypatch.setenv("GROUNDSWELL_CONFIG", str(path))
    monkeypatch.delenv("GROUNDSWELL_PSEUDONYM_KEY", raising=False)
    return path


@pytest.fixture
def db(sqlite_store, config) -> str:
    seed(sqlite_store)
    url = str(sqlite_store.url)
    res = _run("init", "--db", url)
    assert res.exit_code == 0, res.output
    return url


def _run(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env=env or {}, catch_exceptions=False)


def _card(folder: Path) -> dict:
    return json.loads((folder / "datacard.json").read_text())


def test_export_writes_the_dataset_and_says_what_was_withheld(db, tmp_path):
    res = _run("export", "--db", db, "--out", str(tmp_path / "ds"), "-f", "csv", "-f", "parquet")
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())  # the console wraps at 80 columns, where the path ends
    assert "exported 3 mentions" in said
    assert "2 withheld" in said
    assert (tmp_path / "ds" / "mentions.parquet").exists()
    assert json.loads((tmp_path / "ds" / "datacard.json").read_text())["files"]


def test_an_unwritable_output_path_is_one_clear_line(db, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    res = _run("export", "--db", db, "--out", str(blocker / "ds"))
    assert res.exit_code == 1
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1, res.output
    assert "cannot write export to" in lines[0] and "a-file" in lines[0]


def test_a_missing_output_folder_is_one_clear_line(db, tmp_path):
    res = _run("export", "--db", db, "--out", str(tmp_path / "no" / "such" / "ds"))
    assert res.exit_code == 1
    assert "does not exist" in res.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_a_read_only_folder_is_one_clear_line(db, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    res = _run("export", "--db", db, "--out", str(ro / "ds"))
    assert res.exit_code == 1
    assert "no permission" in res.output


def test_an_existing_destination_is_not_overwritten_silently(db, tmp_path):
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "keep.txt").write_text("mine")
    res = _run("export", "--db", db, "--out", str(tmp_path / "ds"))
    assert res.exit_code == 1
    assert "--overwrite" in res.output
    assert (tmp_path / "ds" / "keep.txt").read_text() == "mine"


def test_an_unknown_movement_names_the_known_ones(db, tmp_path):
    res = _run("export", "--db", db, "--out", str(tmp_path / "ds"), "--movement", "nope")
    assert res.exit_code == 2
    assert "'nope'" in res.output and "nhscitizen" in res.output


def test_init_writes_a_key_file_beside_the_config_that_only_its_owner_can_read(db, config):
    key_file = config.parent / "groundswell.pseudonym.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert len(key) == 64
    store_file = Path(db.removeprefix("sqlite:///"))
    assert key.encode() not in store_file.read_bytes()  # never in the store


def test_init_keeps_an_existing_key(db, config):
    key_file = config.parent / "groundswell.pseudonym.key"
    before = key_file.read_text()
    assert _run("init", "--db", db).exit_code == 0
    assert key_file.read_text() == before


def test_export_is_pseudonymised_with_the_key_file_by_default(db, config, tmp_path):
    res = _run("export", "--db", db, "--out", str(tmp_path / "ds"))
    assert res.exit_code == 0, res.output
    assert "pseudonymised" in res.output
    key = (config.parent / "groundswell.pseudonym.key").read_text().strip().encode()
    options = _card(tmp_path / "ds")["query"]["options"]
    assert options["pseudonymised"] is True
    assert options["pseudonym_key_fingerprint"] == key_fingerprint(key)
    assert "handle" not in (tmp_path / "ds" / "mentions.csv").read_text().splitlines()[0]


def test_export_without_a_key_file_says_how_to_get_one(db, config, tmp_path):
    (config.parent / "groundswell.pseudonym.key").unlink()
    res = _run("export", "--db", db, "--out", str(tmp_path / "ds"))
    assert res.exit_code == 2
    assert "groundswell init" in res.output and "--identified" in res.output
    assert not (tmp_path / "ds").exists()


def test_a_key_file_others_can_read_is_refused(db, config, tmp_path):
    (config.parent / "groundswell.pseudonym.key").chmod(0o644)
    res = _run("export", "--db", db, "--out", str(tmp_path / "ds"))
    assert res.exit_code == 2
    assert "chmod 600" in res.output


def test_an_identified_export_needs_a_reason(db, tmp_path):
    res = _run("export", "--db", db, "--out", str(tmp_path / "ds"), "--identified")
    assert res.exit_code == 2
    assert "--reason" in res.output
    assert not (tmp_path / "ds").exists()


def test_the_export_log_records_who_asked_for_an_identified_export_and_why(db, tmp_path):
    why = "ethics approval 2026/114: consented participants' posts"
    res = _run("export", "--db", db, "--out", str(tmp_path / "ds"), "--identified", "--reason", why)
    assert res.exit_code == 0, res.output
    assert "IDENTIFIED" in res.output
    assert _card(tmp_path / "ds")["query"]["options"]["pseudonymised"] is False
    log = ExportLog.__table__
    engine = make_engine(db)
    with engine.connect() as conn:
        row = conn.execute(select(log.c.requested_by, log.c.reason, log.c.options)).one()
    assert row.requested_by == getpass.getuser()
    assert row.reason == why
    assert row.options["pseudonymised"] is False


def test_each_cli_export_is_in_the_audit_trail_with_its_os_user_and_protection(db, tmp_path):
    from storage.audit import list_actions

    why = "ethics approval 2026/114"
    assert _run("export", "--db", db, "--out", str(tmp_path / "a")).exit_code == 0
    res = _run("export", "--db", db, "--out", str(tmp_path / "b"), "--identified", "--reason", why)
    assert res.exit_code == 0, res.output
    with make_engine(db).connect() as conn:
        identified, pseudonymised = list_actions(conn)
    for row in (identified, pseudonymised):
        assert (row["actor"], row["role"], row["action"]) == (
            f"cli:{getpass.getuser()}",
            "operator",
            "export",
        )
        assert row["target_kind"] == "export_log" and row["detail"]["tool"] == "cli"
    assert pseudonymised["detail"]["identified"] is False
    assert identified["detail"]["identified"] is True
    assert identified["detail"]["reason"] == why
    assert identified["detail"]["mentions"] > 0


def test_an_id_only_export_is_an_identified_export(db, tmp_path):
    res = _run("export", "--db", db, "--out", str(tmp_path / "ds"), "--ids-only")
    assert res.exit_code == 2
    assert "--identified" in res.output


def test_the_data_card_states_the_remaining_risks_and_offers_generalised_times(db, tmp_path):
    assert _run("export", "--db", db, "--out", str(tmp_path / "ds")).exit_code == 0
    readme = (tmp_path / "ds" / "README.md").read_text()
    assert "Re-identification risks that remain" in readme
    assert "Exact times" in readme and "--generalise-times" in readme
    assert "small Mastodon instance" in readme


def test_pseudonymise_takes_the_key_from_the_environment(db, tmp_path):
    env = {"GROUNDSWELL_PSEUDONYM_KEY": "x" * 40}
    res = _run("export", "--db", db, "--out", str(tmp_path / "ds"), "--pseudonymise", env=env)
    assert res.exit_code == 0, res.output
    card = json.loads((tmp_path / "ds" / "datacard.json").read_text())
    assert card["query"]["options"]["pseudonymised"] is True
