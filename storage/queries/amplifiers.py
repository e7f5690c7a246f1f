"""Amplifiers: who carries the conversation, the network they form, and whether it widens.

Definitions (docs/dashboard.md):
- amplification received by an account: edges (repost, boost, quote, reply, link, pingback,
  webmention) created in the range that point at its mentions of the movement; given: edges it
  made. Self-amplification (replying to or boosting oneself) is not counted;
- the network: accounts joined by amplification, bounded to the most active accounts so the
  layout and betweenness stay fast; communities by Louvain modularity (fixed seed);
- bridges: accounts with the highest betweenness centrality in that bounded, undirected graph,
  with how many communities and platforms their neighbours span;
- widening, per day: active authors, first-time authors (first mention of the movement ever
  that day), returning authors, and instances and platforms active.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping
from itertools import compress
from operator import itemgetter
from typing import Any

import networkx as nx
from sqlalchemy import (
    BigInteger,
    Connection,
    case,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
)

from storage.models import Account, Amplification, Mention, MentionMatch, MovementAuthor
from storage.models_rollups import (
    MovementAuthorDay,
    MovementEdge,
    MovementInstanceDay,
    MovementPlatformDay,
)
from storage.queries.ethics import account_opted_out
from storage.queries.overview import ends_after_data, first_in_range, instance_key
from storage.queries.scope import Scope, in_scope, plain_rows

MM = MentionMatch.__table__
MA = MovementAuthor.__table__
M = Mention.__table__
A = Account.__table__
AMP = Amplification.__table__
ME = MovementEdge.__table__
MAD = MovementAuthorDay.__table__
MPD = MovementPlatformDay.__table__
MID = MovementInstanceDay.__table__

KIND_GROUPS = {
    "reposts": ("repost", "boost"),
    "quotes": ("quote",),
    "replies": ("reply",),
    "links": ("link", "pingback", "webmention"),
}


def _edges(scope: Scope) -> Any:
    """Amplification edges of the scope as a subquery: (kind, platform, src, dst).

    From `movement_edge` (storage/models_rollups.py): the edges whose target is a mention of
    the movement, with the target account already resolved (the edge's own when the collector
    knew it, else the target mention's author); one covering index range per scope.
    """
    where = [
        ME.c.movement_id == scope.movement_id,
        ME.c.created_ts >= scope.start_ts,
        ME.c.created_ts < scope.end_ts,
    ]
    if scope.platforms:
        where.append(ME.c.platform.in_(scope.platforms))
    return (
        select(
            ME.c.kind,
            ME.c.platform,
            ME.c.source_account_id.label("src"),
            ME.c.dst_account_id.label("dst"),
        )
        .where(*where)
        .subquery("edges")
    )


def summary(
    conn: Connection, scope: Scope, limit: int = 20, max_nodes: int = 120, max_pairs: int = 2000
) -> dict[str, Any]:
    """Rankings (received, given) and the bounded network from ONE pass over the scope's edges.

    Three aggregates of the same edges: per target account, per source account, per (source,
    target) pair; only the top rows are kept. On PostgreSQL they run in SQL (hash aggregates
    over one materialised CTE). On SQLite each GROUP BY sorts every edge of the range, so the
    edges are read once and counted in Python instead (`_aggregate_in_python`, same answer,
    about half the time at 30 days on the benchmark). This is what the Amplifiers page calls.
    """
    room = limit * 3  # opted-out accounts are left out of the lists afterwards
    if conn.dialect.name == "sqlite":
        by_side, pairs = _aggregate_in_python(conn, scope, room, max_pairs)
    else:
        by_side, pairs = _aggregate_in_sql(conn, scope, room, max_pairs)
    # Only the accounts shown: the ranked ones and the network's nodes (not every endpoint
    # of the 2,000 pairs).
    wanted = {r["a"] for side in ("dst", "src") for r in by_side[side]}
    wanted.update(network_nodes(pairs, max_nodes))
    accounts = _accounts(conn, wanted)

    def ranked(side: str) -> list[dict[str, Any]]:
        out = []
        for r in by_side[side]:
            info = accounts.get(r["a"])
            if info is None or info["opted_out"]:
                continue
            out.append(
                {
                    "account_id": r["a"],
                    "total": int(r["total"]),
                    **{name: int(r[name] or 0) for name in KIND_GROUPS},
                    "platform": info["platform"],
                    "handle": info["handle"],
                    "display_name": info["display_name"],
                    "instance": info["instance"],
                }
            )
            if len(out) == limit:
                break
        return out

    return {
        "received": ranked("dst"),
        "given": ranked("src"),
        "network": analyse_network(pairs, accounts, max_nodes=max_nodes),
    }


Ranked = dict[str, list[dict[str, Any]]]
Pairs = list[tuple[int, int, int]]


def _aggregate_in_sql(
    conn: Connection, scope: Scope, room: int, max_pairs: int
) -> tuple[Ranked, Pairs]:
    """The top `room` targets and sources (with their kind split) and the `max_pairs`
    heaviest pairs, in SQL from one materialised CTE (PostgreSQL: hash aggregates)."""
    e = _edges(scope)
    edges = (
        select(e.c.src, e.c.dst, e.c.kind)
        .where(e.c.dst.is_not(None), e.c.src != e.c.dst)
        .cte("scope_edges")
        .prefix_with("MATERIALIZED")
    )

    def ranked_stmt(side: str) -> Any:
        who = edges.c[side]
        total = func.count().label("total")
        cols = [
            literal(side).label("side"),
            who.label("a"),
            cast(null(), BigInteger).label("b"),
            total,
            *(
                func.sum(case((edges.c.kind.in_(kinds), 1), else_=0)).label(name)
                for name, kinds in KIND_GROUPS.items()
            ),
        ]
        return select(*cols).group_by(who).order_by(total.desc(), who).limit(room)

    w = func.count().label("total")
    pair_stmt = (
        select(
            literal("pair").label("side"),
            edges.c.src.label("a"),
            edges.c.dst.label("b"),
            w,
            *(literal(0).label(name) for name in KIND_GROUPS),
        )
        .group_by(edges.c.src, edges.c.dst)
        .order_by(w.desc(), edges.c.src, edges.c.dst)
        .limit(max_pairs)
    )
    parts = [ranked_stmt("dst").subquery(), ranked_stmt("src").subquery(), pair_stmt.subquery()]
    by_side: Ranked = {"dst": [], "src": []}
    pairs: Pairs = []
    for r in conn.execute(union_all(*(select(p) for p in parts))):
        if r.side == "pair":
            pairs.append((r.a, r.b, int(r.total)))
        else:
            groups = {name: int(getattr(r, name) or 0) for name in KIND_GROUPS}
            by_side[r.side].append({"a": r.a, "total": int(r.total), **groups})
    return by_side, pairs


def _top(counts: Mapping[Any, int], n: int) -> list[tuple[Any, int]]:
    """The `n` largest counts, ties broken by the smaller key: exactly SQL's
    `ORDER BY count DESC, key LIMIT n`, without sorting every key with a Python key function
    (most edge pairs occur once, so most counts tie at the threshold)."""
    if len(counts) <= n:
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    threshold = heapq.nlargest(n, counts.values())[-1]
    above = [(k, c) for k, c in counts.items() if c > threshold]
    ties = heapq.nsmallest(n - len(above), (k for k, c in counts.items() if c == threshold))
    return sorted(above, key=lambda kv: (-kv[1], kv[0])) + [(k, threshold) for k in ties]


PYTHON_COUNT_MAX_EDGES = 500_000


def _aggregate_in_python(
    conn: Connection, scope: Scope, room: int, max_pairs: int
) -> tuple[Ranked, Pairs]:
    """What `_aggregate_in_sql` returns, from one read of the scope's edges (plain tuples from
    the covering index `ix_medge_cover`) counted with `Counter`: SQLite has no hash aggregate,
    and three sorts of every edge cost twice as much as this. Memory grows with the edges
    (about 230 MB peak at 30 days of the 1M benchmark, 176k edges), so a range holding more
    than `PYTHON_COUNT_MAX_EDGES` goes back to SQL, whose sorts spill to disk instead."""
    e = _edges(scope)
    rows = plain_rows(
        conn,
        select(e.c.src, e.c.dst, e.c.kind)
        .where(e.c.dst.is_not(None), e.c.src != e.c.dst)
        .limit(PYTHON_COUNT_MAX_EDGES + 1),
    )
    if len(rows) > PYTHON_COUNT_MAX_EDGES:
        del rows
        return _aggregate_in_sql(conn, scope, room, max_pairs)
    srcs = list(map(itemgetter(0), rows))
    dsts = list(map(itemgetter(1), rows))
    group_of = {k: name for name, kinds in KIND_GROUPS.items() for k in kinds}
    by_side: Ranked = {}
    for side, keys, col in (("dst", dsts, 1), ("src", srcs, 0)):
        top = _top(Counter(keys), room)
        chosen = {a for a, _ in top}
        # The kind split only for the chosen accounts' edges (picked out in C).
        split: Counter[tuple[Any, str]] = Counter(
            (r[col], group_of.get(r[2], "")) for r in compress(rows, map(chosen.__contains__, keys))
        )
        by_side[side] = [
            {"a": a, "total": n, **{g: split[(a, g)] for g in KIND_GROUPS}} for a, n in top
        ]
    pairs = [(a, b, n) for (a, b), n in _top(Counter(zip(srcs, dsts, strict=True)), max_pairs)]
    return by_side, pairs


def _accounts(conn: Connection, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    opted = func.coalesce(account_opted_out(A), literal(False))
    id_list = sorted(ids)
    out: dict[int, dict[str, Any]] = {}
    for i in range(0, len(id_list), 500):
        for r in conn.execute(
            select(
                A.c.id,
                A.c.platform,
                A.c.handle,
                A.c.display_name,
                A.c.instance,
                opted.label("opted_out"),
            ).where(A.c.id.in_(id_list[i : i + 500]))
        ):
            out[r.id] = {**r._mapping, "opted_out": bool(r.opted_out)}
    return out


def ranked_received(conn: Connection, scope: Scope, limit: int = 20) -> list[dict[str, Any]]:
    """Accounts whose mentions were amplified most in the range (opted-out accounts left out
    of the list; they still count in everyone else's totals)."""
    return summary(conn, scope, limit=limit)["received"]


def ranked_given(conn: Connection, scope: Scope, limit: int = 20) -> list[dict[str, Any]]:
    """Accounts that amplified the movement's mentions most in the range."""
    return summary(conn, scope, limit=limit)["given"]


def network_nodes(pairs: Iterable[tuple[int, int, int]], max_nodes: int) -> list[int]:
    """The `max_nodes` accounts with the largest weighted degree (edges given + received)
    among `pairs`, ties by account id: the nodes `analyse_network` keeps."""
    degree: Counter[int] = Counter()
    for s, t, w in pairs:
        if s == t or s is None or t is None:
            continue
        degree[s] += int(w)
        degree[t] += int(w)
    return [
        n for n, _ in heapq.nsmallest(max_nodes, degree.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def analyse_network(
    pairs: Iterable[tuple[int, int, int]],
    accounts: Mapping[int, Mapping[str, Any]],
    *,
    max_nodes: int = 120,
    seed: int = 7,
) -> dict[str, Any]:
    """Bounded amplification network with communities and betweenness. Pure, tested directly.

    `pairs`: (source account, target account, edges). Keeps the `max_nodes` accounts with the
    largest weighted degree, so layout and betweenness cost stay bounded at any data size.
    """
    pairs = list(pairs)
    g = nx.DiGraph()
    for s, t, w in pairs:
        if s == t or s is None or t is None:
            continue
        g.add_edge(s, t, weight=int(w))
    if g.number_of_nodes() == 0:
        return {"nodes": [], "edges": [], "bridges": []}
    sub = g.subgraph(network_nodes(pairs, max_nodes)).copy()
    und = sub.to_undirected()
    comms = nx.community.louvain_communities(und, weight="weight", seed=seed) if und.edges else []
    community = {n: i for i, c in enumerate(sorted(comms, key=len, reverse=True)) for n in c}
    between = nx.betweenness_centrality(und, normalized=True)
    received = dict(sub.in_degree(weight="weight"))
    given = dict(sub.out_degree(weight="weight"))
    pos = nx.spring_layout(und, seed=seed, weight="weight", iterations=30) if len(und) else {}

    def label(n: int) -> dict[str, Any]:
        a = accounts.get(n, {})
        hidden = bool(a.get("opted_out"))
        return {
            "id": n,
            "label": "opted-out account" if hidden else (a.get("handle") or f"account {n}"),
            "platform": a.get("platform") or "unknown",
            "opted_out": hidden,
        }

    nodes = [
        {
            **label(n),
            "received": int(received.get(n, 0)),
            "given": int(given.get(n, 0)),
            "community": community.get(n, -1),
            "betweenness": float(between.get(n, 0.0)),
            "x": float(pos[n][0]) if n in pos else 0.0,
            "y": float(pos[n][1]) if n in pos else 0.0,
        }
        for n in sub.nodes
    ]
    bridges = []
    for n in sorted(between, key=lambda n: (-between[n], n)):
        if between[n] <= 0 or len(bridges) >= 10:
            break
        neigh = set(und.neighbors(n)) | {n}
        info = label(n)
        if info["opted_out"]:
            continue
        bridges.append(
            {
                **info,
                "betweenness": round(float(between[n]), 4),
                "communities": len({community.get(x, -1) for x in neigh}),
                "platforms": len({accounts.get(x, {}).get("platform") for x in neigh}),
            }
        )
    edges = [{"source": s, "target": t, "weight": d["weight"]} for s, t, d in sub.edges(data=True)]
    return {"nodes": nodes, "edges": edges, "bridges": bridges}


def network(conn: Connection, scope: Scope, max_nodes: int = 120) -> dict[str, Any]:
    """The amplification network of the scope, bounded (see `analyse_network`)."""
    return summary(conn, scope, max_nodes=max_nodes)["network"]


def new_voices_per_day(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Authors whose first mention of the movement falls on each UTC day, per platform."""
    day = MA.c.first_ts // 86400
    rows = conn.execute(
        select(day, MA.c.platform, func.count())
        .where(*in_scope(MA, scope, "first_ts"))
        .group_by(day, MA.c.platform)
        .order_by(day)
    )
    return [{"bucket_ts": int(d) * 86400, "platform": p, "authors": int(n)} for d, p, n in rows]


def widening(conn: Connection, scope: Scope, bucket_s: int = 86400) -> list[dict[str, Any]]:
    """Per bucket: active, first-time and returning authors; instances and platforms active.

    An author whose first mention ever falls in a bucket is necessarily active in it, so
    first-time authors come from the per-movement author table and returning = active -
    first-time. With daily buckets (the page's), the whole UTC days of the range are read from
    the per-day presence rollups (storage/models_rollups.py) and only the part-days at either
    end from the covering match index (each author's first match per bucket); other bucket
    sizes use the matches throughout.
    """
    active: dict[int, tuple[int, int]] = {}
    inst: dict[int, int] = {}
    parts = [scope]
    if bucket_s == 86400:
        lo_day = -(-scope.start_ts // 86400)
        # A range ending after the newest mention holds all of its last day's activity.
        hi_day = (
            -(-scope.end_ts // 86400) if ends_after_data(conn, scope) else scope.end_ts // 86400
        )
        if lo_day < hi_day:
            _widening_days(conn, scope, lo_day, hi_day, active, inst)
        # The part-days at either end (two when no whole day lies between, one when the
        # range sits inside a day), each inside one bucket.
        cut_lo = min(scope.end_ts, lo_day * 86400)
        cut_hi = max(cut_lo, hi_day * 86400)
        parts = [
            scope.shifted(lo, hi)
            for lo, hi in ((scope.start_ts, cut_lo), (cut_hi, scope.end_ts))
            if lo < hi
        ]
    for part in parts:
        _widening_matches(conn, part, bucket_s, active, inst)
    fb = MA.c.first_ts // bucket_s
    first = {
        int(bb): int(n)
        for bb, n in conn.execute(
            select(fb, func.count()).where(*in_scope(MA, scope, "first_ts")).group_by(fb)
        )
    }
    out = []
    for bb in sorted(active):
        n_active, n_platforms = active[bb]
        n_first = min(first.get(bb, 0), n_active)
        out.append(
            {
                "bucket_ts": bb * bucket_s,
                "active": n_active,
                "first_time": n_first,
                "returning": n_active - n_first,
                "first_time_share": n_first / n_active if n_active else 0.0,
                "platforms": n_platforms,
                "instances": inst.get(bb, 0),
            }
        )
    return out


def _widening_days(
    conn: Connection,
    scope: Scope,
    lo_day: int,
    hi_day: int,
    active: dict[int, tuple[int, int]],
    inst: dict[int, int],
) -> None:
    """Active authors, platforms and instances of whole days `[lo_day, hi_day)`, from the
    presence rollups (no distinct count over matches)."""

    def days(t: Any, *extra: Any) -> list[Any]:
        where = [t.c.movement_id == scope.movement_id, t.c.day >= lo_day, t.c.day < hi_day]
        if scope.platforms and "platform" in t.c:
            where.append(t.c.platform.in_(scope.platforms))
        return where + list(extra)

    # count(DISTINCT) per day walks the primary key in (day, account) order: half the time
    # of a DISTINCT subquery counted afterwards (SQLite, 30 days).
    n_authors = {
        int(d): int(n)
        for d, n in conn.execute(
            select(MAD.c.day, func.count(func.distinct(MAD.c.account_id)))
            .where(*days(MAD))
            .group_by(MAD.c.day)
        )
    }
    n_platforms = {
        int(d): int(n)
        for d, n in conn.execute(
            select(MPD.c.day, func.count()).where(*days(MPD)).group_by(MPD.c.day)
        )
    }
    for d, n in n_authors.items():
        active[int(d)] = (int(n), int(n_platforms.get(d, 0)))
    if not scope.platforms or "mastodon" in scope.platforms:
        for d, n in conn.execute(
            select(MID.c.day, func.count()).where(*days(MID)).group_by(MID.c.day)
        ):
            inst[int(d)] = int(n)


def _widening_matches(
    conn: Connection,
    scope: Scope,
    bucket_s: int,
    active: dict[int, tuple[int, int]],
    inst: dict[int, int],
) -> None:
    """What `_widening_raw` computes, from each author's first match per bucket only (its
    `prev_ts` before the bucket's start within the scope: storage/match_chain.py), so the
    distinct counts run over authors instead of every match."""
    b = MM.c.created_ts // bucket_s
    if scope.start_ts // bucket_s == (scope.end_ts - 1) // bucket_s:
        _widening_one_bucket(conn, scope, scope.start_ts // bucket_s, active, inst)
        return
    start = case((b * bucket_s > scope.start_ts, b * bucket_s), else_=scope.start_ts)
    firsts = [*in_scope(MM, scope), first_in_range(scope, start)]
    # One row per author and bucket already: the (bucket, author) pairs need no DISTINCT.
    _widening_grouped(conn, scope, b, firsts, active, inst, distinct_pairs=False)


def _widening_grouped(
    conn: Connection,
    scope: Scope,
    b: Any,
    where: list[Any],
    active: dict[int, tuple[int, int]],
    inst: dict[int, int],
    *,
    distinct_pairs: bool,
) -> None:
    """Distinct authors and platforms per bucket `b` of the matches `where` selects, and the
    distinct Mastodon instances of their authors (shared by the fast path and the definition)."""
    for bb, n, p in conn.execute(
        select(
            b,
            func.count(func.distinct(MM.c.account_id)),
            func.count(func.distinct(MM.c.platform)),
        )
        .where(*where)
        .group_by(b)
    ):
        active[int(bb)] = (int(n), int(p))
    if not scope.platforms or "mastodon" in scope.platforms:
        pairs = select(b.label("b"), MM.c.account_id).where(*where, MM.c.platform == "mastodon")
        if distinct_pairs:
            pairs = pairs.distinct()
        sub = pairs.subquery()
        for bb, n in conn.execute(
            select(sub.c.b, func.count(func.distinct(instance_key())))
            .select_from(sub.join(A, A.c.id == sub.c.account_id))
            .group_by(sub.c.b)
        ):
            inst[int(bb)] = int(n)


def _widening_one_bucket(
    conn: Connection,
    scope: Scope,
    bucket: int,
    active: dict[int, tuple[int, int]],
    inst: dict[int, int],
) -> None:
    """`_widening_matches` for a scope inside one bucket (the part-days of a range): the same
    counts without grouping, and the instances through an IN list of the authors."""
    firsts = [*in_scope(MM, scope), first_in_range(scope)]
    n, p = conn.execute(
        select(
            func.count(func.distinct(MM.c.account_id)), func.count(func.distinct(MM.c.platform))
        ).where(*firsts)
    ).one()
    if n:
        active[bucket] = (int(n), int(p))
    if not scope.platforms or "mastodon" in scope.platforms:
        authors = select(MM.c.account_id).where(*firsts, MM.c.platform == "mastodon")
        k = conn.execute(
            select(func.count(func.distinct(instance_key()))).where(A.c.id.in_(authors))
        ).scalar()
        if k:
            inst[bucket] = int(k)


def _widening_raw(
    conn: Connection,
    scope: Scope,
    bucket_s: int,
    active: dict[int, tuple[int, int]],
    inst: dict[int, int],
) -> None:
    """Active authors, platforms and instances per bucket by distinct counts over every match:
    the definition `_widening_matches` is tested against."""
    b = MM.c.created_ts // bucket_s
    where = [*in_scope(MM, scope), MM.c.account_id.is_not(None)]
    _widening_grouped(conn, scope, b, where, active, inst, distinct_pairs=True)
