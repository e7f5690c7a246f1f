"""Webmention endpoint discovery replayed from webmention.rocks' discovery tests (Apache-2.0):
the test pages as its site serves them (HTTP `Link` headers of odd case, relative and
absolute URLs, `<link>` and `<a>` elements, false endpoints in comments and escaped HTML,
several endpoints where the first wins), read from its `DiscoveryTestData.php` where it lies
and served from 127.0.0.1. `groundswell sources add-blog --dry-run` must report the right
endpoint for each, as a sender would find it."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from groundswell.cli import app
from tests.recordings import recorded
from tests.servers.blog_server import BlogServer

# Test 23 needs one-time redirect keys from the live site (a page that expires when read).
NOT_REPLAYABLE = {23}
_TOKEN = re.compile(r"'((?:[^'\\]|\\.)*)'|Config::\$base|\$params")


@dataclass
class DiscoveryCase:
    num: int
    link_headers: list[str]
    header_name: str
    link_tag: str
    description: str


def _php_string(expr: str, base: str) -> str:
    """Evaluate a PHP string expression of the recorded file: single-quoted literals joined by
    `.`, with `Config::$base` (the site's base URL) and `$params` (empty for GET)."""
    out = []
    for m in _TOKEN.finditer(expr):
        if m.group(1) is not None:
            out.append(re.sub(r"\\(.)", r"\1", m.group(1)))
        elif m.group(0) == "Config::$base":
            out.append(base)
    return "".join(out)


def _field(block: str, name: str) -> str | None:
    m = re.search(rf"'{name}' => (\[.*?\]|(?:'(?:[^'\\]|\\.)*'|[^,\n\]])+)", block, re.S)
    return m.group(1) if m else None


def discovery_cases(base: str) -> list[DiscoveryCase]:
    php = recorded("aaronpk/webmention.rocks", "lib/Rocks/DiscoveryTestData.php").decode()
    body = php.split("return [", 1)[1]
    starts = list(re.finditer(r"^\s{6}(\d+) => \[", body, re.M))
    cases = []
    for i, m in enumerate(starts):
        block = body[m.end() : starts[i + 1].start() if i + 1 < len(starts) else len(body)]
        header = _field(block, "link_header") or "''"
        if header.startswith("["):
            headers = [_php_string(h, base) for h in re.findall(r"'[^\n]*'", header)]
        else:
            headers = [_php_string(header, base)]
        cases.append(
            DiscoveryCase(
                num=int(m.group(1)),
                link_headers=[h for h in headers if h],
                header_name=_php_string(_field(block, "link_header_name") or "'Link'", base),
                link_tag=_php_string(_field(block, "link_tag") or "''", base),
                description=_php_string(_field(block, "description") or "''", base),
            )
        )
    return cases


def _page(case: DiscoveryCase) -> bytes:
    """The test page as webmention.rocks' views lay it out: `link_tag` in the head
    (views/layout.php), the description in the entry's content (views/discovery-test.php)."""
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>Discovery Test #{case.num}</title>{case.link_tag}</head><body>"
        f'<div class="post-container h-entry"><h1 class="p-name"><a href="/test/{case.num}">'
        f'Discovery Test #{case.num}</a></h1><div class="e-content">{case.description}</div>'
        "</div></body></html>"
    ).encode()


def _expected(case: DiscoveryCase, base: str) -> str:
    if case.num == 15:  # an empty href: the page is its own endpoint
        return f"{base}test/15"
    return f"{base}test/{case.num}/webmention" + ("?query=yes" if case.num == 21 else "")


@pytest.fixture(scope="module")
def rocks():
    with BlogServer("webmention.rocks replay") as server:
        base = server.url + "/"
        cases = [c for c in discovery_cases(base) if c.num not in NOT_REPLAYABLE]
        for case in cases:
            server.pages[f"/test/{case.num}"] = (200, _headers(case), _page(case))
        yield server, base, cases


def _headers(case: DiscoveryCase) -> dict[str, str]:
    # several Link headers arrive as one comma-joined field value (RFC 9110 5.3), which is how
    # this local server sends the multi-header case (#18)
    return {case.header_name: ", ".join(case.link_headers)} if case.link_headers else {}


def test_the_recorded_discovery_cases_were_read(rocks):
    _, _, cases = rocks
    assert [c.num for c in cases] == list(range(1, 23))
    assert cases[6].header_name == "LinK" and len(cases[17].link_headers) == 2


@pytest.mark.parametrize("num", range(1, 23))
def test_add_blog_reports_the_webmention_endpoint_of_discovery_test(tmp_path, rocks, num):
    _, base, cases = rocks
    [case] = [c for c in cases if c.num == num]
    config = tmp_path / "groundswell.toml"
    config.write_text("[blogs]\nallow_loopback = true\n")
    result = CliRunner().invoke(
        app,
        ["sources", "add-blog", f"{base}test/{num}", "--dry-run", "--config", str(config)],
        env={"COLUMNS": "400"},
    )
    [line] = [x for x in result.output.splitlines() if x.startswith("webmention:")]
    assert line == f"webmention: {_expected(case, base)}"
