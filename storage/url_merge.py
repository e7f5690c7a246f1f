"""Merge blog entries, pingbacks and webmentions stored under several spellings of one URL.

Before issue 16, ids and lookups of the URL-keyed platforms used the URL as written, so one
page announced with its target spelled five ways (a `#fragment`, `?utm_source=`, a trailing
`/`, an upper-case scheme and host) became five mentions and five edges. New rows are keyed by
the canonical URL (`domain/url_identity.py`); migration 0029 calls `merge_url_duplicates` once
to bring the stored rows to the same state a canonical writer would have produced:

- every mention of those platforms gets its canonical natural key, id, URL and links; of the
  spellings of one page the **earliest** seen is kept (counters: the highest), the others are
  deleted;
- their matches, payload, footprint rows and edges move to the kept id (an edge's id is
  derived from its keys, so it is derived again; duplicates collapse to the earliest);
- the rollups of every movement touched are recounted from the raw rows (`storage.recount`).

A store without duplicates pays one read of the URL-keyed mentions and nothing else.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, MetaData, Table, bindparam, delete, insert, select, update

from domain.ids import stable_id
from domain.records import mention_id
from domain.url_identity import URL_PLATFORMS, canonical_native_id, canonical_url
from storage.bulk import insert_for
from storage.id_lists import among
from storage.models import Amplification, Mention, MentionMatch, MentionPayload, MentionSeen
from storage.recount import recount

_COUNTERS = ("like_count", "repost_count", "reply_count", "quote_count")


@dataclass(slots=True)
class MergeReport:
    renamed: int = 0  # mentions moved to their canonical key
    merged: int = 0  # duplicate mentions folded into the earliest
    edges: int = 0  # edges re-keyed or folded
    movements: int = 0  # movements whose rollups were recounted


def _t(model: Any, conn: Connection | None = None) -> Table:
    """The model's table; with `conn`, as the store has it now (reflected): run from a
    migration, other areas' later revisions may not have added their columns yet."""
    table: Table = model.__table__
    if conn is None:
        return table
    return Table(table.name, MetaData(), autoload_with=conn)


def _canonical_links(links: Any) -> Any:
    if not isinstance(links, list):
        return links
    out = [canonical_url(x) if isinstance(x, str) else x for x in links]
    return list(dict.fromkeys(out))


def merge_url_duplicates(conn: Connection) -> MergeReport:
    """Bring every URL-keyed mention to its canonical identity (see the module docstring)."""
    m = _t(Mention)
    report = MergeReport()
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    cleanups: list[dict[str, Any]] = []
    q = select(m.c.id, m.c.platform, m.c.native_id, m.c.url, m.c.links).where(
        m.c.platform.in_(sorted(URL_PLATFORMS))
    )
    for row in conn.execute(q):
        canon = canonical_native_id(row.platform, row.native_id)
        groups[(row.platform, canon)].append(row)
        url = canonical_url(row.url) if row.url else None
        links = _canonical_links(row.links)
        if canon == row.native_id and (url != row.url or links != row.links):
            cleanups.append({"mid": row.id, "url": url, "links": links})
    if cleanups:  # same identity, spelling only
        conn.execute(
            update(m)
            .where(m.c.id == bindparam("mid"))
            .values(url=bindparam("url"), links=bindparam("links")),
            cleanups,
        )
    moved: dict[int, int] = {}  # old id -> canonical id
    todo = {k: v for k, v in groups.items() if len(v) > 1 or v[0].native_id != k[1]}
    if not todo:
        return report
    movements: set[int] = set()
    for (platform, canon), members in sorted(todo.items()):
        new_id = mention_id(platform, canon)
        movements |= _merge_group(conn, platform, canon, new_id, [r.id for r in members])
        for r in members:
            moved[r.id] = new_id
        report.renamed += 1
        report.merged += len(members) - 1
    report.edges, edge_movements = _rekey_edges(conn, moved)
    movements |= edge_movements
    report.movements = len(movements)
    recount(conn, movements)
    return report


def _merge_group(
    conn: Connection, platform: str, canon: str, new_id: int, ids: list[int]
) -> set[int]:
    """Fold the mentions `ids` (one page) into one row at `new_id`; the movements touched."""
    m, mm = _t(Mention, conn), _t(MentionMatch, conn)
    pay, seen = _t(MentionPayload, conn), _t(MentionSeen, conn)
    rows = [dict(r._mapping) for r in conn.execute(select(m).where(m.c.id.in_(ids)))]
    rows.sort(
        key=lambda r: (r["first_seen_at"] is None, r["first_seen_at"], r["created_ts"], r["id"])
    )
    keep = dict(rows[0])
    for c in _COUNTERS:
        keep[c] = max((r[c] or 0) for r in rows)
    keep.update(
        id=new_id,
        native_id=canon,
        url=canonical_url(keep["url"]) if keep["url"] else None,
        links=_canonical_links(keep["links"]),
    )
    payloads = {r.mention_id: r for r in conn.execute(select(pay).where(pay.c.mention_id.in_(ids)))}
    payload = next((payloads[r["id"]] for r in rows if r["id"] in payloads), None)
    seen_rows: dict[str, Any] = {}
    for r in conn.execute(select(seen).where(seen.c.mention_id.in_(ids))):
        if r.seen_on not in seen_rows or r.first_seen_at < seen_rows[r.seen_on]:
            seen_rows[r.seen_on] = r.first_seen_at
    order = {r["id"]: i for i, r in enumerate(rows)}
    matches: dict[int, dict[str, Any]] = {}
    for r in sorted(
        conn.execute(select(mm).where(mm.c.mention_id.in_(ids))), key=lambda r: order[r.mention_id]
    ):
        if r.movement_id not in matches:  # the earliest spelling's match of each movement
            matches[r.movement_id] = {
                "movement_id": r.movement_id,
                "mention_id": new_id,
                "via": r.via,
                "platform": platform,
                "account_id": keep["account_id"],
                "created_ts": keep["created_ts"],
                "prev_ts": None,
            }
    conn.execute(delete(mm).where(mm.c.mention_id.in_(ids)))
    conn.execute(delete(pay).where(pay.c.mention_id.in_(ids)))
    conn.execute(delete(seen).where(seen.c.mention_id.in_(ids)))
    conn.execute(delete(m).where(m.c.id.in_(ids)))
    conn.execute(insert(m).values(**keep))
    for col in (m.c.reply_to_id, m.c.quote_of_id):
        conn.execute(update(m).where(col.in_(ids)).values({col.name: new_id}))
    if payload is not None:
        conn.execute(
            insert(pay).values(
                mention_id=new_id, payload=payload.payload, fetched_at=payload.fetched_at
            )
        )
    if seen_rows:
        conn.execute(
            insert(seen),
            [
                {"mention_id": new_id, "seen_on": k, "first_seen_at": v}
                for k, v in sorted(seen_rows.items())
            ],
        )
    if matches:
        conn.execute(insert(mm), [matches[k] for k in sorted(matches)])
    return set(matches)


