"""`--help` of every command shows its text as written: config keys such as `[store].url`
keep their brackets (Rich markup used to eat them: "the config's .url")."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from groundswell.cli import app

ROOT = typer.main.get_command(app)
BRACKETED = re.compile(r"\[[A-Za-z_][\w.-]*\]")


def _commands() -> list[tuple[str, Any]]:
    return [("", ROOT), *sorted(ROOT.commands.items())]  # type: ignore[attr-defined]


def _help_texts(cmd: Any) -> list[str]:
    texts = [cmd.help or ""]
    if hasattr(cmd, "commands"):
        texts += [c.short_help or (c.help or "").split("\n")[0] for c in cmd.commands.values()]
    texts += [getattr(p, "help", None) or "" for p in cmd.params]
    return texts


def test_some_help_text_quotes_a_config_key_in_brackets():
    assert any(BRACKETED.search(t) for _, cmd in _commands() for t in _help_texts(cmd))


@pytest.mark.parametrize("name", [n for n, _ in _commands()])
def test_help_keeps_every_bracketed_config_key(name):
    cmd = dict(_commands())[name]
    args = [name, "--help"] if name else ["--help"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "250", "TERM": "dumb"})
    assert result.exit_code == 0, result.output
    shown = " ".join(result.output.split())
    for text in _help_texts(cmd):
        for key in BRACKETED.findall(text):
            assert key in shown, f"`groundswell {name} --help` lost {key!r}"
