"""Hostile text and XML in collected content (issue 16 item 7): bidirectional controls never
reach stored names, titles or HTML, on every platform (the shared sanitiser), and a feed that
declares XML entities is refused wherever in the document, in whatever encoding, it does so."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from collectors.blogs.feeds import parse_feed
from domain.sanitize import sanitize_html

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
BIDI = [chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]]


@pytest.mark.parametrize("control", BIDI, ids=[f"U+{ord(c):04X}" for c in BIDI])
def test_sanitised_html_keeps_no_bidirectional_control_written_raw_or_as_a_reference(control):
    raw = f'<p>pay {control}gnp.exe <a href="https://x.example/">li{control}nk</a></p>'
    as_reference = f"<p>pay &#x{ord(control):x};gnp.exe &#{ord(control)};</p>"
    for html in (sanitize_html(raw), sanitize_html(as_reference)):
        assert control not in html and "gnp.exe" in html


def test_emoji_joined_by_zero_width_joiners_survive_the_sanitiser():
    health_worker = "\U0001f469\U0001f3fd\u200d\u2695\ufe0f"
    assert health_worker in sanitize_html(f"<p>{health_worker}</p>")


def test_a_feed_entry_stores_no_bidirectional_controls_in_name_title_or_html():
    feed = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>B\u202elog</title>
<link>https://b.example/</link>
<item><guid>https://b.example/1</guid><link>https://b.example/1</link>
<title>#NHSCitizen \u2067evil\u2069 title</title><dc:creator>Ann\u202e Author</dc:creator>
<description><![CDATA[<p>I pledged \u202etxt.exe <a href="https://www.nhscitizen.org.uk/pledge">here</a></p>]]>
</description></item></channel></rss>""".encode()
    [entry] = parse_feed(feed, {}, feed_url="https://b.example/feed", fetched_at=NOW).entries
    stored = [entry.title, entry.text, entry.html, entry.author.display_name]
    assert all(s and not any(c in s for c in BIDI) for s in stored), stored


def _padded_bomb(padding: int) -> str:
    return (
        '<?xml version="1.0"?>\n'
        f"<!-- {'x' * padding} -->\n"
        '<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<rss version="2.0"><channel><title>&b;</title><item><link>https://x.example/1</link>'
        "<title>#NHSCitizen &b;</title></item></channel></rss>"
    )


def test_a_feed_declaring_entities_after_64_kib_of_comment_is_refused():
    bomb = _padded_bomb(70_000).encode()
    parsed = parse_feed(bomb, {}, feed_url="https://x.example/feed", fetched_at=NOW)
    assert parsed.entries == [] and "XML bomb" in (parsed.problem or "")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_feed_declaring_entities_in_utf16_or_utf32_is_refused(encoding):
    bomb = _padded_bomb(10).replace('version="1.0"', f'version="1.0" encoding="{encoding}"')
    parsed = parse_feed(
        bomb.encode(encoding), {}, feed_url="https://x.example/feed", fetched_at=NOW
    )
    assert parsed.entries == [] and "XML bomb" in (parsed.problem or "")