def _rekey_edges(conn: Connection, moved: dict[int, int]) -> tuple[int, set[int]]:
    """Edges pointing at or made by a merged mention: ids mapped, edge ids derived again from
    their (canonical) keys as `EdgeRecord.id` does; duplicates fold into the earliest."""
    amp, m, mm = _t(Amplification, conn), _t(Mention), _t(MentionMatch)
    old = sorted(moved)
    edges = [
        dict(r._mapping)
        for r in conn.execute(
            select(amp).where(
                among(conn, amp.c.target_mention_id, old) | among(conn, amp.c.via_mention_id, old)
            )
        )
    ]
    if not edges:
        return 0, set()
    ref_ids: set[int] = set()
    for e in edges:
        ref_ids.add(moved.get(e["target_mention_id"], e["target_mention_id"]))
        if e["via_mention_id"] is not None:
            ref_ids.add(moved.get(e["via_mention_id"], e["via_mention_id"]))
    keys = {
        r.id: (r.platform, r.native_id)
        for r in conn.execute(
            select(m.c.id, m.c.platform, m.c.native_id).where(among(conn, m.c.id, ref_ids))
        )
    }
    out: dict[int, dict[str, Any]] = {}
    movements: set[int] = set()
    for e in sorted(edges, key=lambda e: (e["created_ts"], e["id"])):
        target = moved.get(e["target_mention_id"], e["target_mention_id"])
        via = e["via_mention_id"]
        via = moved.get(via, via) if via is not None else None
        via_key = keys.get(via) if via is not None else None
        target_key = keys.get(target)
        if target_key is None and via_key is not None and via_key[0] == e["kind"]:
            # a pingback/webmention edge to a page not stored: the target is its via's target
            parts = via_key[1].split(" ")
            if len(parts) == 2:
                target_key = ("blog", canonical_url(parts[1]))
                target = mention_id(*target_key)
        new = dict(e, target_mention_id=target, via_mention_id=via)
        if target_key is not None and (via is None or via_key is not None):
            via_s = "|".join(via_key) if via_key else ""
            new["id"] = stable_id(
                "edge", e["kind"], str(e["source_account_id"]), *target_key, via_s
            )
        out.setdefault(new["id"], new)
    conn.execute(delete(amp).where(amp.c.id.in_([e["id"] for e in edges])))
    # DO NOTHING: a canonical twin already stored stays
    stmt = insert_for(conn, amp).on_conflict_do_nothing(index_elements=[amp.c.id])
    conn.execute(stmt, [out[k] for k in sorted(out)])
    targets = {e["target_mention_id"] for e in edges} | {
        e["target_mention_id"] for e in out.values()
    }
    movements = {
        r[0]
        for r in conn.execute(
            select(mm.c.movement_id).where(among(conn, mm.c.mention_id, targets)).distinct()
        )
    }
    return len(edges), movements


def rekey_received(conn: Connection) -> int:
    """Received pingbacks/webmentions keyed by their canonical pair (`ping_key`); of several
    spellings of one pair the earliest received stays. Returns the rows folded away."""
    from storage.models_blogs import ReceivedPing
    from storage.queries.blogs import ping_key

    t = _t(ReceivedPing)
    rows = conn.execute(
        select(t.c.id, t.c.key, t.c.kind, t.c.source, t.c.target, t.c.received_at).order_by(
            t.c.received_at, t.c.id
        )
    ).all()
    kept: dict[int, int] = {}
    drop: list[int] = []
    change: list[dict[str, Any]] = []
    for r in rows:
        key = ping_key(r.kind, r.source, r.target)
        if key in kept:
            drop.append(r.id)
        else:
            kept[key] = r.id
            if key != r.key:
                change.append({"rid": r.id, "k": key})
    if drop:
        conn.execute(delete(t).where(t.c.id.in_(drop)))
    if change:
        # two steps: a new key may still be held by a row that moves away from it
        conn.execute(
            update(t).where(t.c.id == bindparam("rid")).values(key=-bindparam("k") - 1), change
        )
        conn.execute(update(t).where(t.c.id == bindparam("rid")).values(key=bindparam("k")), change)
    return len(drop)
