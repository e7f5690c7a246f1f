"""Spread: how the conversation travels across platforms, instances and reply trees.

Definitions (docs/dashboard.md):
- cumulative unique authors: everyone who has ever mentioned the movement, counted from their
  first mention (the line starts at the total reached before the range);
- federation footprint: Mastodon instances and blog sites reached, counted at each one's first
  appearance in the movement ever (so the line starts at what was reached before the range);
- crossing time: delay between the first mention on the first platform in the range and the first
  mention on each other platform;
- cascade: the tree a movement's post published in the range started, as large as it has grown
  by now: replies and quotes (edges that carry their own post, `via`) under the post they
  answer, reposts and boosts as leaves; size = nodes including the root, depth = longest
  root-to-leaf path in edges. Only trees of size >= 2 are cascades. Kept per root at write
  time (`storage.cascades`); until 26 Nov 2026 it was the trees of the edges created in the
  range, rebuilt from every link of the range on each read.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, literal_column, select

from storage.cascades import REPOST_KINDS, THREAD_KINDS
from storage.models import (
    PLATFORMS,
    Account,
    Amplification,
    Mention,
    MentionMatch,
    MovementAuthor,
    RollupHourly,
)
from storage.models_cascades import CascadeDay, CascadeNode, CascadeRoot
from storage.models_rollups import MovementEdge, MovementPlace
from storage.queries import persons
from storage.queries.ethics import mention_displayable
from storage.queries.scope import Scope, in_scope

MM = MentionMatch.__table__
MA = MovementAuthor.__table__
M = Mention.__table__
A = Account.__table__
AMP = Amplification.__table__
RH = RollupHourly.__table__
MP = MovementPlace.__table__
ME = MovementEdge.__table__
CN = CascadeNode.__table__
CR = CascadeRoot.__table__
CD = CascadeDay.__table__
DAY = 86400
__all__ = ["REPOST_KINDS", "THREAD_KINDS"]  # re-exported: the kinds a cascade is made of


def cumulative_authors(
    conn: Connection,
    scope: Scope,
    bucket_s: int,
    by: str = "account",
    linked: persons.Linked | None = None,
) -> list[dict[str, int]]:
    """Everyone who has ever mentioned the movement, counted from their first mention: the
    total before the range, then per bucket the new authors and the running total.
    `by="person"`: a person's later accounts add nobody (`persons.later_firsts`).

    Read from the per-movement author table (one row per author), never the mentions.
    """
    before = int(
        conn.execute(
            select(func.count()).where(
                MA.c.movement_id == scope.movement_id,
                MA.c.first_ts < scope.start_ts,
                *([MA.c.platform.in_(scope.platforms)] if scope.platforms else []),
            )
        ).scalar()
        or 0
    )
    b = MA.c.first_ts // bucket_s
    rows = conn.execute(
        select(b, func.count()).where(*in_scope(MA, scope, "first_ts")).group_by(b).order_by(b)
    ).all()
    if by == "person":
        later = persons.later_firsts(conn, scope.shifted(0, scope.end_ts), linked)
        before -= sum(1 for ts, _ in later if ts < scope.start_ts)
        per: Counter[int] = Counter({int(k): int(n) for k, n in rows})
        for ts, _ in later:
            if ts >= scope.start_ts:
                per[ts // bucket_s] -= 1
        rows = [(k, n) for k, n in sorted(per.items()) if n > 0]
    out = [{"bucket_ts": scope.start_ts, "new": 0, "cumulative": before}]
    total = before
    for bucket, n in rows:
        total += int(n)
        ts = max(scope.start_ts, int(bucket) * bucket_s)  # the first bucket may start earlier
        out.append({"bucket_ts": ts, "new": int(n), "cumulative": total})
    return out if total else []


def footprint(conn: Connection, scope: Scope, bucket_s: int) -> dict[str, Any]:
    """Instances (Mastodon) and blog sites reached, by first appearance in the movement.

    `before`: how many of each were reached before the range; `rows`: per bucket and kind, the
    new ones and the running total; `places`: the places first reached in the range.
    """
    kinds = [k for k in ("mastodon", "blog") if not scope.platforms or k in scope.platforms]
    if not kinds:
        return {"before": {}, "rows": [], "places": []}
    # One row per place (`movement_place`, maintained by the write path), not per author.
    stmt = select(MP.c.place, MP.c.platform, MP.c.first_ts).where(
        MP.c.movement_id == scope.movement_id,
        MP.c.platform.in_(kinds),
        MP.c.first_ts < scope.end_ts,
    )
    before: dict[str, int] = dict.fromkeys(kinds, 0)
    new: dict[tuple[int, str], int] = defaultdict(int)
    places = []
    for p, kind, f in conn.execute(stmt):
        if f < scope.start_ts:
            before[kind] += 1
        else:
            new[(int(f) // bucket_s * bucket_s, kind)] += 1
            places.append({"place": p, "kind": kind, "first_ts": int(f)})
    rows = []
    running = dict(before)
    for (ts, kind), n in sorted(new.items()):
        running[kind] += n
        rows.append({"bucket_ts": ts, "kind": kind, "new": n, "cumulative": running[kind]})
    places.sort(key=lambda r: r["first_ts"])
    return {"before": before, "rows": rows, "places": places}


def _first_ts(
    conn: Connection, movement_id: int, platform: str, start_ts: int, end_ts: int
) -> int | None:
    """The first mention on `platform` in [start_ts, end_ts): the hourly rollup finds the
    first hour (an index seek on its primary key), the exact second comes from that hour's
    matches only."""
    hour = start_ts // 3600
    end_hour = -(-end_ts // 3600)
    while True:
        h = conn.execute(
            select(func.min(RH.c.hour)).where(
                RH.c.movement_id == movement_id,
                RH.c.platform == platform,
                RH.c.hour >= hour,
                RH.c.hour < end_hour,
            )
        ).scalar()
        if h is None:
            return None
        lo, hi = max(start_ts, int(h) * 3600), min(end_ts, (int(h) + 1) * 3600)
        ts = conn.execute(
            select(func.min(MM.c.created_ts)).where(
                *in_scope(MM, Scope(movement_id, lo, hi, (platform,)))
            )
        ).scalar()
        if ts is not None:
            return int(ts)
        hour = int(h) + 1  # the mentions of that hour fell before `start_ts`


CROSSING_SLACK_S = 3600  # an amplification up to an hour after the first post still shows it


def _crossed_from(
    conn: Connection, movement_id: int, platform: str, since_ts: int, first_ts: int
) -> str | None:
    """The platform a movement's conversation demonstrably came to `platform` from: the
    earliest edge (a repost, quote, reply or link) by an account on `platform` to a movement
    post on another platform, made before `platform`'s first mention (or within the hour
    after it). None without such an edge: being second in time is no evidence."""
    row = conn.execute(
        select(ME.c.platform)
        .select_from(ME.join(A, A.c.id == ME.c.source_account_id))
        .where(
            ME.c.movement_id == movement_id,
            ME.c.created_ts >= since_ts,
            ME.c.created_ts <= first_ts + CROSSING_SLACK_S,
            ME.c.platform != platform,
            A.c.platform == platform,
        )
        .order_by(ME.c.created_ts)
        .limit(1)
    ).first()
    return str(row[0]) if row else None


def first_appearance(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """First mention per platform in the range, in order, with the crossing delays.

    Each platform also carries its first mention ever (`first_ever_ts`; `before_range` when
    that is before the range: the range's first is then not where it started), and the
    platform it came from only when an amplification edge shows the crossing
    (`from_platform`, else None).
    """
    found = []
    for platform in scope.platforms or PLATFORMS:
        ts = _first_ts(conn, scope.movement_id, platform, scope.start_ts, scope.end_ts)
        if ts is not None:
            found.append((ts, platform))
    ordered = sorted(found)
    out = []
    for i, (ts, p) in enumerate(ordered):
        ever = _first_ts(conn, scope.movement_id, p, 0, scope.start_ts) or ts
        out.append(
            {
                "platform": p,
                "first_ts": ts,
                "first_ever_ts": ever,
                "before_range": ever < scope.start_ts,
                "after_first_s": ts - ordered[0][0],
                "after_previous_s": ts - ordered[i - 1][0] if i else 0,
                "from_platform": (
                    _crossed_from(conn, scope.movement_id, p, ordered[0][0], ts) if i else None
                ),
            }
        )
    return out


@dataclass(slots=True)
class Cascade:
    root: int
    size: int
    depth: int
    nodes: list[dict[str, Any]] = field(default_factory=list)


Meta = tuple[str, int | None, str | None]  # a node's link kind, time and platform


def _tree_nodes(
    root: Any,
    children: dict[Any, list[Any]],
    leaves: dict[Any, list[tuple[str, int]]],
    meta: dict[Any, tuple[str, int | None, str | None]],
    max_nodes: int,
) -> list[dict[str, Any]]:
    """The drawable nodes of one tree, at most `max_nodes`: each post (`count` 1), and the
    reposts or boosts of a post as one counted fan (`count` n: "212 boosts"), so a post's
    200 reposts neither fill the drawing as a solid bar nor crowd out its replies."""
    nodes: list[dict[str, Any]] = []
    stack: list[tuple[Any, Any, int]] = [(root, None, 0)]
    while stack and len(nodes) < max_nodes:
        n, par, d = stack.pop()
        kind, ts, platform = meta.get(n, ("post", None, None))
        nodes.append({"id": n, "parent": par, "depth": d, "kind": kind, "ts": ts,
                      "platform": platform, "count": 1})  # fmt: skip
        for lk, count in leaves.get(n, ()):
            if len(nodes) < max_nodes:
                nodes.append({"id": (n, lk), "parent": n, "depth": d + 1, "kind": lk,
                              "ts": None, "platform": platform, "count": count})  # fmt: skip
        stack.extend((c, n, d + 1) for c in children.get(n, ()))
    return nodes


def _root_posts(conn: Connection, movement_id: int, roots: list[int]) -> dict[int, dict[str, Any]]:
    """Who started each drawn tree and its opening words (the figure's title); only
    `{"withheld": True}` for a root whose content may not be shown (deleted, opted out, no
    consent: storage/queries/ethics.py), which is still counted in the tree."""
    if not roots:
        return {}
    shown = mention_displayable(M, A, movement_id=movement_id).label("shown")
    rows = conn.execute(
        select(M.c.id, M.c.text, M.c.title, A.c.display_name, A.c.handle, shown)
        .select_from(M.outerjoin(A, A.c.id == M.c.account_id))
        .where(M.c.id.in_(roots))
    ).all()
    return {
        r.id: (
            {"author": r.display_name or r.handle, "handle": r.handle, "text": r.title or r.text}
            if r.shown
            else {"withheld": True}
        )
        for r in rows
    }


def _showcase(largest: list[Cascade], top: int, deepest: Cascade | None) -> list[Cascade]:
    """The largest trees, with the deepest one swapped in last when it is not among them
    (a long reply chain says more than the tenth repost of one post)."""
    chosen = list(largest[:top])
    if (
        top >= 2
        and deepest is not None
        and all(deepest is not c for c in chosen)
        and deepest.depth > max((c.depth for c in chosen), default=0)
    ):
        chosen[-1] = deepest
    return chosen


def cascades(
    conn: Connection, scope: Scope, top: int = 3, *, keep: int = 10, max_nodes: int = 400
) -> dict[str, Any]:
    """Reply/quote/repost cascades started by the movement's posts published in the range
    (and on the filtered platforms), as large as they have grown by now (docs/dashboard.md,
    "Cascades"; kept per root at write time by `storage.cascades`).

    Returns the number of cascades (trees of size >= 2), a size/depth histogram, the `keep`
    largest (root, size, depth) and the node lists of the `top` largest (with the deepest
    swapped in), for drawing. Reads the histogram of the range's whole days (`cascade_day`)
    and of its part-days (the roots themselves), then only the few roots at the top and at
    most `max_nodes` nodes of each drawn tree: nothing grows with the links of the range.
    """
    histogram = _histogram(conn, scope)
    if not histogram:
        return {"count": 0, "histogram": [], "largest": [], "trees": []}
    # The largest and the deepest, bucket by bucket from the top of the histogram
    # (`ix_croot_size`: one (size, depth) and the range, in root order): never a sort of
    # every root of the range.
    largest: list[Cascade] = []
    for (s, d), n in sorted(histogram.items(), key=lambda kv: (-kv[0][0], -kv[0][1])):
        need = min(n, keep - len(largest))
        if need <= 0:
            break
        largest.extend(Cascade(root=r, size=s, depth=d) for r in _roots(conn, scope, s, d, need))
    top_depth = max(d for _, d in histogram)
    s = max(s for s, d in histogram if d == top_depth)
    r = _roots(conn, scope, s, top_depth, 1)[0]
    deepest = next((c for c in largest if c.root == r), Cascade(r, s, top_depth))
    drawn = _showcase(largest, top, deepest)
    for c in drawn:
        c.nodes = _drawn_nodes(conn, scope.movement_id, c.root, max_nodes)
    started = _root_posts(conn, scope.movement_id, [c.root for c in drawn])
    return {
        "count": sum(histogram.values()),
        "histogram": [
            {"size": s, "depth": d, "cascades": n} for (s, d), n in sorted(histogram.items())
        ],
        "largest": [{"root": c.root, "size": c.size, "depth": c.depth} for c in largest],
        "trees": [
            {
                "root": c.root,
                "size": c.size,
                "depth": c.depth,
                "nodes": c.nodes,
                "started_by": started.get(c.root, {}),
            }
            for c in drawn
        ],
    }


def _histogram(conn: Connection, scope: Scope) -> Counter[tuple[int, int]]:
    """Trees of size >= 2 per (size, depth) rooted in the range: the whole UTC days from
    `cascade_day` (a few thousand rows for 30 days), the part-days at the ends from the roots
    themselves (`ix_croot_time`)."""
    mv, start, end = scope.movement_id, scope.start_ts, scope.end_ts
    first_day, end_day = -(-start // DAY), end // DAY
    parts = [(start, end)]
    histogram: Counter[tuple[int, int]] = Counter()
    if first_day < end_day:
        parts = [(start, first_day * DAY), (end_day * DAY, end)]
        stmt = (
            select(CD.c.size, CD.c.depth, func.sum(CD.c.roots))
            .where(
                CD.c.movement_id == mv,
                CD.c.day >= first_day,
                CD.c.day < end_day,
                CD.c.size >= 2,
                *([CD.c.platform.in_(scope.platforms)] if scope.platforms else []),
            )
            .group_by(CD.c.size, CD.c.depth)
        )
        for size, depth, n in conn.execute(stmt):
            histogram[(int(size), int(depth))] += int(n)
    # `size + 0`: SQLite (without statistics for the table) would rather read all of
    # `ix_croot_size`, already in (size, depth) order, than group a part-day's roots from
    # `ix_croot_time`; an expression is in no index's order. No `size >= 2` for the same reason.
    size_ = CR.c.size + literal_column("0")
    for a, b in parts:
        if a >= b:
            continue
        stmt = (
            select(size_, CR.c.depth, func.count())
            .where(
                CR.c.movement_id == mv,
                CR.c.root_ts >= a,
                CR.c.root_ts < b,
                *([CR.c.platform.in_(scope.platforms)] if scope.platforms else []),
            )
            .group_by(size_, CR.c.depth)
        )
        for size, depth, n in conn.execute(stmt):
            if size >= 2:
                histogram[(int(size), int(depth))] += int(n)
    return +histogram  # buckets emptied by trees that grew or merged are left out


def _roots(conn: Connection, scope: Scope, size: int, depth: int, limit: int) -> list[int]:
    """The first `limit` roots (smallest id first) of one (size, depth) in the range."""
    stmt = (
        select(CR.c.root_id)
        .where(
            CR.c.movement_id == scope.movement_id,
            CR.c.size == size,
            CR.c.depth == depth,
            CR.c.root_ts >= scope.start_ts,
            CR.c.root_ts < scope.end_ts,
            *([CR.c.platform.in_(scope.platforms)] if scope.platforms else []),
        )
        .order_by(CR.c.root_id)
        .limit(limit)
    )
    return [int(r) for r in conn.execute(stmt).scalars()]


def _drawn_nodes(
    conn: Connection, movement_id: int, root: int, max_nodes: int
) -> list[dict[str, Any]]:
    """The first `max_nodes` drawable nodes of one tree: its posts shallowest first
    (`ix_cnode_root`; a post's parent is always shallower, so every post read has its parent
    read), their reposts and boosts expanded into leaves."""
    rows = conn.execute(
        select(CN.c.node_id, CN.c.parent_id, CN.c.link_kind, CN.c.link_ts, CN.c.link_platform,
               CN.c.reposts, CN.c.boosts)
        .where(CN.c.movement_id == movement_id, CN.c.root_id == root)
        .order_by(CN.c.depth, CN.c.node_id)
        .limit(max_nodes)
    ).all()  # fmt: skip
    ts, platform = conn.execute(
        select(CR.c.root_ts, CR.c.platform).where(
            CR.c.movement_id == movement_id, CR.c.root_id == root
        )
    ).one()
    children: dict[Any, list[Any]] = defaultdict(list)
    leaves: dict[Any, list[tuple[str, int]]] = {}
    meta: dict[Any, Meta] = {root: ("post", int(ts), platform)}
    for n, par, kind, lts, lplatform, reposts, boosts in rows:
        if n != root:
            children[par].append(n)
            meta[n] = (kind, int(lts), lplatform)
        counts = [(k, c) for k, c in zip(REPOST_KINDS, (reposts, boosts), strict=True) if c]
        if counts:
            leaves[n] = counts
    return _tree_nodes(root, children, leaves, meta, max_nodes)
