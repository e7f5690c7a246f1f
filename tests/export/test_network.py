"""The amplification network reads back in networkx (as Gephi would) with its attributes."""

from __future__ import annotations

import networkx as nx
import pytest

from groundswell.export import ExportOptions, export_dataset

READERS = {"gexf": nx.read_gexf, "graphml": nx.read_graphml}


@pytest.mark.parametrize("fmt", ["gexf", "graphml"])
def test_network_round_trips_with_node_and_edge_attributes(store, seeded, tmp_path, fmt):
    summary = export_dataset(
        store, tmp_path / "out", options=ExportOptions(datasets=("accounts",), network=(fmt,))
    )
    g = READERS[fmt](tmp_path / "out" / f"network.{fmt}")
    assert g.is_directed()
    assert g.number_of_nodes() == summary.counts["network"]["nodes"] == 2
    assert g.number_of_edges() == summary.counts["network"]["edges"] == 2
    labels = {d["label"]: d for _, d in g.nodes(data=True)}
    assert set(labels) == {"alice@example.social", "bob.bsky.social"}
    assert labels["alice@example.social"]["platform"] == "mastodon"
    assert int(labels["alice@example.social"]["amplifications_given"]) == 2
    assert labels["alice@example.social"]["first_seen"].startswith("2026-11-02T09:00")
    (alice,) = [n for n, d in g.nodes(data=True) if d["label"] == "alice@example.social"]
    (bob,) = [n for n, d in g.nodes(data=True) if d["label"] == "bob.bsky.social"]
    edge = g.edges[alice, bob]
    assert float(edge["weight"]) == 2
    assert edge["kinds"] == "boost:1;reply:1"
    assert edge["first_seen"].startswith("2026-11-02T12:00")


def test_pseudonymised_network_uses_the_same_ids_as_the_accounts_file(store, seeded, tmp_path):
    import pandas as pd

    export_dataset(
        store,
        tmp_path / "out",
        options=ExportOptions(network=("graphml",), pseudonym_key=b"z" * 32),
    )
    g = nx.read_graphml(tmp_path / "out" / "network.graphml")
    accounts = pd.read_csv(tmp_path / "out" / "accounts.csv", dtype=str)
    assert set(g.nodes) == set(accounts["account_id"])
    assert all(d["label"] == n for n, d in g.nodes(data=True))


@pytest.mark.parametrize("fmt", ["gexf", "graphml"])
def test_hostile_handles_are_escaped_and_read_back_verbatim(store, tmp_path, fmt):
    from domain.records import Batch, EdgeRecord
    from storage.engine import write_tx
    from storage.write import write_batch
    from tests.factories import T0, account, mention, movement

    rules = movement(store)
    evil = account(1, handle='<script>alert("x")</script> & ]]> \u202e')
    fan = account(2, handle="fan@example.social")
    post = mention(1, author=evil)
    edge = EdgeRecord("boost", "mastodon", fan, ("mastodon", post.native_id), T0)
    with write_tx(store) as conn:
        write_batch(conn, Batch(mentions=[post], edges=[edge]), rules)
    export_dataset(store, tmp_path / "out", options=ExportOptions(network=(fmt,)))
    g = READERS[fmt](tmp_path / "out" / f"network.{fmt}")
    labels = {d["label"] for _, d in g.nodes(data=True)}
    assert '<script>alert("x")</script> & ]]> \u202e' in labels
    assert g.number_of_edges() == 1
