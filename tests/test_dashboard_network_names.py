"""The amplification network names the accounts a reader looks for, and Bridges shows names
beside handles; opted-out accounts stay anonymous."""

from __future__ import annotations

from dashboard.figures.amplifiers import network_figure
from storage.queries import amplifiers
from tests.factories import account, mention
from tests.test_dashboard_amplifier_queries import _at, _boost, _scope, _write


def test_network_nodes_carry_display_names_but_opted_out_accounts_none(store):
    star = mention(1, author=account(1), created_at=_at(0))
    hidden = mention(2, author=account(9, noindex=True), created_at=_at(0))
    _write(store, star, hidden, edges=[_boost(account(2), star, 1), _boost(account(3), hidden, 1)])
    with store.connect() as conn:
        net = amplifiers.network(conn, _scope(store, 0, 5))
    names = {n["label"]: n["name"] for n in net["nodes"]}
    assert names["user1@example.social"] == "User 1"
    assert names["opted-out account"] is None


def _node(i: int, received: int, **kw) -> dict:
    base = {"id": i, "label": f"user{i}@x.example", "name": f"User {i}", "platform": "mastodon",
            "received": received, "given": 0, "community": 0, "x": i, "y": i}  # fmt: skip
    return {**base, "opted_out": False, **kw}


def test_the_network_chart_labels_its_most_amplified_accounts_and_no_opted_out_one():
    nodes = [_node(i, 100 - i) for i in range(12)]
    nodes.append(_node(99, 1000, label="opted-out account", name=None, opted_out=True))
    fig = network_figure({"nodes": nodes, "edges": [], "bridges": []})
    (labels,) = [t for t in fig.data if t.mode == "text"]
    assert list(labels.text) == [f"User {i}" for i in range(8)]
