"""The wall's moderation and privacy rules, through the real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.records import EdgeRecord, mention_id
from domain.settings.config import WallSettings
from groundswell.wall import effective_settings, pulse_view, validate_changes, wall_cards
from storage.engine import make_engine, write_tx
from storage.queries.wall import record_decision, save_wall_overrides
from storage.write import tombstone, write_batch
from tests.factories import T0, account, batch, mention, movement

NOW = T0 + timedelta(minutes=30)


def _write(store, *posts, edges=()):
    rules = movement(store)
    with write_tx(store) as conn:
        write_batch(conn, batch(*posts, edges=list(edges)), rules, now=NOW)


def _cards(store, **settings):
    with store.connect() as conn:
        return wall_cards(conn, WallSettings(**settings), now=NOW)


def _texts(store, **settings) -> list[str]:
    return [c.text for c in _cards(store, **settings)]


def _decide(store, kind, target, action, active=True, wall="default"):
    with write_tx(store) as conn:
        record_decision(
            conn,
            wall=wall,
            target_kind=kind,
            target=str(target),
            action=action,
            active=active,
            moderator="tester",
        )


def _post(n, text=None, minutes=0, **kw):
    return mention(
        n, text=text or f"post {n} #NHSCitizen", created_at=T0 + timedelta(minutes=minutes), **kw
    )


# --- post- and pre-moderation ---------------------------------------------------------------


def test_post_moderation_shows_new_posts_at_once_newest_first(store):
    _write(store, _post(1, minutes=1), _post(2, minutes=2), _post(3, minutes=3))
    assert _texts(store) == ["post 3 #NHSCitizen", "post 2 #NHSCitizen", "post 1 #NHSCitizen"]


def test_a_hidden_post_leaves_the_wall_and_showing_it_again_brings_it_back(store):
    p = _post(1)
    _write(store, p, _post(2))
    _decide(store, "mention", p.id, "hide")
    assert _texts(store) == ["post 2 #NHSCitizen"]
    _decide(store, "mention", p.id, "approve")
    assert "post 1 #NHSCitizen" in _texts(store)


def test_withdrawing_a_decision_restores_the_default(store):
    p = _post(1)
    _write(store, p)
    _decide(store, "mention", p.id, "hide")
    _decide(store, "mention", p.id, "hide", active=False)
    assert _texts(store) == ["post 1 #NHSCitizen"]


def test_pre_moderation_shows_only_approved_posts(store):
    a, b = _post(1), _post(2)
    _write(store, a, b)
    assert _texts(store, moderation="pre") == []
    _decide(store, "mention", b.id, "approve")
    assert _texts(store, moderation="pre") == ["post 2 #NHSCitizen"]


def test_pinned_posts_come_first_and_unpinning_restores_time_order(store):
    old, new = _post(1, minutes=1), _post(2, minutes=20)
    _write(store, old, new)
    _decide(store, "mention", old.id, "pin")
    cards = _cards(store)
    assert [c.text for c in cards] == ["post 1 #NHSCitizen", "post 2 #NHSCitizen"]
    assert cards[0].pinned and not cards[1].pinned
    _decide(store, "mention", old.id, "approve")
    assert _texts(store) == ["post 2 #NHSCitizen", "post 1 #NHSCitizen"]


def test_a_pinned_post_older_than_the_wall_still_shows_first(store):
    posts = [_post(i, minutes=i) for i in range(1, 8)]
    _write(store, *posts)
    _decide(store, "mention", posts[0].id, "pin")
    assert _texts(store, max_cards=3) == [
        "post 1 #NHSCitizen",
        "post 7 #NHSCitizen",
        "post 6 #NHSCitizen",
    ]


def test_a_pinned_post_is_shown_in_pre_moderation(store):
    p = _post(1)
    _write(store, p, _post(2))
    _decide(store, "mention", p.id, "pin")
    assert _texts(store, moderation="pre") == ["post 1 #NHSCitizen"]


def test_decisions_are_shared_by_every_moderator_and_survive_a_restart(store):
    p = _post(1)
    _write(store, p, _post(2))
    _decide(store, "mention", p.id, "hide")
    other_laptop = make_engine(store.url.render_as_string(hide_password=False))
    try:
        assert _texts(other_laptop) == ["post 2 #NHSCitizen"]
    finally:
        other_laptop.dispose()


def test_walls_keep_their_own_decisions(store):
    p = _post(1)
    _write(store, p)
    _decide(store, "mention", p.id, "hide", wall="hall-b")
    assert _texts(store) == ["post 1 #NHSCitizen"]
    assert _texts(store, id="hall-b") == []


# --- hiding authors, instances, blogs -------------------------------------------------------


def test_hiding_an_author_hides_all_their_posts(store):
    troll = account(3, display_name="Troll")
    _write(store, _post(1, author=troll), _post(2, author=troll, minutes=1), _post(4))
    _decide(store, "account", troll.id, "hide")
    assert _texts(store) == ["post 4 #NHSCitizen"]


def test_hiding_an_instance_hides_its_posts(store):
    _write(store, _post(1, instance="spam.example"), _post(2, instance="good.example"))
    _decide(store, "instance", "SPAM.example", "hide")
    assert _texts(store) == ["post 2 #NHSCitizen"]


def test_hiding_a_blog_hides_its_entries(store):
    blog = account(9, platform="blog")
    blog.native_id = "rant.example"
    entry = mention(
        5, platform="blog", author=blog, text="Entry #NHSCitizen", instance="rant.example"
    )
    entry.native_id = "https://rant.example/entry"
    _write(store, entry, _post(2))
    _decide(store, "blog", "rant.example", "hide")
    assert _texts(store) == ["post 2 #NHSCitizen"]


# --- word blocklists ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "kw"),
    [
        ("text", {"text": "this is badword #NHSCitizen"}),
        ("title", {"title": "A badword title"}),
        ("content warning", {"spoiler_text": "cw badword"}),
        (
            "image alt text",
            {
                "media": [
                    {
                        "type": "image",
                        "url": "https://x.example/a.png",
                        "description": "a BADWORD sign",
                    }
                ]
            },
        ),
        (
            "bluesky alt text",
            {
                "media": [
                    {"type": "image", "url": "https://x.example/a.png", "alt": "a badword sign"}
                ]
            },
        ),
    ],
)
def test_a_blocked_word_in_any_post_field_keeps_the_post_off_the_wall(store, field, kw):
    _write(store, _post(1, **kw), _post(2, text="fine #NHSCitizen"))
    _decide(store, "word", "badword", "block")
    assert _texts(store) == ["fine #NHSCitizen"], field


@pytest.mark.parametrize(
    "author_kw", [{"display_name": "Mr Badword"}, {"handle": "badword@example.social"}]
)
def test_a_blocked_word_in_the_authors_name_or_handle_keeps_the_post_off(store, author_kw):
    _write(store, _post(1, author=account(3, **author_kw)), _post(2, text="fine #NHSCitizen"))
    _decide(store, "word", "badword", "block")
    assert _texts(store) == ["fine #NHSCitizen"]


def test_words_from_the_config_are_blocked_too(store):
    _write(store, _post(1, text="badword #NHSCitizen"), _post(2, text="fine #NHSCitizen"))
    assert _texts(store, blocklist=["BadWord"]) == ["fine #NHSCitizen"]


def test_blocklist_matches_whole_words_case_and_invisible_characters_aside(store):
    _write(
        store,
        _post(1, text="a classic #NHSCitizen", minutes=1),
        _post(2, text="an A\u200bSS here #NHSCitizen", minutes=2),
        _post(3, text="ａｓｓ fullwidth #NHSCitizen", minutes=3),
        _post(4, text="spammers #NHSCitizen", minutes=4),
    )
    _decide(store, "word", "ass", "block")
    _decide(store, "word", "spam*", "block")
    assert _texts(store) == ["a classic #NHSCitizen"]


def test_a_word_blocked_later_removes_an_already_approved_post(store):
    p = _post(1, text="badword #NHSCitizen")
    _write(store, p)
    _decide(store, "mention", p.id, "approve")
    _decide(store, "word", "badword", "block")
    assert _texts(store, moderation="pre") == []


def test_unblocking_a_word_restores_its_posts(store):
    _write(store, _post(1, text="badword #NHSCitizen"))
    _decide(store, "word", "badword", "block")
    _decide(store, "word", "badword", "block", active=False)
    assert _texts(store) == ["badword #NHSCitizen"]


def test_the_wall_fills_up_even_when_many_recent_posts_are_blocked(store):
    posts = [_post(i, text=f"badword {i} #NHSCitizen", minutes=100 + i) for i in range(80)]
    posts += [_post(200 + i, text=f"ok {i} #NHSCitizen", minutes=i) for i in range(5)]
    _write(store, *posts)
    _decide(store, "word", "badword", "block")
    assert len(_texts(store, max_cards=5)) == 5


# --- opt-outs, deletions --------------------------------------------------------------------


@pytest.mark.parametrize(
    "flags", [{"noindex": True}, {"discoverable": False}, {"no_unauthenticated": True}]
)
def test_opted_out_accounts_never_appear_even_when_pinned(store, flags):
    p = _post(1, author=account(3, **flags))
    _write(store, p, _post(2))
    _decide(store, "mention", p.id, "pin")
    assert _texts(store) == ["post 2 #NHSCitizen"]
    assert _texts(store, moderation="pre") == []


def test_deleted_posts_leave_the_wall(store):
    p = _post(1)
    _write(store, p, _post(2))
    with write_tx(store) as conn:
        tombstone(conn, [(p.platform, p.native_id)], NOW)
    assert _texts(store) == ["post 2 #NHSCitizen"]


# --- privacy on display ---------------------------------------------------------------------


def test_first_names_only_hides_surnames_and_handles_except_public_figures(store):
    _write(
        store,
        _post(1, author=account(1, display_name="Ada Lovelace :nhs:"), minutes=1),
        _post(
            2,
            author=account(2, display_name="Health Minister", handle="minister@gov.example"),
            minutes=2,
        ),
    )
    cards = _cards(store, first_names_only=True, public_figures=["@Minister@gov.example"])
    by_name = {c.name: c for c in cards}
    assert set(by_name) == {"Ada", "Health Minister"}
    assert by_name["Ada"].handle is None
    assert by_name["Health Minister"].handle == "@minister@gov.example"


def test_no_handles_mode_keeps_full_names_but_drops_handles(store):
    _write(store, _post(1, author=account(1, display_name="Ada Lovelace")))
    (card,) = _cards(store, show_handles=False)
    assert (card.name, card.handle) == ("Ada Lovelace", None)


def test_handles_are_shown_by_default(store):
    _write(store, _post(1, author=account(1, display_name="Ada Lovelace")))
    (card,) = _cards(store)
    assert card.handle == "@user1@example.social"


def test_personal_data_in_text_is_masked_when_the_setting_is_on(store):
    text = "Call me on 07700 900123 or ada@example.org #NHSCitizen"
    _write(store, _post(1, text=text))
    (masked,) = _cards(store)
    assert "07700" not in masked.text and "ada@example.org" not in masked.text
    assert "[phone]" in masked.text and "[email]" in masked.text
    (plain,) = _cards(store, mask_personal_data=False)
    assert plain.text == text


def test_a_content_warning_is_shown_instead_of_the_text_and_images(store):
    img = [{"type": "image", "url": "https://x.example/a.png", "description": "photo"}]
    _write(store, _post(1, spoiler_text="Hospital stay", media=img))
    (card,) = _cards(store)
    assert card.warning == "Hospital stay"
    assert card.text == "" and card.images == ()


def test_images_of_sensitive_posts_are_not_shown(store):
    img = [{"type": "image", "url": "https://x.example/a.png", "description": "photo"}]
    _write(store, _post(1, media=img, sensitive=True, minutes=1), _post(2, media=img, minutes=2))
    cards = _cards(store)
    assert [len(c.images) for c in cards] == [1, 0]


def test_image_urls_that_are_not_http_are_dropped(store):
    media = [{"type": "image", "url": "javascript:alert(1)"}, {"type": "image", "url": "x.png"}]
    _write(store, _post(1, media=media))
    (card,) = _cards(store)
    assert card.images == ()


# --- settings shared through the store ------------------------------------------------------


def test_moderators_settings_override_the_config_for_every_reader(store):
    base = WallSettings(title="From config")
    with write_tx(store) as conn:
        changes = validate_changes(base, {"moderation": "pre", "title": "Assembly 2026"})
        save_wall_overrides(conn, base.id, changes, moderator="tester")
    with store.connect() as conn:
        eff = effective_settings(conn, base)
    assert (eff.moderation, eff.title) == ("pre", "Assembly 2026")


def test_invalid_setting_changes_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="pattern"):
        validate_changes(WallSettings(), {"moderation": "sometimes"})
    with pytest.raises(ValueError, match="not editable"):
        validate_changes(WallSettings(), {"id": "other"})


# --- pulse ----------------------------------------------------------------------------------


def test_pulse_counts_the_last_ten_minutes_voices_and_places(store):
    a, b = account(1), account(2)
    _write(
        store,
        _post(1, author=a, minutes=5, instance="one.example"),
        _post(2, author=b, minutes=25, instance="two.example"),
        _post(3, author=a, minutes=27, instance="two.example"),
        mention(4, platform="bluesky", created_at=T0 + timedelta(minutes=28)),
    )
    with store.connect() as conn:
        view = pulse_view(conn, WallSettings(), now=NOW)
    f = view.figures
    assert (f.mentions_10m, f.mentions_today) == (3, 4)
    assert f.people_today == 3 and f.new_voices_today == 3
    assert dict(f.platforms_today) == {"mastodon": 3, "bluesky": 1}
    assert f.top_instances[0] == ("two.example", 2)
    assert sum(n for _, _, n in view.volume) == 4


def test_top_amplifiers_leave_out_opted_out_accounts(store):
    target = _post(1)
    loud, shy = account(5, display_name="Loud"), account(6, display_name="Shy", noindex=True)
    edges = [
        EdgeRecord(
            "boost", "mastodon", src, (target.platform, target.native_id), T0 + timedelta(minutes=m)
        )
        for src, m in ((loud, 1), (shy, 2), (shy, 3))
    ]
    _write(store, target, edges=edges)
    with store.connect() as conn:
        view = pulse_view(conn, WallSettings(), now=NOW)
    assert [(name, n) for name, _, _, n in view.amplifiers] == [("Loud", 1)]
    assert mention_id(target.platform, target.native_id) == target.id


def test_the_wall_fingerprint_changes_with_a_new_post_a_decision_or_a_setting(store):
    from storage.queries.wall import wall_version

    def version():
        with store.connect() as conn:
            return wall_version(conn, "default", since_ts=int(T0.timestamp()) - 3600)

    p = _post(1)
    _write(store, p)
    v1 = version()
    assert version() == v1
    _write(store, _post(2, minutes=-5))  # an older post arriving late still counts
    v2 = version()
    assert v2 != v1
    _decide(store, "mention", p.id, "hide")
    v3 = version()
    assert v3 != v2
    with write_tx(store) as conn:
        save_wall_overrides(conn, "default", {"title": "New"})
    assert version() != v3


def test_bluesky_handles_read_as_at_handles_and_blogs_do_not_repeat_their_host():
    from domain.moderation import Privacy, WallPost, present

    ts = int(NOW.timestamp())
    sky = WallPost(id=1, platform="bluesky", created_ts=ts, handle="mary.bsky.social")
    blog = WallPost(
        id=2, platform="blog", created_ts=ts, handle="blog.example", instance="blog.example"
    )
    assert present(sky, Privacy(), NOW).handle == "@mary.bsky.social"
    card = present(blog, Privacy(), NOW)
    assert (card.handle, card.where) == (None, "blog.example")


def test_a_wall_following_one_movement_shows_only_that_movements_posts(store):
    rules = movement(store)
    movement(
        store, slug="changeday", name="NHS Change Day", hashtags=["NHSChangeDay"], terms=[], urls=[]
    )
    from storage.catalog import load_rules

    with store.connect() as conn:
        rules = load_rules(conn)
    posts = [
        _post(1, text="citizen #NHSCitizen", minutes=1),
        _post(2, text="change #NHSChangeDay", minutes=2, hashtags=["NHSChangeDay"]),
    ]
    posts[0].hashtags = ["NHSCitizen"]
    with write_tx(store) as conn:
        write_batch(conn, batch(*posts), rules, now=NOW)
    assert _texts(store, movement="changeday") == ["change #NHSChangeDay"]
    assert _texts(store, movement="nhscitizen") == ["citizen #NHSCitizen"]
    with store.connect() as conn:
        view = pulse_view(conn, WallSettings(movement="changeday"), now=NOW)
    assert view.figures.mentions_today == 1


def test_new_voices_on_an_all_movements_wall_count_only_people_new_to_every_movement(store):
    from storage.queries.wall import new_voices

    movement(store)
    movement(
        store, slug="changeday", name="NHS Change Day", hashtags=["NHSChangeDay"], terms=[], urls=[]
    )
    from storage.catalog import load_rules

    with store.connect() as conn:
        rules = load_rules(conn)
    old_hand, newcomer = account(1), account(2)
    yesterday = T0 - timedelta(days=1)
    posts = [
        mention(1, author=old_hand, created_at=yesterday, text="x #NHSCitizen"),
        mention(
            2, author=old_hand, created_at=T0, text="y #NHSChangeDay", hashtags=["NHSChangeDay"]
        ),
        mention(
            3, author=newcomer, created_at=T0, text="z #NHSChangeDay", hashtags=["NHSChangeDay"]
        ),
    ]
    with write_tx(store) as conn:
        write_batch(conn, batch(*posts), rules, now=NOW)
    start = int(T0.timestamp()) - 60
    with store.connect() as conn:
        change_day = next(r.id for r in rules if r.slug == "changeday")
        assert new_voices(conn, movement_id=None, since_ts=start) == 1
        assert new_voices(conn, movement_id=change_day, since_ts=start) == 2


def test_a_wall_naming_an_unknown_movement_is_a_config_error():
    from domain.settings.config import ConfigError, parse_settings

    movements = [{"slug": "nhscitizen", "name": "NHS Citizen", "hashtags": ["NHSCitizen"]}]
    with pytest.raises(ConfigError, match=r"wall\.movement 'nhscitizn' names no movement"):
        parse_settings({"movements": movements, "wall": {"movement": "nhscitizn"}})
    assert parse_settings({"wall": {"movement": "nhscitizen"}}).wall.movement == "nhscitizen"
