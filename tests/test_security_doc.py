"""docs/security.md names, for each guard, the test that proves it: every test file and test
named there must exist, so the page cannot claim a guard nobody checks."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "security.md"


def _defined_tests() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        names.update(re.findall(r"^def (test_\w+)", path.read_text(encoding="utf-8"), re.M))
    return names


def test_every_test_file_named_in_the_security_page_exists():
    files = set(re.findall(r"`(tests/[\w/]+\.py)", PAGE.read_text(encoding="utf-8")))
    assert files, "the page names no tests"
    assert sorted(f for f in files if not (ROOT / f).is_file()) == []


def test_every_test_named_in_the_security_page_exists():
    named = set(re.findall(r"\b(test_\w+)`", PAGE.read_text(encoding="utf-8")))
    assert len(named) > 10
    assert sorted(named - _defined_tests()) == []
