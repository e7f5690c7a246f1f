"""Untrusted HTML is made inert; likely personal data is masked only when it looks like it."""

from __future__ import annotations

from domain.pii import mask_personal_data, nhs_number_valid
from domain.sanitize import clean_text, html_to_text, sanitize_html


def test_scripts_and_event_handlers_are_removed():
    out = sanitize_html('<p onclick="x()">hi<script>alert(1)</script><img src=x onerror=y></p>')
    assert (
        "script" not in out and "onclick" not in out and "onerror" not in out and "<img" not in out
    )
    assert "hi" in out


def test_javascript_links_lose_their_href():
    assert "javascript" not in sanitize_html('<a href="javascript:alert(1)">x</a>')


def test_links_are_marked_ugc_nofollow():
    assert 'rel="nofollow noopener noreferrer ugc"' in sanitize_html(
        '<a href="https://a.example">a</a>'
    )


def test_html_to_text_keeps_paragraph_breaks_and_decodes_entities():
    assert html_to_text("<p>One &amp; two</p><p>three</p>") == "One & two\nthree"


def test_bidi_overrides_and_zero_width_characters_are_stripped():
    assert clean_text("abc\u202edef\u200bghi") == "abcdefghi"


def test_a_valid_nhs_number_is_masked_and_a_random_one_is_not():
    assert nhs_number_valid("9434765919")
    assert mask_personal_data("my number 943 476 5919 ok") == "my number [NHS number] ok"
    assert "1234567890" in mask_personal_data("order 1234567890")


def test_email_phone_and_postcode_are_masked():
    out = mask_personal_data("mail jo@example.org or call 07700 900123, at B1 1BB")
    assert out == "mail [email] or call [phone], at [postcode]"


def test_emoji_joined_by_zero_width_joiners_stay_whole():
    health_worker = "\U0001f469\U0001f3fd\u200d\u2695\ufe0f"
    assert clean_text(f"Thank you {health_worker}!") == f"Thank you {health_worker}!"


def test_subdivision_flags_keep_their_tag_characters():
    scotland = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
    assert clean_text(f"From {scotland} with love") == f"From {scotland} with love"


def test_a_zero_width_joiner_between_letters_is_still_stripped():
    assert clean_text("NHS\u200dCitizen") == "NHSCitizen"


def test_tag_characters_outside_a_flag_are_stripped():
    assert clean_text("hid\U000e0041den") == "hidden"
