"""The amplification network for Gephi: GEXF and GraphML via networkx.

Nodes are accounts (platform, counts inside the filter, first seen); a directed edge
A -> B means A amplified B's posts, weighted by how often, with the kinds and the first time.
The edges are aggregated in SQL (one row per pair and kind), so the graph held in memory grows
with the number of distinct account pairs, not with the number of mentions. Opted-out accounts
are not nodes: edges touching them are already withheld by the query.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import networkx as nx
from sqlalchemy import Connection, select

from groundswell.export.rows import RowShaper
from storage.models import Account
from storage.queries import export as q
from storage.queries.ethics import account_opted_out, func_coalesce


def build_graph(conn: Connection, r: q.Resolved, shaper: RowShaper) -> nx.DiGraph:
    g = nx.DiGraph()
    pseudo = shaper.options.pseudonymised

    def node_id(account_id: int) -> str:
        return str(shaper.key("account", account_id))

    for chunk in q.iter_accounts(conn, r):
        for a in chunk:
            first = (
                shaper.time(datetime.fromtimestamp(a["first_seen_ts"], UTC))
                if a.get("first_seen_ts")
                else None
            )
            g.add_node(
                node_id(a["id"]),
                label=node_id(a["id"]) if pseudo else (a["handle"] or a["native_id"]),
                platform=a["platform"],
                mentions=int(a["mentions"]),
                amplifications_given=int(a["amplifications_given"]),
                amplifications_received=int(a["amplifications_received"]),
                first_seen=first.isoformat().replace("+00:00", "Z") if first else "",
            )
    pairs: dict[tuple[int, int], dict[str, Any]] = {}
    for row in q.iter_network_edges(conn, r):
        key = (row.source_account_id, row.target_account_id)
        agg = pairs.setdefault(
            key, {"weight": 0, "kinds": {}, "platform": row.platform, "first_ts": row.first_ts}
        )
        agg["weight"] += int(row.n)
        agg["kinds"][row.kind] = agg["kinds"].get(row.kind, 0) + int(row.n)
        agg["first_ts"] = min(agg["first_ts"], row.first_ts)
    missing = {i for pair in pairs for i in pair if node_id(i) not in g}
    allowed = _add_missing_nodes(conn, g, missing, r, shaper) if missing else set()
    for (src, dst), agg in pairs.items():
        if (src in missing and src not in allowed) or (dst in missing and dst not in allowed):
            continue
        first_ts = agg["first_ts"]
        first = shaper.time(datetime.fromtimestamp(first_ts, UTC)) if first_ts else None
        g.add_edge(
            node_id(src),
            node_id(dst),
            weight=agg["weight"],
            kinds=";".join(f"{k}:{n}" for k, n in sorted(agg["kinds"].items())),
            platform=agg["platform"],
            first_seen=first.isoformat().replace("+00:00", "Z") if first else "",
        )
    return g


def _add_missing_nodes(
    conn: Connection, g: nx.DiGraph, ids: set[int], r: q.Resolved, shaper: RowShaper
) -> set[int]:
    """Authors of amplified posts outside the window: nodes too, unless they opted out."""
    a = Account.__table__  # type: ignore[attr-defined]
    opted = func_coalesce(
        account_opted_out(a, discoverable_false_is_opt_out=r.discoverable_false_is_opt_out)
    )
    allowed: set[int] = set()
    id_list = sorted(ids)
    for i in range(0, len(id_list), 500):
        for row in conn.execute(
            select(a.c.id, a.c.platform, a.c.handle, a.c.native_id, opted.label("out")).where(
                a.c.id.in_(id_list[i : i + 500])
            )
        ):
            if row.out:
                continue
            allowed.add(row.id)
            nid = str(shaper.key("account", row.id))
            g.add_node(
                nid,
                label=nid if shaper.options.pseudonymised else (row.handle or row.native_id),
                platform=row.platform,
                mentions=0,
                amplifications_given=0,
                amplifications_received=0,
                first_seen="",
            )
    return allowed


def write_network(
    conn: Connection, r: q.Resolved, shaper: RowShaper, folder: Path, formats: tuple[str, ...]
) -> dict[str, int]:
    g = build_graph(conn, r, shaper)
    for fmt in formats:
        path = folder / f"network.{fmt}"
        if fmt == "gexf":
            nx.write_gexf(g, path)
        else:
            nx.write_graphml(g, path)
    return {"nodes": g.number_of_nodes(), "edges": g.number_of_edges()}
