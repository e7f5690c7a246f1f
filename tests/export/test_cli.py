"""`groundswell export` on the command line: a dataset on success, one clear line on failure."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from groundswell.cli import app
from tests.export.conftest import seed

runner = CliRunner()


@pytest.fixture
def db(sqlite_store) -> str:
    seed(sqlite_store)
    return str(sqlite_store.url)


def _run(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env=env or {}, catch_exceptions=False)


def test_export_writes_the_dataset_and_says_what_was_withheld(db, tmp_path):
    res = _run("export", "--db", db, "--out", str(tmp_path / "ds"), "-f", "csv", "-f", "parquet")
    assert res.exit_code == 0, res.output
    assert "exported 3 mentions" in res.output
    assert "2 withheld" in res.output
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


def test_pseudonymise_without_a_key_says_which_variable_to_set(db, tmp_path):
    res = _run("export", "--db", db, "--out", str(tmp_path / "ds"), "--pseudonymise")
    assert res.exit_code == 2
    assert "GROUNDSWELL_PSEUDONYM_KEY" in res.output


def test_pseudonymise_takes_the_key_from_the_environment(db, tmp_path):
    env = {"GROUNDSWELL_PSEUDONYM_KEY": "x" * 40}
    res = _run("export", "--db", db, "--out", str(tmp_path / "ds"), "--pseudonymise", env=env)
    assert res.exit_code == 0, res.output
    card = json.loads((tmp_path / "ds" / "datacard.json").read_text())
    assert card["query"]["options"]["pseudonymised"] is True
