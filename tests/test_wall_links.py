"""Links on wall cards read as a person would say them: host and a short path, no tracking."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.moderation import Privacy, WallPost, present
from domain.speakable import speak_links, spoken_url


def test_a_link_reads_as_host_and_path_without_tracking_parameters():
    url = "https://www.nhscitizen.org.uk/pledge?utm_source=bsky&utm_medium=social&fbclid=x"
    assert spoken_url(url) == "nhscitizen.org.uk/pledge"


def test_a_deep_link_keeps_two_short_path_segments():
    url = "https://example.org/news/2026-12-06-a-very-long-headline-for-the-assembly/comments/9"
    assert spoken_url(url) == "example.org/news/2026-12-06-a-very-long-…/…"


def test_a_link_to_a_site_reads_as_its_host_in_its_own_script():
    assert spoken_url("http://xn--bcher-kva.example/") == "bücher.example"


def test_links_inside_text_are_replaced_and_punctuation_after_them_kept():
    text = "Sign it (https://www.nhscitizen.org.uk/pledge?utm_campaign=x). Thanks!"
    assert speak_links(text) == "Sign it (nhscitizen.org.uk/pledge). Thanks!"


def test_text_that_is_not_a_link_is_left_alone():
    assert spoken_url("javascript:alert(1)") == "javascript:alert(1)"
    assert speak_links("no links here: example.org") == "no links here: example.org"


def test_a_wall_card_shows_links_as_spoken():
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    post = WallPost(
        id=1,
        platform="mastodon",
        created_ts=int(now.timestamp()),
        account_id=1,
        account_native_id="ada@mastodon.example",
        handle="ada@mastodon.example",
        display_name="Ada",
        text="Pledge here https://www.nhscitizen.org.uk/pledge?utm_source=masto #NHSCitizen",
    )
    card = present(post, Privacy(), now)
    assert card.text == "Pledge here nhscitizen.org.uk/pledge #NHSCitizen"
