"""`[alerts]` settings: rules, email, webhooks and the digest, with errors naming the key."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from domain.settings.config import ConfigError, parse_settings

ROOT = Path(__file__).resolve().parents[1]
MOVEMENT = {"slug": "nhscitizen", "name": "NHS Citizen", "hashtags": ["NHSCitizen"]}


def _parse(alerts: dict) -> object:
    return parse_settings({"movements": [MOVEMENT], "alerts": alerts}, origin="gs.toml")


def test_a_complete_alerts_table_parses():
    s = _parse(
        {
            "rules": [
                {"name": "spike", "kind": "spike", "movement": "nhscitizen", "lift": 3},
                {"name": "places", "kind": "new_place", "channels": ["team"]},
            ],
            "email": {
                "host": "smtp.example.org",
                "sender": "gs@example.org",
                "to": ["Comms@Example.org"],
                "username_env": "GS_SMTP_USER",
                "password_env": "GS_SMTP_PASSWORD",
            },
            "webhooks": [{"name": "team", "url": "https://hooks.example/x", "format": "slack"}],
            "digest": {"schedule": "daily 08:00 Europe/London"},
        }
    )
    alerts = s.alerts  # type: ignore[attr-defined]
    assert alerts.email.to == ["comms@example.org"]
    assert alerts.rules[0].clear_lift == 2.0  # half way between 1 and the lift
    assert alerts.channel_names(alerts.rules[0]) == ["email", "team"]
    assert alerts.channel_names(alerts.rules[1]) == ["team"]


@pytest.mark.parametrize(
    ("email", "key", "says"),
    [
        ({"port": 465, "security": "starttls"}, "alerts.email", "ssl"),
        ({"port": 70000}, "alerts.email.port", "65535"),
        ({"security": "tls"}, "alerts.email.security", "starttls"),
        ({"sender": "not-an-address"}, "alerts.email.sender", "email address"),
        ({"password": "hunter2"}, "alerts.email.password", "environment variable"),
        ({"password_env": "hunter2", "username_env": "U"}, "alerts.email.password_env", "NAME"),
        ({"host": "smtp.example.org", "security": "none"}, "alerts.email", "unencrypted"),
    ],
)
def test_a_wrong_smtp_setting_is_an_error_naming_the_key(email, key, says):
    base = {"host": "127.0.0.1", "port": 1025, "security": "none", "sender": "a@b.org"}
    base["to"] = ["c@d.org"]
    if "security" not in email and email.get("port") not in (None, 1025):
        base.pop("security")
    with pytest.raises(ConfigError) as err:
        _parse({"email": {**base, **email}})
    message = str(err.value)
    assert f"gs.toml: {key}" in message and says in message, message


def test_a_rule_naming_an_unknown_movement_or_channel_is_refused():
    with pytest.raises(ConfigError, match=r"alerts.rules\[0\].movement 'nope' names no movement"):
        _parse({"rules": [{"name": "s", "kind": "spike", "movement": "nope"}]})
    with pytest.raises(ConfigError, match=r"rules\[0\].channels: 'slack' names no channel"):
        _parse({"rules": [{"name": "s", "kind": "spike", "channels": ["slack"]}]})


def test_a_watched_terms_rule_needs_terms_and_a_spike_clear_lift_below_its_lift():
    with pytest.raises(ConfigError, match="needs terms"):
        _parse({"rules": [{"name": "w", "kind": "watched_terms"}]})
    with pytest.raises(ConfigError, match="clear_lift"):
        _parse({"rules": [{"name": "s", "kind": "spike", "lift": 2, "clear_lift": 2.5}]})


def test_a_bad_digest_schedule_says_how_to_write_one():
    with pytest.raises(ConfigError, match=r"alerts\.digest\.schedule.*daily 08:00"):
        _parse({"digest": {"schedule": "every morning"}})


def test_the_toml_example_in_docs_alerts_works_pasted_after_a_movements_block():
    doc = (ROOT / "docs" / "alerts.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", doc, flags=re.S)
    assert len(blocks) == 1, "docs/alerts.md has exactly one complete toml example"
    movements = (
        '[[movements]]\nslug = "nhscitizen"\nname = "NHS Citizen"\nhashtags = ["NHSCitizen"]\n'
    )
    settings = parse_settings(tomllib.loads(movements + "\n" + blocks[0]), origin="docs")
    alerts = settings.alerts
    assert alerts.email is not None and (alerts.email.host, alerts.email.port) == (
        "127.0.0.1",
        1025,
    )
    assert [w.url for w in alerts.webhooks] == ["http://127.0.0.1:9/hook"]
    assert {r.kind for r in alerts.rules} >= {"spike", "new_place"}
