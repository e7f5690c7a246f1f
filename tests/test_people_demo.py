"""Issue 20's "done when" on the demo store: people on two and three platforms share one
person_id in the exported accounts, the impersonator (a one-way claim) does not, and
`status` counts people and accounts."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime

from typer.testing import CliRunner

from groundswell.cli import app
from groundswell.demo import load_demo
from groundswell.demo.cast import NHS_CITIZEN_SITE, THREE_PLATFORM_BLOG
from groundswell.export import ExportOptions, export_dataset
from storage.status import store_counts

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _accounts(engine, tmp_path) -> list[dict[str, str]]:
    export_dataset(
        engine,
        tmp_path / "out",
        options=ExportOptions(formats=("csv",), datasets=("accounts",), network=("graphml",)),
    )
    with (tmp_path / "out" / "accounts.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_demos_people_share_a_person_id_across_platforms_and_the_impersonator_does_not(
    sqlite_store, tmp_path
):
    load_demo(sqlite_store, seed=3, mentions=1500, now=NOW)
    rows = _accounts(sqlite_store, tmp_path)
    by_handle = {r["handle"]: r for r in rows}

    nhs = [r for r in rows if r["display_name"] == "NHS Citizen"]
    assert {r["platform"] for r in nhs} == {"bluesky", "mastodon"}
    assert by_handle[NHS_CITIZEN_SITE]["platform"] == "bluesky"  # its domain handle
    assert len({r["person_id"] for r in nhs}) == 1

    three = [r for r in rows if THREE_PLATFORM_BLOG in (r["handle"], r["account"])]
    three += [
        r
        for r in rows
        if r["platform"] == "mastodon" and r["person_id"] in {x["person_id"] for x in three}
    ]
    assert {r["platform"] for r in three} == {"blog", "bluesky", "mastodon"}
    assert len({r["person_id"] for r in three}) == 1

    # the network file's nodes carry the same person
    import networkx as nx

    graph = nx.read_graphml(tmp_path / "out" / "network.graphml")
    nodes = {n for n in graph.nodes if graph.nodes[n]["person"] == nhs[0]["person_id"]}
    assert {r["account_id"] for r in nhs} <= nodes

    (impostor,) = [r for r in rows if r["display_name"].endswith("| NHS Citizen updates")]
    assert impostor["person_id"] == impostor["account_id"]
    assert impostor["person_id"] != nhs[0]["person_id"]

    people = {r["person_id"] for r in rows}
    assert len(people) < len(rows)
    with sqlite_store.connect() as conn:
        counts = store_counts(conn)
    assert counts["people"] < counts["accounts"]

    url = sqlite_store.url.render_as_string(hide_password=False)
    status = CliRunner().invoke(app, ["status", "--db", url, "--json"])
    assert status.exit_code == 0, status.output
    reported = json.loads(status.stdout)["counts"]
    assert (reported["people"], reported["accounts"]) == (counts["people"], counts["accounts"])
    # the background pass finds nothing the write path missed, and says so
    linked = CliRunner().invoke(app, ["people", "link", "--db", url, "--pages", "0", "--json"])
    assert linked.exit_code == 0, linked.output
    report = json.loads(linked.stdout)
    assert report["people"] == counts["people"] and report["accounts_moved"] == 0
