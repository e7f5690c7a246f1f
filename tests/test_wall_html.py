"""The wall's markup: readable from the back of the room, and inert whatever a post contains."""

from __future__ import annotations

import pytest

from dashboard.wall_html import CONTRAST_PAIRS, card_html, contrast_ratio, header_html
from groundswell.moderation import Card, Image


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


def test_the_header_escapes_the_configured_texts():
    html = header_html("<i>T</i>", "#<b>tag</b>", "<u>post</u>", [("people", 3)])
    assert "<i>" not in html and "<b>tag" not in html and "<u>" not in html
    assert "#&lt;b&gt;tag&lt;/b&gt;" in html
