"""Spread: how the conversation travels across platforms, instances and reply trees.

Definitions (docs/dashboard.md):
- cumulative unique authors: everyone who has ever mentioned the movement, counted from their
  first mention (the line starts at the total reached before the range);
- federation footprint: Mastodon instances and blog sites reached, counted at each one's first
  appearance in the movement ever (so the line starts at what was reached before the range);
- crossing time: delay between the first mention on the first platform in the range and the first
  mention on each other platform;
- cascade: a tree of mentions linked by reply/quote amplification edges (edges that carry
  their own post, `via`) plus repost/boost leaves, from edges created in the range;
  size = nodes including the root, depth = longest root-to-leaf path in edges. Only trees of
  size >= 2 are cascades.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from storage.models import (
    PLATFORMS,
    Account,
    Amplification,
    Mention,
    MentionMatch,
    MovementAuthor,
    RollupHourly,
)
from storage.models_rollups import MovementEdge, MovementPlace
from storage.queries.scope import Scope, in_scope, stream_rows

MM = MentionMatch.__table__
MA = MovementAuthor.__table__
M = Mention.__table__
A = Account.__table__
AMP = Amplification.__table__
RH = RollupHourly.__table__
MP = MovementPlace.__table__
ME = MovementEdge.__table__

REPOST_KINDS = ("repost", "boost")
THREAD_KINDS = ("reply", "quote")


def cumulative_authors(conn: Connection, scope: Scope, bucket_s: int) -> list[dict[str, int]]:
    """Everyone who has ever mentioned the movement, counted from their first mention: the
    total before the range, then per bucket the new authors and the running total.

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


