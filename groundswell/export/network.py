"""The amplification network for Gephi: GEXF 1.2 and GraphML, streamed.

Nodes are accounts (platform, counts inside the filter, first seen); a directed edge A -> B
means A amplified B's posts, weighted by how often, with the kinds and the first time.

Why not `networkx.write_gexf`: it builds the whole graph and then the whole XML tree in memory;
on the 1M-mention benchmark that took the export from ~250 MB to over 900 MB. Here nodes stream
from the accounts query and edges from an SQL aggregate ordered by (source, target), written
with the standard library's streaming `XMLGenerator` (which does the escaping). Memory holds only
the set of node ids (one int per account), never the graph. The files are read back with
networkx in the tests, as Gephi would read them.

Opted-out accounts are not nodes, and the query already withholds edges touching them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import XMLGenerator

from sqlalchemy import Connection, select

from groundswell import __version__
from groundswell.export.rows import RowShaper
from storage.models import Account
from storage.queries import export as q
from storage.queries.ethics import account_opted_out, func_coalesce

# (name, GEXF type, GraphML type)
NODE_ATTRS = (
    ("platform", "string", "string"),
    # The account's person (docs/people.md): keyed like person_id in the tables.
    ("person", "string", "string"),
    ("mentions", "long", "long"),
    ("amplifications_given", "long", "long"),
    ("amplifications_received", "long", "long"),
    ("first_seen", "string", "string"),
)
EDGE_ATTRS = (
    ("kinds", "string", "string"),
    ("platform", "string", "string"),
    ("first_seen", "string", "string"),
)


class _Writer:
    """One network file; subclasses speak GEXF or GraphML."""

    def __init__(self, fh: IO[str]) -> None:
        self.fh = fh
        self.x = XMLGenerator(fh, encoding="utf-8", short_empty_elements=True)
        self.edges = 0

    def text(self, s: str) -> None:
        self.x.ignorableWhitespace(s)

    def leaf(self, name: str, attrs: dict[str, str]) -> None:
        self.x.startElement(name, attrs)  # type: ignore[arg-type]
        self.x.endElement(name)


class GexfWriter(_Writer):
    def start(self) -> None:
        x = self.x
        x.startDocument()
        x.startElement(
            "gexf",
            {  # type: ignore[arg-type]
                "xmlns": "http://www.gexf.net/1.2draft",
                "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
                "xsi:schemaLocation": "http://www.gexf.net/1.2draft "
                "http://www.gexf.net/1.2draft/gexf.xsd",
                "version": "1.2",
            },
        )
        x.startElement("meta", {"lastmodifieddate": datetime.now(UTC).date().isoformat()})  # type: ignore[arg-type]
        x.startElement("creator", {})  # type: ignore[arg-type]
        x.characters(f"Groundswell {__version__}")
        x.endElement("creator")
        x.endElement("meta")
        x.startElement("graph", {"defaultedgetype": "directed", "mode": "static"})  # type: ignore[arg-type]
        for cls, attrs, offset in (("node", NODE_ATTRS, 0), ("edge", EDGE_ATTRS, 100)):
            x.startElement("attributes", {"class": cls, "mode": "static"})  # type: ignore[arg-type]
            for i, (name, gexf_type, _) in enumerate(attrs):
                self.leaf("attribute", {"id": str(offset + i), "title": name, "type": gexf_type})
            x.endElement("attributes")
        x.startElement("nodes", {})  # type: ignore[arg-type]

    def _attvalues(self, values: dict[str, Any], attrs: tuple, offset: int) -> None:
        self.x.startElement("attvalues", {})  # type: ignore[arg-type]
        for i, (name, _, _) in enumerate(attrs):
            self.leaf("attvalue", {"for": str(offset + i), "value": str(values[name])})
        self.x.endElement("attvalues")

    def node(self, node_id: str, label: str, values: dict[str, Any]) -> None:
        self.x.startElement("node", {"id": node_id, "label": label})  # type: ignore[arg-type]
        self._attvalues(values, NODE_ATTRS, 0)
        self.x.endElement("node")
        self.text("\n")

    def start_edges(self) -> None:
        self.x.endElement("nodes")
        self.x.startElement("edges", {})  # type: ignore[arg-type]

    def edge(self, src: str, dst: str, weight: int, values: dict[str, Any]) -> None:
        self.x.startElement(
            "edge",
            {"id": str(self.edges), "source": src, "target": dst, "weight": str(weight)},  # type: ignore[arg-type]
        )
        self._attvalues(values, EDGE_ATTRS, 100)
        self.x.endElement("edge")
        self.text("\n")
        self.edges += 1

    def end(self) -> None:
        self.x.endElement("edges")
        self.x.endElement("graph")
        self.x.endElement("gexf")
        self.x.endDocument()


class GraphmlWriter(_Writer):
    def start(self) -> None:
        x = self.x
        x.startDocument()
        x.startElement(
            "graphml",
            {  # type: ignore[arg-type]
                "xmlns": "http://graphml.graphdrawing.org/xmlns",
                "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
                "xsi:schemaLocation": "http://graphml.graphdrawing.org/xmlns "
                "http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd",
            },
        )
        self.text("\n")
        self.leaf(
            "key", {"id": "label", "for": "node", "attr.name": "label", "attr.type": "string"}
        )
        for name, _, gtype in NODE_ATTRS:
            self.leaf(
                "key", {"id": f"n_{name}", "for": "node", "attr.name": name, "attr.type": gtype}
            )
        self.leaf(
            "key", {"id": "weight", "for": "edge", "attr.name": "weight", "attr.type": "long"}
        )
        for name, _, gtype in EDGE_ATTRS:
            self.leaf(
                "key", {"id": f"e_{name}", "for": "edge", "attr.name": name, "attr.type": gtype}
            )
        x.startElement("graph", {"edgedefault": "directed"})  # type: ignore[arg-type]
        self.text("\n")

    def _data(self, key: str, value: Any) -> None:
        self.x.startElement("data", {"key": key})  # type: ignore[arg-type]
        self.x.characters(str(value))
        self.x.endElement("data")

    def node(self, node_id: str, label: str, values: dict[str, Any]) -> None:
        self.x.startElement("node", {"id": node_id})  # type: ignore[arg-type]
        self._data("label", label)
        for name, _, _ in NODE_ATTRS:
            self._data(f"n_{name}", values[name])
        self.x.endElement("node")
        self.text("\n")

    def start_edges(self) -> None:
        pass

    def edge(self, src: str, dst: str, weight: int, values: dict[str, Any]) -> None:
        self.x.startElement("edge", {"source": src, "target": dst})  # type: ignore[arg-type]
        self._data("weight", weight)
        for name, _, _ in EDGE_ATTRS:
            self._data(f"e_{name}", values[name])
        self.x.endElement("edge")
        self.text("\n")
        self.edges += 1

    def end(self) -> None:
        self.x.endElement("graph")
        self.x.endElement("graphml")
        self.x.endDocument()


WRITERS = {"gexf": GexfWriter, "graphml": GraphmlWriter}


def _iso(shaper: RowShaper, ts: int | None) -> str:
    if ts is None:
        return ""
    when = shaper.time(datetime.fromtimestamp(ts, UTC))
    return when.isoformat().replace("+00:00", "Z") if when else ""


def _pairs(conn: Connection, r: q.Resolved) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(source, target, aggregate) per account pair, from the SQL aggregate ordered by pair."""
    current: tuple[int, int] | None = None
    agg: dict[str, Any] = {}
    for row in q.iter_network_edges(conn, r):
        key = (row.source_account_id, row.target_account_id)
        if key != current:
            if current is not None:
                yield current[0], current[1], agg
            current = key
            agg = {"weight": 0, "kinds": {}, "platform": row.platform, "first_ts": row.first_ts}
        agg["weight"] += int(row.n)
        agg["kinds"][row.kind] = agg["kinds"].get(row.kind, 0) + int(row.n)
        agg["first_ts"] = min(agg["first_ts"], row.first_ts)
    if current is not None:
        yield current[0], current[1], agg


