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
import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
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


Meta = tuple[str, int | None, str | None]  # a linked node's link kind, time and platform
MetaLookup = Callable[[list[tuple[Any, Any]]], Mapping[Any, Meta]]
# Levels measured by whole-dict passes before the rest is walked node by node (each pass reads
# every node not placed yet, so a pathological chain must not get one pass per link).
_LEVEL_PASSES = 24


def build_cascades(
    links: Iterable[tuple[Any, Any]],
    reposts: Mapping[str, Mapping[Any, int]],
    meta: MetaLookup | None = None,
    *,
    max_nodes: int = 400,
    draw: int = 3,
    keep: int = 10,
) -> CascadeStats:
    """Trees from thread links (child, parent), in read order, and repost counts per kind
    (kind -> {target: count > 0}). Pure, so it is tested directly.

    Reposts are leaves hanging off the post they repost. Most cascades are "stars" (a post and
    its reposts, no replies): those are counted with set and Counter operations, never one by
    one in Python. The links become a child -> parent dict in one call; each node's root and
    depth are found level by level with whole-dict passes (`_measure`). Only when the links
    repeat a child, link a post to itself or close a cycle (hostile data) are they rebuilt
    link by link (`_cut`: the first link of a child wins, a link that would close a cycle is
    cut), which gives the same trees as reading them one by one always did.

    `meta(pairs)` gives (kind, time, platform) of the linked nodes to draw, asked once for the
    few hundred nodes drawn (the page reads it from the store; nothing else needs it).
    """
    pairs = links if isinstance(links, list) else list(links)
    parent: dict[Any, Any] = dict(pairs)
    measured = _measure(parent) if len(parent) == len(pairs) else None
    if measured is None:
        parent = _cut(pairs)
        measured = _measure(parent)
        assert measured is not None  # no cycle is left after `_cut`
    root_of, depth, deepest = measured

    # Per root: linked nodes below it (then + reposts), and its depth.
    size: Counter[Any] = Counter(root_of.values())
    kinds = list(reposts)
    total: Counter[Any] = Counter()
    for k in kinds:
        total.update(reposts[k])
    for t in total.keys() & root_of.keys():  # reposts of replies and quotes
        r = root_of[t]
        size[r] += total[t]
        d = depth[t] + 1
        if d > deepest[r]:
            deepest[r] = d
    for t in total.keys() & size.keys():  # reposts of a tree's root (depth 1, never deeper)
        size[t] += total[t]
    stars = total.keys() - root_of.keys() - size.keys()

    stats = CascadeStats()
    stats.count = len(size) + len(stars)
    one = (1).__add__
    stats.histogram.update(
        zip(map(one, size.values()), map(deepest.__getitem__, size), strict=True)
    )
    for n, c in Counter(map(total.__getitem__, stars)).items():
        stats.histogram[(n + 1, 1)] += c

    # The `keep` largest (size, depth, smallest root first), trees and stars alike: only the
    # ones at least as large as the keep-th largest size (read off the histogram) are sorted.
    sizes: Counter[int] = Counter()
    for (s, _), c in stats.histogram.items():
        sizes[s] += c
    floor, seen = 0, 0  # in nodes below the root (size - 1), as `size` and `total` count
    for s in sorted(sizes, reverse=True):
        seen += sizes[s]
        if seen >= keep:
            floor = s - 1
            break
    cands = [(n + 1, deepest[r], r) for r, n in size.items() if n >= floor]
    cands.extend((total[t] + 1, 1, t) for t in stars if total[t] >= floor)
    kept = heapq.nsmallest(keep, cands, key=lambda t: (-t[0], -t[1], t[2]))
    stats.largest = [Cascade(root=r, size=s, depth=d) for s, d, r in kept]

    deepest_tree = None  # the deepest (then largest) tree; of equals, the smallest root
    top_d = max(deepest.values(), default=1 if stars else 0)
    if top_d:
        deep = [r for r, d in deepest.items() if d == top_d]
        best = [(size[r], r) for r in deep]
        if top_d == 1:
            best.extend((total[t], t) for t in stars)
        top_n = max(n for n, _ in best)
        r = min(r for n, r in best if n == top_n)
        deepest_tree = next(
            (c for c in stats.largest if c.root == r),
            Cascade(root=r, size=top_n + 1, depth=top_d),
        )
    stats.drawn = _showcase(stats.largest, draw, deepest_tree)

    # Node lists, for the drawn trees only: their links in read order, their reposts as
    # leaves per kind (a star's drawn as one group of its first kind), their meta.
    drawn = {c.root for c in stats.drawn}
    children: dict[Any, list[Any]] = defaultdict(list)
    linked = [c for c in parent if root_of[c] in drawn]
    for child in linked:
        children[parent[child]].append(child)
    members = [*drawn, *linked]
    leaves: dict[Any, list[tuple[str, int]]] = {}
    for n in members:
        if n in stars:
            leaves[n] = [(next(k for k in kinds if n in reposts[k]), total[n])]
        elif n in total:
            leaves[n] = [(k, reposts[k][n]) for k in kinds if n in reposts[k]]
    for c in stats.drawn:
        shown = _tree_nodes(c.root, children, leaves, {}, max_nodes)
        wanted = [(x["id"], parent[x["id"]]) for x in shown if x["parent"] is not None
                  and x["id"] in parent]  # fmt: skip
        found = dict(meta(wanted)) if meta is not None and wanted else {}
        c.nodes = _tree_nodes(c.root, children, leaves, found, max_nodes)
    return stats