def first_appearance(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """First mention per platform in the range, in order, with the crossing delays.

    The hourly rollup finds each platform's first hour (an index seek on its primary key); the
    exact second comes from the matches of that hour only.
    """
    found = []
    for platform in scope.platforms or PLATFORMS:
        hour = scope.start_ts // 3600
        end_hour = -(-scope.end_ts // 3600)
        while True:
            h = conn.execute(
                select(func.min(RH.c.hour)).where(
                    RH.c.movement_id == scope.movement_id,
                    RH.c.platform == platform,
                    RH.c.hour >= hour,
                    RH.c.hour < end_hour,
                )
            ).scalar()
            if h is None:
                break
            lo, hi = max(scope.start_ts, int(h) * 3600), min(scope.end_ts, (int(h) + 1) * 3600)
            ts = conn.execute(
                select(func.min(MM.c.created_ts)).where(
                    *in_scope(MM, Scope(scope.movement_id, lo, hi, (platform,)))
                )
            ).scalar()
            if ts is not None:
                found.append((int(ts), platform))
                break
            hour = int(h) + 1  # the mentions of that hour fell before the range start
    ordered = sorted(found)
    out = []
    for i, (ts, p) in enumerate(ordered):
        out.append(
            {
                "platform": p,
                "first_ts": ts,
                "after_first_s": ts - ordered[0][0],
                "after_previous_s": ts - ordered[i - 1][0] if i else 0,
                "from_platform": ordered[i - 1][1] if i else None,
            }
        )
    return out


@dataclass(slots=True)
class Cascade:
    root: int
    size: int
    depth: int
    nodes: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class CascadeStats:
    """Every cascade of a scope summarised: how many, the (size, depth) histogram, the largest
    ones, and the few drawn (with their node lists)."""

    count: int = 0
    histogram: Counter[tuple[int, int]] = field(default_factory=Counter)
    largest: list[Cascade] = field(default_factory=list)
    drawn: list[Cascade] = field(default_factory=list)


def build_cascades(
    links: Iterable[tuple[int, int, str, int | None, str | None]],
    reposts: Iterable[tuple[int, str, int]],
    *,
    max_nodes: int = 400,
    draw: int = 3,
    keep: int = 10,
) -> CascadeStats:
    """Trees from thread links (child, parent, kind, ts, platform) and repost counts
    (target, kind, count). Pure, so it is tested directly.

    Reposts are leaves hanging off the post they repost; they come in as counts (aggregated in
    SQL). Most cascades are "stars" (a post and its reposts, no replies): those are counted
    straight into the histogram without building a tree. Trees are measured without walking
    them: each node's root comes from a union-find (which also cuts the links that would
    close a cycle, hostile data) and its depth from its parent's, memoised. Node lists (for
    drawing) are built only for the `draw` trees `_showcase` picks, up to `max_nodes` each.
    """
    parent: dict[Any, Any] = {}
    meta: dict[Any, tuple[str, int | None, str | None]] = {}
    up: dict[Any, Any] = {}  # union-find towards each tree's root (only to cut cycles)

    def find(n: Any) -> Any:
        root = n
        while root in up:
            root = up[root]
        while n in up and up[n] is not root:  # path compression
            up[n], n = root, up[n]
        return root

    for child, par, kind, ts, platform in links:
        if child == par or child in parent or (par in up and find(par) == child):
            continue  # duplicates and links that would close a cycle (hostile data) are cut
        parent[child] = par
        up[child] = par
        meta[child] = (kind, ts, platform)

    # Each node's root and depth, memoised along the way up (each node is walked once).
    root_of: dict[Any, Any] = {}
    depth: dict[Any, int] = {}
    for n in parent:
        if n in depth:
            continue
        path = []
        while n in parent and n not in depth:
            path.append(n)
            n = parent[n]
        if n in depth:
            r, d = root_of[n], depth[n]
        else:
            r, d = n, 0
        for x in reversed(path):
            d += 1
            depth[x] = d
            root_of[x] = r

    size: Counter[Any] = Counter(root_of.values())  # nodes below each root
    deepest: dict[Any, int] = {}
    for n, d in depth.items():
        r = root_of[n]
        if d > deepest.get(r, 0):
            deepest[r] = d
    leaves: dict[Any, list[tuple[str, int]]] = defaultdict(list)
    stars: dict[Any, int] = defaultdict(int)
    star_kind: dict[Any, str] = {}
    for target, kind, count in reposts:
        if count <= 0:
            continue
        r = root_of.get(target)
        if r is None and target in size:
            r = target  # the root of a tree
        if r is not None:
            leaves[target].append((kind, int(count)))
            size[r] += int(count)
            d = depth.get(target, 0) + 1
            if d > deepest.get(r, 0):
                deepest[r] = d
        else:
            stars[target] += int(count)
            star_kind.setdefault(target, kind)

    stats = CascadeStats()
    # (size, depth, root) tuples: Cascade objects only for the few kept.
    trees = [(n + 1, deepest[r], r) for r, n in size.items()]
    stats.histogram.update((s, d) for s, d, _ in trees)
    stats.histogram.update((n + 1, 1) for n in stars.values())
    stats.count = len(trees) + len(stars)
    top_stars = heapq.nsmallest(keep, stars.items(), key=lambda kv: (-kv[1], kv[0]))
    trees.extend((n + 1, 1, t) for t, n in top_stars)
    kept = heapq.nsmallest(keep, trees, key=lambda t: (-t[0], -t[1], t[2]))
    stats.largest = [Cascade(root=r, size=s, depth=d) for s, d, r in kept]
    deepest_tree = None
    if trees:  # the deepest (then largest) tree; of equals, the smallest root
        top_d, top_s = max((d, s) for s, d, _ in trees)
        r = min(r for s, d, r in trees if d == top_d and s == top_s)
        deepest_tree = next(
            (c for c in stats.largest if c.root == r), Cascade(root=r, size=top_s, depth=top_d)
        )
    stats.drawn = _showcase(stats.largest, draw, deepest_tree)
    for t, n in top_stars:
        leaves[t].append((star_kind[t], n))
    drawn = {c.root for c in stats.drawn}
    children: dict[Any, list[Any]] = defaultdict(list)
    for child, par in parent.items():  # only the drawn trees' nodes, in link order
        if root_of[child] in drawn:
            children[par].append(child)
    for c in stats.drawn:
        c.nodes = _tree_nodes(c.root, children, leaves, meta, max_nodes)
    return stats


def _tree_nodes(
    root: Any,
    children: dict[Any, list[Any]],
    leaves: dict[Any, list[tuple[str, int]]],
    meta: dict[Any, tuple[str, int | None, str | None]],
    max_nodes: int,
) -> list[dict[str, Any]]:
    """The drawable nodes of one tree (reposts expanded into leaves), at most `max_nodes`."""
    nodes: list[dict[str, Any]] = []
    stack: list[tuple[Any, Any, int]] = [(root, None, 0)]
    while stack and len(nodes) < max_nodes:
        n, par, d = stack.pop()
        kind, ts, platform = meta.get(n, ("post", None, None))
        nodes.append({"id": n, "parent": par, "depth": d, "kind": kind, "ts": ts,
                      "platform": platform})  # fmt: skip
        for lk, count in leaves.get(n, ()):
            for i in range(min(count, max_nodes - len(nodes))):
                nodes.append({"id": (n, lk, i), "parent": n, "depth": d + 1, "kind": lk,
                              "ts": None, "platform": platform})  # fmt: skip
        stack.extend((c, n, d + 1) for c in children.get(n, ()))
    return nodes


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


def cascades(conn: Connection, scope: Scope, top: int = 3) -> dict[str, Any]:
    """Reply/quote/repost cascades of the movement's mentions, from the amplification edges
    created in the range (a reply or quote is an edge with its own post, `via`; reposts and
    boosts are counted per post in SQL, never fetched one by one).

    Returns the number of cascades, a size/depth histogram, the ten largest (root, size, depth)
    and the node lists of the `top` largest (with the deepest swapped in), for drawing.
    """
    # The movement's edges (`movement_edge`: target already known to be in the movement).
    where = [
        ME.c.movement_id == scope.movement_id,
        ME.c.created_ts >= scope.start_ts,
        ME.c.created_ts < scope.end_ts,
    ]
    if scope.platforms:
        where.append(ME.c.platform.in_(scope.platforms))
    # Thread edges one row each (their own post, `via`, is unique) and reposts and boosts
    # counted per post: two reads of the covering index, neither sorting the thread edges
    # (one grouped query over both sorted all of them), as plain tuples streamed once through
    # `build_cascades` (`stream_rows`: the result is never held whole).
    links = stream_rows(
        conn,
        select(
            ME.c.via_mention_id,
            ME.c.target_mention_id,
            ME.c.kind,
            ME.c.created_ts,
            ME.c.platform,
        ).where(*where, ME.c.kind.in_(THREAD_KINDS), ME.c.via_mention_id.is_not(None)),
    )
    reposts = stream_rows(
        conn,
        select(ME.c.target_mention_id, ME.c.kind, func.count())
        .where(*where, ME.c.kind.in_(REPOST_KINDS))
        .group_by(ME.c.target_mention_id, ME.c.kind),
    )
    stats = build_cascades(links, reposts, draw=top)
    return {
        "count": stats.count,
        "histogram": [
            {"size": s, "depth": d, "cascades": n} for (s, d), n in sorted(stats.histogram.items())
        ],
        "largest": [{"root": c.root, "size": c.size, "depth": c.depth} for c in stats.largest],
        "trees": [
            {"root": c.root, "size": c.size, "depth": c.depth, "nodes": c.nodes}
            for c in stats.drawn
        ],
    }
