"""Which sources the `[mastodon]` config asks for."""

from __future__ import annotations

from collectors.mastodon.plugin import source_specs
from domain.settings.config import parse_settings


def settings(**instance):  # type: ignore[no-untyped-def]
    return parse_settings(
        {
            "movements": [{"slug": "nhs", "name": "NHS", "hashtags": ["NHSCitizen", "ChangeDay"]}],
            "mastodon": {"instances": [{"base_url": "https://a.example", **instance}]},
        }
    )


def test_an_instance_without_hashtags_follows_every_movement_hashtag():
    specs = source_specs(settings())
    assert [s.key for s in specs] == [
        "mastodon:a.example:#nhscitizen",
        "mastodon:a.example:#changeday",
    ]
    assert specs[0].target["hashtag"] == "NHSCitizen"


def test_many_hashtags_on_one_instance_are_spread_over_its_paging_budget():
    tags = [f"tag{i}" for i in range(20)]
    specs = source_specs(settings(hashtags=tags, interval_s=5))
    # 20 polls per interval must fit in 300 paging requests per 900 s: at least 60 s apart.
    assert {s.interval_s for s in specs} == {60}
    assert len(specs) * 900 / specs[0].interval_s <= 300


def test_a_longer_configured_interval_is_kept():
    assert {s.interval_s for s in source_specs(settings(interval_s=600))} == {600}


def test_the_target_says_whether_a_token_is_set_but_never_holds_it(monkeypatch):
    monkeypatch.setenv("GS_TEST_PLUGIN_TOKEN", "secret-value")
    [spec, _] = source_specs(settings(token_env="GS_TEST_PLUGIN_TOKEN"))
    assert spec.target["has_token"] is True
    assert "secret-value" not in repr(spec.target)