def write_network(
    conn: Connection, r: q.Resolved, shaper: RowShaper, folder: Path, formats: tuple[str, ...]
) -> dict[str, int]:
    """Write network.<fmt> for each format in one pass over nodes and two over edges."""
    pseudo = shaper.options.pseudonymised
    handles = [(folder / f"network.{fmt}").open("w", encoding="utf-8") for fmt in formats]
    writers = [WRITERS[fmt](fh) for fmt, fh in zip(formats, handles, strict=True)]
    try:
        for w in writers:
            w.start()

        def node(account_id: int, label: str, values: dict[str, Any]) -> None:
            nid = str(shaper.key("account", account_id))
            values = {**values, "person": str(shaper.key("person", values["person"]))}
            for w in writers:
                w.node(nid, nid if pseudo else label, values)

        nodes: set[int] = set()
        for chunk in q.iter_accounts(conn, r):
            for a in chunk:
                nodes.add(a["id"])
                node(
                    a["id"],
                    a["handle"] or a["native_id"],
                    {
                        "platform": a["platform"],
                        "person": a["person_id"],
                        "mentions": int(a["mentions"]),
                        "amplifications_given": int(a["amplifications_given"]),
                        "amplifications_received": int(a["amplifications_received"]),
                        "first_seen": _iso(shaper, a.get("first_seen_ts")),
                    },
                )
        # Authors of amplified posts outside the window are nodes too, unless opted out.
        missing = {i for src, dst, _ in _pairs(conn, r) for i in (src, dst) if i not in nodes}
        nodes |= _missing_nodes(conn, r, missing, node)
        for w in writers:
            w.start_edges()
        n_edges = 0
        for src, dst, agg in _pairs(conn, r):
            if src not in nodes or dst not in nodes:
                continue
            values = {
                "kinds": ";".join(f"{k}:{n}" for k, n in sorted(agg["kinds"].items())),
                "platform": agg["platform"],
                "first_seen": _iso(shaper, agg["first_ts"]),
            }
            s, d = str(shaper.key("account", src)), str(shaper.key("account", dst))
            for w in writers:
                w.edge(s, d, agg["weight"], values)
            n_edges += 1
        for w in writers:
            w.end()
    finally:
        for fh in handles:
            fh.close()
    return {"nodes": len(nodes), "edges": n_edges}


def _missing_nodes(conn: Connection, r: q.Resolved, ids: set[int], node: Any) -> set[int]:
    a = Account.__table__  # type: ignore[attr-defined]
    opted = func_coalesce(
        account_opted_out(a, discoverable_false_is_opt_out=r.discoverable_false_is_opt_out)
    )
    allowed: set[int] = set()
    id_list = sorted(ids)
    for i in range(0, len(id_list), 500):
        for row in conn.execute(
            select(
                a.c.id, a.c.platform, a.c.handle, a.c.native_id, a.c.person_id, opted.label("out")
            ).where(a.c.id.in_(id_list[i : i + 500]))
        ):
            if row.out:
                continue
            allowed.add(row.id)
            node(
                row.id,
                row.handle or row.native_id,
                {
                    "platform": row.platform,
                    "person": row.person_id,
                    "mentions": 0,
                    "amplifications_given": 0,
                    "amplifications_received": 0,
                    "first_seen": "",
                },
            )
    return allowed
