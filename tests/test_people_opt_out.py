"""An opt-out on any account of a person covers the person (DESIGN.md section 2, "Person"):
the wall and the exports leave out the person's other accounts too, on both stores."""

from __future__ import annotations

from datetime import timedelta

from domain.people import MASTODON_VERIFIED_FIELD, STRONG, Claim
from domain.records import AccountRecord
from domain.settings.config import WallSettings
from groundswell.export import ExportOptions, export_dataset
from groundswell.wall import wall_cards
from storage.engine import write_tx
from storage.write import write_batch
from tests.factories import T0, batch, mention, movement

NOW = T0 + timedelta(minutes=30)
SITE = "https://nurse-ada.example.org/"
BSKY_TEXT = "Carried it over to Bluesky too #NHSCitizen"


def _accounts(linked: bool) -> tuple[AccountRecord, AccountRecord]:
    claims = [Claim("site:nurse-ada.example.org", MASTODON_VERIFIED_FIELD, STRONG, SITE)]
    masto = AccountRecord(
        platform="mastodon",
        native_id="ada@example.social",
        handle="ada@example.social",
        noindex=True,  # opted out of indexing on Mastodon
        claims=claims if linked else [],
    )
    bsky = AccountRecord(
        platform="bluesky",
        native_id="did:plc:ada",
        handle="nurse-ada.example.org",  # her site as her Bluesky handle
    )
    return masto, bsky


def _seed(store, *, linked: bool) -> None:
    rules = movement(store)
    masto, bsky = _accounts(linked)
    posts = [
        mention(1, author=masto, text="Opted out #NHSCitizen", hashtags=["NHSCitizen"]),
        mention(
            2,
            platform="bluesky",
            author=bsky,
            text=BSKY_TEXT,
            hashtags=["NHSCitizen"],
            created_at=T0 + timedelta(minutes=1),
        ),
    ]
    with write_tx(store) as conn:
        write_batch(conn, batch(*posts), rules, now=NOW)


def _wall_texts(store) -> list[str]:
    with store.connect() as conn:
        return [c.text for c in wall_cards(conn, WallSettings(), now=NOW)]


def test_an_opt_out_on_mastodon_keeps_the_same_persons_bluesky_posts_off_the_wall(store):
    _seed(store, linked=True)
    assert _wall_texts(store) == []


def test_an_unlinked_account_is_not_covered_by_someone_elses_opt_out(store):
    _seed(store, linked=False)
    assert _wall_texts(store) == [BSKY_TEXT]


def test_exports_leave_out_every_account_of_a_person_who_opted_out(store, tmp_path):
    _seed(store, linked=True)
    export_dataset(store, tmp_path / "out", options=ExportOptions(formats=("csv", "jsonl")))
    blob = b"\n".join(p.read_bytes() for p in sorted((tmp_path / "out").iterdir()))
    for needle in (BSKY_TEXT, "nurse-ada.example.org", "did:plc:ada", "ada@example.social"):
        assert needle.encode() not in blob, needle
