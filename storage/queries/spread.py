"""Spread: how the conversation travels across platforms, instances and reply trees.

Definitions (docs/dashboard.md):
- cumulative unique authors: distinct authors seen since the start of the range, per bucket;
- federation footprint: Mastodon instances and blog sites reached, counted at each one's first
  appearance in the movement ever (so the line starts at what was reached before the range);
- crossing time: delay between the first mention on the first platform in the range and the first
  mention on each other platform;
- cascade: a tree of mentions linked by reply/quote (from the mention's parent or an
  amplification edge with its own post) plus repost/boost leaves; size = nodes including the
  root, depth = longest root-to-leaf path in edges. Only trees of size >= 2 are cascades.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, exists, func, or_, select

from storage.models import Account, Amplification, Mention, MentionMatch, MovementAuthor
from storage.queries.overview import instance_key
from storage.queries.scope import Scope, in_scope

MM = MentionMatch.__table__
MA = MovementAuthor.__table__
M = Mention.__table__
A = Account.__table__
AMP = Amplification.__table__

REPOST_KINDS = ("repost", "boost")
THREAD_KINDS = ("reply", "quote")


def cumulative_authors(conn: Connection, scope: Scope, bucket_s: int) -> list[dict[str, int]]:
    """Per bucket: authors seen for the first time within the range, and the running total."""
    firsts = (
        select(MM.c.account_id, func.min(MM.c.created_ts).label("f"))
        .where(*in_scope(MM, scope), MM.c.account_id.is_not(None))
        .group_by(MM.c.account_id)
        .subquery()
    )
    b = firsts.c.f // bucket_s
    rows = conn.execute(select(b, func.count()).group_by(b).order_by(b)).all()
    out, total = [], 0
    for bucket, n in rows:
        total += int(n)
        out.append({"bucket_ts": int(bucket) * bucket_s, "new": int(n), "cumulative": total})
    return out


def footprint(conn: Connection, scope: Scope, bucket_s: int) -> dict[str, Any]:
    """Instances (Mastodon) and blog sites reached, by first appearance in the movement.

    `before`: how many of each were reached before the range; `rows`: per bucket and kind, the
    new ones and the running total; `places`: the places first reached in the range.
    """
    place = instance_key()
    kinds = [k for k in ("mastodon", "blog") if not scope.platforms or k in scope.platforms]
    if not kinds:
        return {"before": {}, "rows": [], "places": []}
    first = func.min(MA.c.first_ts)
    stmt = (
        select(place.label("place"), MA.c.platform, first.label("first_ts"))
        .select_from(MA.join(A, A.c.id == MA.c.account_id))
        .where(
            MA.c.movement_id == scope.movement_id,
            MA.c.platform.in_(kinds),
            MA.c.first_ts < scope.end_ts,
        )
        .group_by(place, MA.c.platform)
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
    """First mention per platform in the range, in order, with the crossing delays."""
    rows = conn.execute(
        select(MM.c.platform, func.min(MM.c.created_ts))
        .where(*in_scope(MM, scope))
        .group_by(MM.c.platform)
    ).all()
    ordered = sorted(((int(ts), p) for p, ts in rows))
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


def _is_ancestor(parent: dict[Any, Any], node: Any, start: Any) -> bool:
    """Is `node` on the path from `start` up to its root?"""
    n, steps = start, 0
    while n in parent and steps < 100_000:
        if n == node:
            return True
        n, steps = parent[n], steps + 1
    return n == node


def build_cascades(
    links: Iterable[tuple[int, int, str, int, str]],
    reposts: Iterable[tuple[int, int, str, int, str]],
) -> list[Cascade]:
    """Trees from (child, parent, kind, ts, platform) thread links and repost leaves
    (leaf_key, target, kind, ts, platform); largest first. Pure, so it is tested directly."""
    parent: dict[Any, Any] = {}
    meta: dict[Any, tuple[str, int, str]] = {}
    for child, par, kind, ts, platform in links:
        if child == par or child in parent or _is_ancestor(parent, child, par):
            continue  # duplicates and links that would close a cycle (hostile data) are cut
        parent[child] = par
        meta[child] = (kind, ts, platform)
    children: dict[Any, list[Any]] = defaultdict(list)
    for child, par in parent.items():
        children[par].append(child)
    for i, (_key, target, kind, ts, platform) in enumerate(reposts):
        node = ("repost", i)  # a repost has no post of its own: a leaf that collides with nothing
        children[target].append(node)
        meta[node] = (kind, ts, platform)

    def root_of(n: Any) -> Any:
        seen = set()
        while n in parent and n not in seen:
            seen.add(n)
            n = parent[n]
        return n

    roots = {root_of(n) for n in children}
    out = []
    for r in roots:
        nodes, depth = [], 0
        stack = [(r, None, 0)]
        visited = set()
        while stack:
            n, par, d = stack.pop()
            if n in visited:  # a cycle in hostile data: cut it
                continue
            visited.add(n)
            kind, ts, platform = meta.get(n, ("post", None, None))
            nodes.append(
                {"id": n, "parent": par, "depth": d, "kind": kind, "ts": ts, "platform": platform}
            )
            depth = max(depth, d)
            stack.extend((c, n, d + 1) for c in children.get(n, ()))
        if len(nodes) >= 2:
            out.append(Cascade(root=r, size=len(nodes), depth=depth, nodes=nodes))
    out.sort(key=lambda c: (-c.size, -c.depth, c.root))
    return out


def _showcase(trees: list[Cascade], top: int) -> list[Cascade]:
    """The largest trees, with the deepest one swapped in last when it is not among them
    (a long reply chain says more than the tenth repost of one post)."""
    chosen = trees[:top]
    if top >= 2 and trees:
        deepest = max(trees, key=lambda c: (c.depth, c.size))
        if all(deepest is not c for c in chosen):
            chosen[-1] = deepest
    return chosen


def cascades(conn: Connection, scope: Scope, top: int = 3) -> dict[str, Any]:
    """Reply/quote/repost cascades of the movement's mentions active in the range.

    Returns the number of cascades, a size/depth histogram, the ten largest (root, size, depth)
    and the full node lists of the `top` largest, for drawing.
    """
    in_movement = exists(
        select(MM.c.mention_id).where(
            MM.c.movement_id == scope.movement_id, MM.c.mention_id == AMP.c.target_mention_id
        )
    )
    amp_where = [AMP.c.created_ts >= scope.start_ts, AMP.c.created_ts < scope.end_ts, in_movement]
    if scope.platforms:
        amp_where.append(AMP.c.platform.in_(scope.platforms))
    links: list[tuple[int, int, str, int, str]] = []
    reposts: list[tuple[int, int, str, int, str]] = []
    for kind, src, target, via, ts, platform in conn.execute(
        select(
            AMP.c.kind,
            AMP.c.source_account_id,
            AMP.c.target_mention_id,
            AMP.c.via_mention_id,
            AMP.c.created_ts,
            AMP.c.platform,
        ).where(*amp_where)
    ):
        if kind in THREAD_KINDS and via is not None:
            links.append((via, target, kind, int(ts), platform))
        elif kind in REPOST_KINDS:
            reposts.append((src, target, kind, int(ts), platform))
    mm = MM.alias("mm")
    for mid, reply_to, quote_of, ts, platform in conn.execute(
        select(M.c.id, M.c.reply_to_id, M.c.quote_of_id, M.c.created_ts, M.c.platform)
        .select_from(mm.join(M, M.c.id == mm.c.mention_id))
        .where(
            *in_scope(mm, scope), or_(M.c.reply_to_id.is_not(None), M.c.quote_of_id.is_not(None))
        )
    ):
        parent = reply_to if reply_to is not None else quote_of
        links.append((mid, parent, "reply" if reply_to is not None else "quote", int(ts), platform))
    trees = build_cascades(links, reposts)
    hist: dict[tuple[int, int], int] = defaultdict(int)
    for c in trees:
        hist[(c.size, c.depth)] += 1
    return {
        "count": len(trees),
        "histogram": [{"size": s, "depth": d, "cascades": n} for (s, d), n in sorted(hist.items())],
        "largest": [{"root": c.root, "size": c.size, "depth": c.depth} for c in trees[:10]],
        "trees": [
            {"root": c.root, "size": c.size, "depth": c.depth, "nodes": c.nodes[:400]}
            for c in _showcase(trees, top)
        ],
    }