def _cut(pairs: Iterable[tuple[Any, Any]]) -> dict[Any, Any]:
    """child -> parent from links read one by one: a child's first link wins; a link to itself
    or one that would close a cycle is cut (a union-find towards each tree's root finds it)."""
    parent: dict[Any, Any] = {}
    up: dict[Any, Any] = {}

    def find(n: Any) -> Any:
        root = n
        while root in up:
            root = up[root]
        while n in up and up[n] is not root:  # path compression
            up[n], n = root, up[n]
        return root

    for child, par in pairs:
        if child == par or child in parent or (par in up and find(par) == child):
            continue
        parent[child] = par
        up[child] = par
    return parent


def _measure(
    parent: dict[Any, Any],
) -> tuple[dict[Any, Any], dict[Any, int], dict[Any, int]] | None:
    """Each linked node's root and depth, and each root's deepest depth; None when the links
    hold a cycle (or a post linked to itself).

    Level by level: level 1 are the children of posts that are no one's child; level d + 1
    the children of level d. Each level is one dict comprehension over the nodes not placed
    yet, so the Python work per node is a few C-level dict operations. Past `_LEVEL_PASSES`
    levels the rest is walked up node by node, memoised (each node walked once).
    """
    root_of = {c: p for c, p in parent.items() if p not in parent}
    depth = dict.fromkeys(root_of, 1)
    deepest = dict.fromkeys(root_of.values(), 1)
    rest = {c: p for c, p in parent.items() if p in parent}
    level, d = root_of, 1
    while rest and d < _LEVEL_PASSES:
        d += 1
        level = {c: root_of[p] for c, p in rest.items() if p in level}
        if not level:
            return None  # every node left hangs off a cycle
        root_of.update(level)
        depth.update(dict.fromkeys(level, d))
        deepest.update(zip(level.values(), itertools.repeat(d)))
        rest = {c: p for c, p in rest.items() if c not in level}
    for n in rest:
        if n in depth:
            continue
        path: list[Any] = []
        on_path: set[Any] = set()
        while n not in depth:  # every node of `rest` has a parent that is someone's child
            if n in on_path:
                return None
            path.append(n)
            on_path.add(n)
            n = parent[n]
        r, dn = root_of[n], depth[n]
        for x in reversed(path):
            dn += 1
            depth[x] = dn
            root_of[x] = r
        if dn > deepest[r]:
            deepest[r] = dn
    return root_of, depth, deepest


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
    boosts are counted per post).

    Returns the number of cascades, a size/depth histogram, the ten largest (root, size, depth)
    and the node lists of the `top` largest (with the deepest swapped in), for drawing.
    """
    # The movement's edges (`movement_edge`: target already known to be in the movement).
    where = in_scope(ME, scope)
    # One read per kind of `ix_medge_kind` (kind before time: only that kind's edges of the
    # range are stepped over), integers only: the kind is known from the query, and a link's
    # time and platform (a string per row) are asked for only for the few nodes drawn. Links
    # are streamed (`stream_rows`): the result is never held whole.
    links = itertools.chain.from_iterable(
        stream_rows(
            conn,
            select(ME.c.via_mention_id, ME.c.target_mention_id).where(
                *where, ME.c.kind == kind, ME.c.via_mention_id.is_not(None)
            ),
        )
        for kind in THREAD_KINDS
    )
    reposts = {kind: _repost_counts(conn, where, kind) for kind in REPOST_KINDS}

    def meta(pairs: list[tuple[Any, Any]]) -> dict[Any, Meta]:
        """(kind, time, platform) of the drawn links, each the first of its (child, parent)
        in the order the links were read (reply before quote)."""
        wanted = dict(pairs)
        found: dict[Any, Meta] = {}
        for kind in THREAD_KINDS:
            for ids in _chunks(sorted(wanted), 500):
                rows = conn.execute(
                    select(ME.c.via_mention_id, ME.c.target_mention_id, ME.c.created_ts,
                           ME.c.platform)
                    .where(*where, ME.c.kind == kind, ME.c.via_mention_id.in_(ids))
                )  # fmt: skip
                for child, par, ts, platform in rows:
                    if wanted[child] == par and child not in found:
                        found[child] = (kind, int(ts), platform)
        return found

    stats = build_cascades(links, reposts, meta, draw=top)
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


def _repost_counts(conn: Connection, where: list[Any], kind: str) -> dict[int, int]:
    """Reposts (or boosts) of each post in the range.

    SQLite: the target ids of the range as one `group_concat` string, split and counted with
    `Counter` (a GROUP BY sorted every edge first; a row per edge cost ~0.3 us each in the
    driver, a third more than the string; 116k ids at 30 days on the 1M benchmark store are a
    ~1 MB string). PostgreSQL: its hash aggregate, streamed, one row per post.
    """
    if conn.dialect.name == "postgresql":
        stmt = (
            select(ME.c.target_mention_id, func.count())
            .where(*where, ME.c.kind == kind)
            .group_by(ME.c.target_mention_id)
        )
        return dict(stream_rows(conn, stmt))
    ids = conn.execute(
        select(func.group_concat(ME.c.target_mention_id)).where(*where, ME.c.kind == kind)
    ).scalar()
    return {int(t): n for t, n in Counter(ids.split(",")).items()} if ids else {}


def _chunks(xs: list[Any], n: int) -> Iterator[list[Any]]:
    for i in range(0, len(xs), n):
        yield xs[i : i + n]
