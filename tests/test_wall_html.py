"""The wall's markup: readable from the back of the room, and inert whatever a post contains."""

from __future__ import annotations

import re

import pytest

from dashboard.wall_html import (
    CONTRAST_PAIRS,
    card_html,
    contrast_ratio,
    footer_html,
    header_html,
    page_count,
    page_of,
    qr_data_uri,
)
from domain.moderation import Card, Image


def _card(**kw) -> Card:
    base = {
        "id": 1,
        "name": "Ada",
        "handle": "@ada@example.social",
        "platform": "Mastodon",
        "where": "example.social",
        "when": "just now",
        "text": "hello",
        "warning": None,
        "images": (),
    }
    return Card(**{**base, **kw})


def test_contrast_ratio_matches_the_wcag_reference_values():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize("pair", sorted(CONTRAST_PAIRS))
def test_every_colour_pair_on_the_wall_passes_wcag_aa(pair):
    fg, bg = CONTRAST_PAIRS[pair]
    assert contrast_ratio(fg, bg) >= 4.5


def test_the_main_text_passes_wcag_aaa():
    fg, bg = CONTRAST_PAIRS["text on card"]
    assert contrast_ratio(fg, bg) >= 7.0


def test_every_field_of_a_card_is_escaped():
    evil = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    html = card_html(_card(name=evil, handle=evil, where=evil, text=evil, when=evil))
    assert "<script" not in html and "<img" not in html
    assert html.count("&lt;script&gt;") == 5


def test_an_image_url_cannot_break_out_of_its_attribute():
    html = card_html(_card(images=(Image(url='https://x.example/a.png" onload="x', alt='"><b>'),)))
    assert 'onload="x"' not in html and "<b>" not in html


def test_a_content_warning_replaces_the_text_and_the_images():
    html = card_html(
        _card(text="secret", warning="distressing", images=(Image("https://x.example/a", "a"),))
    )
    assert "distressing" in html and "secret" not in html and "<img" not in html


def test_the_header_and_footer_escape_the_configured_texts():
    html = header_html("<i>T</i>", [("people", 3)]) + footer_html("#<b>tag</b>", "<u>post</u>")
    assert "<i>" not in html and "<b>tag" not in html and "<u>" not in html
    assert "#&lt;b&gt;tag&lt;/b&gt;" in html


# --- the stage: pages, the footer, the chart ------------------------------------------------


def test_pages_hold_six_cards_or_four_beside_the_pulse_and_cover_every_card():
    cards = [_card(id=i, pinned=i < 2) for i in range(13)]
    for mode, per in (("cards", 6), ("both", 4)):
        pages = page_count(len(cards), mode)
        shown = [c.id for p in range(pages) for c in page_of(cards, mode, p)]
        assert pages == -(-13 // per) and shown == list(range(13))
        assert [c.id for c in page_of(cards, mode, 0)][:2] == [0, 1]  # pinned first


def test_the_footer_always_carries_the_qr_code_hashtag_and_where_to_post():
    html = footer_html(
        "NHSCitizen", "Post on Mastodon", qr_svg_uri=qr_data_uri("https://bsky.app/hashtag/x")
    )
    assert 'class="gs-qr" src="data:image/svg+xml' in html
    assert "#NHSCitizen" in html and "Post on Mastodon" in html
    assert "gs-pages" not in html  # one page: nothing turns


def test_the_footer_shows_which_page_is_up_and_a_bar_started_where_the_page_is():
    html = footer_html("t", None, page=1, pages=3, page_s=10, elapsed_s=4.0)
    assert "Page 2 of 3" in html
    assert "animation-duration:10s;animation-delay:-4.0s" in html


def test_the_qr_code_points_at_the_hashtags_page():
    from domain.settings.config import WallSettings
    from groundswell.wall import hashtag_page

    assert hashtag_page(WallSettings(hashtag="#NHSCitizen"), []) == (
        "https://bsky.app/hashtag/NHSCitizen"
    )
    assert hashtag_page(WallSettings(hashtag="NHSCitizen"), ["https://mastodon.example/"]) == (
        "https://mastodon.example/tags/NHSCitizen"
    )
    assert hashtag_page(WallSettings(hashtag="x", qr_url="https://nhs.example/j"), []) == (
        "https://nhs.example/j"
    )
    assert hashtag_page(WallSettings(), []) is None


def test_the_volume_chart_has_integer_ticks_and_bars_that_span_their_minute():
    from datetime import UTC, datetime

    from dashboard.figures.wall_pulse import LEFT, RIGHT, W, volume_svg

    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    minute = int(now.timestamp()) - 30 * 60
    svg = volume_svg([(minute, "mastodon", 3), (minute, "bluesky", 2)], now)
    ticks = re.findall(r'text-anchor="end" fill="[^"]+">([\d,.]+)</text>', svg)
    assert ticks == ["0", "2", "4", "6", "8"]  # 5 posts in the busiest minute: whole counts
    xs = [float(x) for x in re.findall(r'<rect x="([\d.]+)"', svg)]
    left_of_minute = LEFT + (W - LEFT - RIGHT) / 2  # 30 of 60 minutes in: the bar starts there
    assert xs == [pytest.approx(left_of_minute, abs=0.1)] * 2
