"""`recheck` and `hydrate` for statuses of every URI shape: asked on a configured instance where
each was seen, by its id there (else by a search for its URI), so a deletion becomes a
tombstone within one re-check whatever server software published the status."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from groundswell.export.hydrate import hydrate
from groundswell.export.lookup import Lookups
from groundswell.export.recheck import recheck
from net.fetcher import FetchPolicy
from tests.mastodon_support import rows, runner_for, scalar, settings_for
from tests.servers.cassette_server import replaying
from tests.servers.mastodon_server import MastodonServer, make_account, make_status, running

LOOPBACK = FetchPolicy(allow_loopback=True, timeout_s=5)
NOW = datetime.now(UTC)

# One status URI per server software (none of them names the id alpha.test's API takes).
SHAPES = {
    "mastodon-4.4": ("masto.test", "https://masto.test/ap/users/1101/statuses/117020585505579935"),
    "pleroma-akkoma": ("akkoma.test", "https://akkoma.test/objects/2b6d9f1e-8c1a-4d7e-9b1f-3a2c"),
    "gotosocial": ("gts.test", "https://gts.test/users/kim/statuses/01HQ7Z8X4C4S5Z4G8F3T6V2N9P"),
    "misskey": ("misskey.test", "https://misskey.test/notes/9o3x1y2z3a"),
}


@pytest.fixture
def alpha() -> Iterator[MastodonServer]:
    with running(MastodonServer("alpha.test", seq_salt=10)) as (a,):
        yield a


def carry(server: MastodonServer, origin: str, uri: str, n: int = 1) -> dict:
    """A status from `origin` (its own URI shape) as the configured instance carries it."""
    status = make_status(
        origin, "kim", n, created_at=NOW - timedelta(hours=n), account=make_account("kim", origin)
    )
    status["uri"] = uri
    return server.carry(status, origin=origin)


def lookups_for(*servers: MastodonServer) -> Lookups:
    return Lookups(policy=LOOPBACK, mastodon_instances=[(s.base_url, None) for s in servers])


def deleted_at(engine, uri: str):
    return scalar(engine, "SELECT deleted_at FROM mention WHERE native_id = :u", u=uri)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_status_deleted_since_is_tombstoned_whatever_its_uri_shape(sqlite_store, alpha, shape):
    origin, uri = SHAPES[shape]
    carry(alpha, origin, uri)
    runner, _ = runner_for(sqlite_store, settings_for(alpha))
    runner.run_once()
    alpha.delete(uri)
    report = recheck(sqlite_store, lookups_for(alpha), since=NOW - timedelta(days=2))
    assert (report.checked, report.tombstoned, report.errors) == (1, 1, 0), report.problems
    assert deleted_at(sqlite_store, uri) is not None
    [asked] = [r for r in alpha.requests if r.path.startswith("/api/v1/statuses/")]
    assert asked.status == 404  # by its id on alpha.test, in one re-check


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_status_still_there_is_checked_and_kept_whatever_its_uri_shape(
    sqlite_store, alpha, shape
):
    origin, uri = SHAPES[shape]
    carry(alpha, origin, uri)
    runner, _ = runner_for(sqlite_store, settings_for(alpha))
    runner.run_once()
    report = recheck(sqlite_store, lookups_for(alpha), since=NOW - timedelta(days=2))
    assert (report.checked, report.tombstoned, report.errors, report.unsupported) == (1, 0, 0, 0)
    assert deleted_at(sqlite_store, uri) is None


def test_a_sighting_without_its_local_id_is_found_by_a_search_for_its_uri(sqlite_store, alpha):
    _, uri = SHAPES["pleroma-akkoma"]
    carry(alpha, "akkoma.test", uri)
    runner, _ = runner_for(sqlite_store, settings_for(alpha))
    runner.run_once()
    with sqlite_store.begin() as conn:  # as stored before local ids were kept
        from sqlalchemy import text

        conn.execute(text("UPDATE mention_seen SET local_id = NULL"))
    report = recheck(sqlite_store, lookups_for(alpha), since=NOW - timedelta(days=2))
    assert (report.checked, report.tombstoned, report.errors) == (1, 0, 0)
    assert [r.query["q"] for r in alpha.requests_to("/api/v2/search")] == [[uri]]


def test_the_local_id_of_each_instance_is_stored_with_the_sighting(sqlite_store, alpha):
    _, uri = SHAPES["misskey"]
    local = carry(alpha, "misskey.test", uri)
    runner, _ = runner_for(sqlite_store, settings_for(alpha))
    runner.run_once()
    [seen] = rows(sqlite_store, "SELECT seen_on, local_id FROM mention_seen")
    assert (seen.seen_on, seen.local_id) == ("alpha.test", local["id"])


def test_a_status_no_configured_instance_carried_says_why_it_was_not_checked(sqlite_store):
    with running(MastodonServer("alpha.test")) as (a,):
        _, uri = SHAPES["misskey"]
        carry(a, "misskey.test", uri)
        runner, _ = runner_for(sqlite_store, settings_for(a))
        runner.run_once()
    report = recheck(sqlite_store, Lookups(policy=LOOPBACK), since=NOW - timedelta(days=2))
    assert report.tombstoned == 0
    [problem] = report.problems
    assert "seen on alpha.test, which is not a configured [mastodon] instance" in problem
    assert "Misskey-family note URI names no id" in problem
    assert "unsupported" not in problem


def test_hydrate_finds_a_pleroma_status_through_a_configured_instance(tmp_path, alpha):
    _, uri = SHAPES["pleroma-akkoma"]
    carry(alpha, "akkoma.test", uri)
    ids = tmp_path / "ids.csv"
    ids.write_text(f"mastodon,{uri}\n")
    report = hydrate(ids, tmp_path / "out.jsonl", lookups_for(alpha))
    assert (report.hydrated, report.unsupported, report.errors) == (1, 0, 0), report.problems
    assert uri in (tmp_path / "out.jsonl").read_text()


def test_a_recorded_404_from_the_instance_where_a_status_was_seen_is_a_deletion():
    # Mastodon.py's cassette: a real Mastodon 4.x answering GET /api/v1/statuses/0 with 404.
    with replaying("test_status_missing") as server:
        lookups = Lookups(policy=LOOPBACK, instance_urls={"localhost:3000": server.base_url})
        uri = "http://localhost:3000/ap/users/117020566092212359/statuses/0"
        found = lookups.mastodon(uri, [("localhost:3000", "0")])
        assert (found.state, found.detail) == ("deleted", "404 from localhost:3000 (id 0)")


def test_hydrate_with_the_store_asks_where_it_saw_each_status_by_its_id_there(
    sqlite_store, tmp_path, alpha
):
    from storage.queries.sightings import sightings

    _, uri = SHAPES["misskey"]
    local = carry(alpha, "misskey.test", uri)
    runner, _ = runner_for(sqlite_store, settings_for(alpha))
    runner.run_once()
    alpha.delete(uri)
    ids = tmp_path / "ids.csv"
    ids.write_text(f"mastodon,{uri}\n")

    def seen_in_store(platform: str, natives: list[str]):
        with sqlite_store.connect() as conn:
            return sightings(conn, platform, natives)

    report = hydrate(ids, tmp_path / "out.jsonl", lookups_for(alpha), store_sightings=seen_in_store)
    assert (report.hydrated, report.deleted, report.errors) == (0, 1, 0)
    assert [r.path for r in alpha.requests_to("/api/v1/statuses/")] == [
        f"/api/v1/statuses/{local['id']}"
    ]


def test_a_status_asked_on_its_origin_resolves_the_origin_once(monkeypatch):
    """DESIGN.md 8: the re-check's look-ups leave the address check to the connection (the
    guarded session), which resolves once and connects to what it checked. A resolver that
    answers a refused address the second time is asked once, and the origin is reached."""
    import socket

    from tests.test_net import RebindingResolver

    resolver = RebindingResolver("rebind.test", "127.0.0.1", "10.0.0.1")
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    with running(MastodonServer("rebind.test")) as (origin,):
        base = origin.base_url.replace("127.0.0.1", "rebind.test")
        with Lookups(policy=LOOPBACK) as lookups:
            found = lookups.mastodon(f"{base}/users/kim/statuses/404404")
    assert found.state == "deleted" and "404" in found.detail  # the origin answered
    assert resolver.lookups == 1
