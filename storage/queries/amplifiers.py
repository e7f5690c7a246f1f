"""Amplifiers: who carries the conversation, the network they form, and whether it widens.

Definitions (docs/dashboard.md):
- amplification received by an account: edges (repost, boost, quote, reply, link, pingback,
  webmention) created in the range that point at its mentions of the movement; given: edges it
  made. Self-amplification (replying to or boosting oneself) is not counted;
- the network: bounded to the most active accounts so the layout and betweenness stay fast:
  the first 60 accounts of each ranking (amplification received, given; ties by account id;
  an account in both counts once, so at most 120), joined by the range's edges among them;
  an account with no edge to another of them is not drawn. Communities by Louvain modularity
  (fixed seed);
- bridges: accounts with the highest betweenness centrality in that bounded, undirected graph,
  with how many communities and platforms their neighbours span;
- widening, per day: active authors, first-time authors (first mention of the movement ever
  that day), returning authors, and instances and platforms active.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import networkx as nx
from sqlalchemy import (
    Column,
    Connection,
    Table,
    case,
    func,
    literal,
    select,
)

from domain.amplification import GROUP_OF, KIND_GROUPS
from storage.id_lists import among
from storage.models import Account, Amplification, Mention, MentionMatch, MovementAuthor
from storage.models_rollups import (
    AMPLIFIER_DAY_S,
    AMPLIFIER_PERIOD_S,
    MovementAmplifierDay,
    MovementAmplifierPeriod,
    MovementAuthorDay,
    MovementEdge,
    MovementInstanceDay,
    MovementPlatformDay,
)
from storage.queries import persons
from storage.queries.ethics import person_opted_out
from storage.queries.overview import (
    ends_after_data,
    first_in_range,
    instance_key,
    part_day_places,
)
from storage.queries.people import active_per_day, firsts_per_platform, part_cross_overcount
from storage.queries.scope import Scope, in_scope

MM = MentionMatch.__table__
MA = MovementAuthor.__table__
M = Mention.__table__
A = Account.__table__
AMP = Amplification.__table__
ME = MovementEdge.__table__
MAP = MovementAmplifierPeriod.__table__
MAMD = MovementAmplifierDay.__table__
MAD = MovementAuthorDay.__table__
MPD = MovementPlatformDay.__table__
MID = MovementInstanceDay.__table__


def summary(
    conn: Connection,
    scope: Scope,
    limit: int = 20,
    max_nodes: int = 120,
    by: str = "account",
    linked: persons.Linked | None = None,
) -> dict[str, Any]:
    """Rankings (received, given) and the network of the most active accounts (`by="account"`)
    or persons (`by="person"`, `summary_by_person`), without aggregating every edge of the
    range. This is what the Amplifiers page calls.

    Each ranking is an exact top-N (`_top_accounts`: day or period upper bounds, then exact
    counts of the few candidates). The network's nodes are the first `max_nodes // 2` accounts of
    each ranking (an account in both counts once), its edges the range's edges among them
    (`_pairs_among`: an index lookup per chosen account). `linked`: the page's view of the
    linked accounts (`persons.linked_view`), shared with its other person counts.
    """
    if by == "person":
        return summary_by_person(conn, scope, limit=limit, max_nodes=max_nodes, linked=linked)
    room = limit * 3  # opted-out accounts are left out of the lists afterwards
    half = max_nodes // 2
    by_side = {side: _top_accounts(conn, scope, side, max(room, half)) for side in ("dst", "src")}
    chosen = list(dict.fromkeys(r["a"] for side in ("dst", "src") for r in by_side[side][:half]))
    pairs = _pairs_among(conn, scope, chosen)
    wanted = {r["a"] for side in ("dst", "src") for r in by_side[side][:room]}
    wanted.update(chosen)
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


Ranked = list[dict[str, Any]]
Pairs = list[tuple[int, int, int]]


def summary_by_person(
    conn: Connection,
    scope: Scope,
    limit: int = 20,
    max_nodes: int = 120,
    linked: persons.Linked | None = None,
) -> dict[str, Any]:
    """`summary` by person: the rankings count a person's accounts together (amplifying any
    of one's own accounts left out; `persons.top_persons`, exact), an opt-out on any of a
    person's accounts keeps the person out of the lists, and the network's nodes are persons
    (the first `max_nodes // 2` of each ranking) joined by the range's edges among their
    accounts."""
    room = limit * 3
    half = max_nodes // 2
    view = persons.resolve_view(conn, scope.movement_id, linked)  # one read for both rankings

    def top(side: str, n: int) -> Ranked:
        return persons.top_persons(
            conn,
            scope,
            side,
            n,
            lambda k: _top_accounts(conn, scope, side, k),
            lambda ids: _exact(conn, scope, side, ids),
            lambda ids: _exact_pairs(conn, scope, side, ids),
            lambda ids: _period_bounds(conn, scope, side, ids),
            view,
            lambda need, per_person, probes: _hot_accounts(
                conn, scope, side, need, per_person, probes
            ),
        )

    by_side = {side: top(side, max(room, half)) for side in ("dst", "src")}
    chosen = list(dict.fromkeys(r["a"] for side in ("dst", "src") for r in by_side[side][:half]))
    wanted = {r["a"] for side in ("dst", "src") for r in by_side[side][:room]}
    wanted.update(chosen)
    info = persons.persons(conn, wanted)
    person_of = {a: p for p, i in info.items() for a in i["accounts"]}
    mine = [a for p in chosen for a in info.get(p, {}).get("accounts", [p])]
    collapsed: Counter[tuple[int, int]] = Counter()
    for s, t, n in _pairs_among(conn, scope, mine):
        ps, pt = person_of.get(s, s), person_of.get(t, t)
        if ps != pt:
            collapsed[(ps, pt)] += n
    labels = {
        p: {
            "platform": i["platforms"][0] if len(i["platforms"]) == 1 else "several platforms",
            "handle": ", ".join(i["handles"]) or None,
            "display_name": i["name"],
            "opted_out": i["opted_out"],
        }
        for p, i in info.items()
    }

    def ranked(side: str) -> list[dict[str, Any]]:
        out = []
        for r in by_side[side]:
            i = info.get(r["a"])
            if i is None or i["opted_out"]:
                continue
            out.append(
                {
                    "account_id": r["a"],
                    "person_id": r["a"],
                    "total": int(r["total"]),
                    **{name: int(r[name] or 0) for name in KIND_GROUPS},
                    "platform": ", ".join(i["platforms"]),
                    "platforms": list(i["platforms"]),
                    "accounts": len(i["accounts"]),
                    "handle": ", ".join(i["handles"]),
                    "display_name": i["name"],
                    "instance": None,
                }
            )
            if len(out) == limit:
                break
        return out

    pairs = [(s, t, n) for (s, t), n in sorted(collapsed.items())]
    return {
        "received": ranked("dst"),
        "given": ranked("src"),
        "network": analyse_network(pairs, labels, max_nodes=max_nodes),
    }


def _period_bounds(conn: Connection, scope: Scope, side: str, ids: list[int]) -> dict[int, int]:
    """Each of `ids`' edges received or given in the buckets the scope touches (its UTC days
    or its 16-day periods, `_buckets`): an upper bound of its count in the scope
    (primary-key probes)."""
    table, bucket, buckets = _buckets(scope)
    return {
        int(a): int(e)
        for a, e in conn.execute(
            select(table.c.account_id, func.sum(table.c.edges))
            .where(
                table.c.movement_id == scope.movement_id,
                table.c.side == side,
                bucket.in_(list(buckets)),
                among(conn, table.c.account_id, ids),
            )
            .group_by(table.c.account_id)
        )
    }


# `_hot_accounts` reads the top of the bucket lists only from this floor up: below it nearly
# every account of a list qualifies, and probing the linked accounts costs less.
HOT_FLOOR_MIN = 2


def _hot_accounts(
    conn: Connection, scope: Scope, side: str, need: int, per_person: int, accounts: int
) -> set[int] | None:
    """The accounts with at least ceil(need / (per_person * buckets)) edges in some bucket the
    scope touches (`_buckets`): any person of at most `per_person` accounts whose bound reaches
    `need` has one (pigeonhole, twice), read from the top of each bucket's list
    (`ix_mamp_period_top` / `ix_mamp_day_top`). None, to probe the `accounts` linked accounts'
    buckets instead, when the floor is below `HOT_FLOOR_MIN` or the top of the lists holds
    more rows than those probes would read (1M SQLite, 3,000 linked accounts, 30 days: the
    probes cost 86 ms, reading every row of 3+ edges 168 ms; 10M PostgreSQL, 30,001 linked
    accounts: the probes 1,116 ms, the top of the lists 239 ms)."""
    table, bucket, buckets = _buckets(scope)
    floor = -(-need // (per_person * len(buckets)))
    if floor < HOT_FLOOR_MIN:
        return None
    most = accounts * len(buckets)
    rows = conn.execute(
        select(table.c.account_id)
        .where(
            table.c.movement_id == scope.movement_id,
            table.c.side == side,
            bucket.in_(list(buckets)),
            table.c.edges >= floor,
        )
        .limit(most + 1)
    ).all()
    return None if len(rows) > most else {int(a) for (a,) in rows}


# A range touching at most this many UTC days is bounded by its days'
# `movement_amplifier_day` lists, a longer one by its 16-day periods. A period bounds a two-day
# range loosely (every account has its fortnight's edges as its bound), so most of its
# accounts were counted exactly; each day is one more list to read per round, and past a few
# days the day lists' summed cut-offs are no tighter than a period's. Measured on the 1M
# benchmark store (docs/benchmarks/dashboard.md, "Daily amplifier bounds for short ranges").
DAY_LISTS_MAX = 4


def _buckets(scope: Scope) -> tuple[Table, Column[Any], range]:
    """The rollup table, its bucket column and the buckets the scope touches whose counts
    bound the scope's: UTC days for a range of at most `DAY_LISTS_MAX` days, else periods."""
    d = AMPLIFIER_DAY_S
    days = range(scope.start_ts // d, (scope.end_ts - 1) // d + 1)
    if len(days) <= DAY_LISTS_MAX:
        return MAMD, MAMD.c.day, days
    p = AMPLIFIER_PERIOD_S
    return MAP, MAP.c.period, range(scope.start_ts // p, (scope.end_ts - 1) // p + 1)


def _exact_pairs(
    conn: Connection, scope: Scope, side: str, ids: list[int]
) -> list[tuple[int, int | None, str, int]]:
    """(account, the edge's other account, kind, edges) of the scope's edges between two of
    `ids` (linked accounts), seen from `side`: the edges among a person's own accounts, which
    the person's count leaves out."""
    if not ids:
        return []
    who = _side(side)
    other = ME.c.source_account_id if side == "dst" else ME.c.dst_account_id
    return [
        (int(a), int(o), kind, int(k))
        for a, o, kind, k in conn.execute(
            select(who, other, ME.c.kind, func.count())
            .where(*in_scope(ME, scope), among(conn, who, ids), among(conn, other, ids))
            .group_by(who, other, ME.c.kind)
        )
    ]


# Rows of each day or period list read in the first round; each further round reads four times as
# many. On the 1M benchmark store one to three rounds settle every filter.
FIRST_DEPTH = 256
# Candidates counted exactly per statement, largest upper bound first.
EXACT_CHUNK = 256
# A range with at most this many edges (per dialect) is ranked by one GROUP BY over its
# edges. The bounds come from 16-day periods and prove little for a range of hours: every
# count there is 1 or 2, so the threshold algorithm read most accounts of the period. Wall ms,
# bounds / GROUP BY: SQLite 1M, last 1, 3, 12, 24 hours (4k, 8k, 18k, 30k edges) 420 / 17,
# 473 / 27, 114 / 46, 52 / 66; PostgreSQL 10M, last 1, 6, 12, 24 hours (37k, 113k, 180k,
# 297k edges) 9,000 / 98, 964 / 260, 285 / 383, 100 / 608.
DIRECT_MAX_EDGES = {"sqlite": 20_000, "postgresql": 150_000}


def _top_accounts(conn: Connection, scope: Scope, side: str, n: int) -> Ranked:
    """The `n` accounts with most edges received (`side` = "dst") or given ("src") in the
    scope, with their kind split: exactly `GROUP BY account ORDER BY count DESC, account
    LIMIT n` over the scope's edges (self-amplification and unknown targets left out).

    The threshold algorithm over a partition of time into buckets whose counts are kept per
    account: `movement_amplifier_day` for a range of a few UTC days, `movement_amplifier_period`
    (16 days) otherwise (`_buckets`). An account's count in the range is at most the sum of
    its counts in the buckets the range touches, whatever the buckets' length. Read the
    `depth` largest rows of each such bucket (a list read to its end bounds the accounts
    missing from it by 0, a list cut off by its last value); every account not read has at
    most the sum of the cut-off values (`bound`) in the range. Count the accounts read
    exactly (`_exact`, by index per account), largest own bound first, skipping those whose
    own bound is below the n-th count found so far; when the n-th count exceeds `bound` no
    unread account can enter the list (an equal count could, with a smaller id, so the test is
    strict), otherwise read deeper. A range with few edges (`DIRECT_MAX_EDGES`) is grouped
    directly instead.
    """
    if _edges_at_most(conn, scope, DIRECT_MAX_EDGES[conn.dialect.name]):
        return _top_by_group_by(conn, scope, side, n)
    table, bucket, buckets = _buckets(scope)
    seen: set[int] = set()
    counted: dict[int, dict[str, Any]] = {}
    depth = FIRST_DEPTH
    while True:
        lists: list[tuple[dict[int, int], int]] = []
        for b in buckets:
            rows = conn.execute(
                select(table.c.account_id, table.c.edges)
                .where(
                    table.c.movement_id == scope.movement_id,
                    table.c.side == side,
                    bucket == b,
                )
                .order_by(table.c.edges.desc(), table.c.account_id.desc())
                .limit(depth)
            ).all()
            cut = int(rows[-1][1]) if len(rows) == depth else 0
            lists.append(({int(a): int(e) for a, e in rows}, cut))
        bound = sum(cut for _, cut in lists)
        fresh = {a for values, _ in lists for a in values} - seen
        seen |= fresh
        own = {a: sum(values.get(a, cut) for values, cut in lists) for a in fresh}
        order = sorted(fresh, key=lambda a: (-own[a], a))
        for i in range(0, len(order), EXACT_CHUNK):
            top = _top({a: r["total"] for a, r in counted.items() if r["total"]}, n)
            nth = top[-1][1] if len(top) == n else 0
            chunk = [a for a in order[i : i + EXACT_CHUNK] if own[a] >= nth]
            if not chunk:
                break  # the rest have still smaller bounds
            counted.update(_exact(conn, scope, side, chunk))
        top = _top({a: r["total"] for a, r in counted.items() if r["total"]}, n)
        if bound == 0 or (len(top) == n and top[-1][1] > bound):
            return [counted[a] for a, _ in top]
        depth *= 4


def _side(side: str) -> Any:
    return ME.c.dst_account_id if side == "dst" else ME.c.source_account_id


def _top_by_group_by(conn: Connection, scope: Scope, side: str, n: int) -> Ranked:
    """The top `n` by one GROUP BY over the scope's edges, ordered and cut in SQL, so only
    `n` rows reach Python (folding every account's per-kind rows took 170 ms of Python for
    the last hour at 10M)."""
    who = _side(side)
    total = func.count().label("total")
    groups = [
        func.sum(case((ME.c.kind.in_(kinds), 1), else_=0)).label(name)
        for name, kinds in KIND_GROUPS.items()
    ]
    rows = conn.execute(
        select(who.label("a"), total, *groups)
        .where(*in_scope(ME, scope), ME.c.source_account_id != ME.c.dst_account_id)
        .group_by(who)
        .order_by(total.desc(), who)
        .limit(n)
    ).all()
    return [{**r._mapping, "a": int(r.a), "total": int(r.total)} for r in rows]


def _edges_at_most(conn: Connection, scope: Scope, limit: int) -> bool:
    """Whether the scope holds at most `limit` edges: a count that stops after `limit` + 1
    index entries, so asking costs little even for a month at 10M."""
    first = select(literal(1)).where(*in_scope(ME, scope)).limit(limit + 1).subquery()
    return conn.execute(select(func.count()).select_from(first)).scalar_one() <= limit


def _exact(
    conn: Connection, scope: Scope, side: str, ids: Iterable[int]
) -> dict[int, dict[str, Any]]:
    """Edges received or given in the scope by each of `ids` that has any, with the kind
    split, through `ix_medge_dst` / `ix_medge_src`: counted per (account, kind) in SQL and
    folded into the groups here (CASE sums per group cost SQLite twice as much).
    Self-amplification and unknown targets are left out (`!=` with a NULL target is not
    true)."""
    who = _side(side)
    out: dict[int, dict[str, Any]] = {}
    for a, kind, k in conn.execute(
        select(who, ME.c.kind, func.count())
        .where(
            *in_scope(ME, scope),
            among(conn, who, ids),
            ME.c.source_account_id != ME.c.dst_account_id,
        )
        .group_by(who, ME.c.kind)
    ).all():
        row = out.get(a)
        if row is None:
            row = out[a] = {"a": a, "total": 0, **dict.fromkeys(KIND_GROUPS, 0)}
        row["total"] += k
        group = GROUP_OF.get(kind)
        if group is not None:
            row[group] += k
    return out


def _pairs_among(conn: Connection, scope: Scope, chosen: list[int]) -> Pairs:
    """(source, target, edges) of the scope's edges whose source and target are both in
    `chosen`, self-amplification left out."""
    if not chosen:
        return []
    ids = sorted(chosen)
    return [
        (int(s), int(t), int(n))
        for s, t, n in conn.execute(
            select(ME.c.source_account_id, ME.c.dst_account_id, func.count())
            .where(
                *in_scope(ME, scope),
                among(conn, ME.c.source_account_id, ids),
                among(conn, ME.c.dst_account_id, ids),
                ME.c.source_account_id != ME.c.dst_account_id,
            )
            .group_by(ME.c.source_account_id, ME.c.dst_account_id)
        )
    ]


def _top(counts: Mapping[Any, int], n: int) -> list[tuple[Any, int]]:
    """The `n` largest counts, ties broken by the smaller key: exactly SQL's
    `ORDER BY count DESC, key LIMIT n`."""
    return heapq.nsmallest(n, counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _accounts(conn: Connection, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    opted = func.coalesce(person_opted_out(A), literal(False))
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
            "name": None if hidden else a.get("display_name"),
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


def new_voices_per_day(
    conn: Connection, scope: Scope, by: str = "account", linked: persons.Linked | None = None
) -> list[dict[str, Any]]:
    """Authors (`by="account"`) or persons (`by="person"`) whose first mention of the
    movement falls on each UTC day, per platform of that first mention. A person's later
    accounts are not new voices when the person was heard before (`persons.later_firsts`)."""
    day = MA.c.first_ts // 86400
    counts: Counter[tuple[int, str]] = Counter()
    for d, p, n in conn.execute(
        select(day, MA.c.platform, func.count())
        .where(*in_scope(MA, scope, "first_ts"))
        .group_by(day, MA.c.platform)
    ):
        counts[(int(d), p)] += int(n)
    if by == "person":
        for ts, p in persons.later_firsts(conn, scope, linked):
            counts[(ts // 86400, p)] -= 1
    return [
        {"bucket_ts": d * 86400, "platform": p, "authors": n}
        for (d, p), n in sorted(counts.items())
        if n > 0
    ]


def widening(
    conn: Connection,
    scope: Scope,
    bucket_s: int = 86400,
    by: str = "account",
    linked: persons.Linked | None = None,
) -> list[dict[str, Any]]:
    """Per bucket: active, first-time and returning authors (`by="person"`: persons, the
    accounts' counts less the linked persons' overcount, `storage.queries.persons`);
    instances and platforms active.

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
    if by == "person":
        view = persons.resolve_view(conn, scope.movement_id, linked)
        for bb, k in persons.active_overcount_per_bucket(conn, scope, bucket_s, view).items():
            n_active, n_platforms = active[bb]
            active[bb] = (n_active - k, n_platforms)
        for ts, _ in persons.later_firsts(conn, scope, view):
            first[ts // bucket_s] = first.get(ts // bucket_s, 0) - 1
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
    people cells and the presence rollups (no distinct count over matches)."""

    def days(t: Any, *extra: Any) -> list[Any]:
        where = [t.c.movement_id == scope.movement_id, t.c.day >= lo_day, t.c.day < hi_day]
        if scope.platforms and "platform" in t.c:
            where.append(t.c.platform.in_(scope.platforms))
        return where + list(extra)

    # Distinct authors per day from the people cells (storage/queries/people.py): a few
    # hundred rows per day, where count(DISTINCT) over `movement_author_day` read every
    # author of every day (1.6 s for 30 days at 10M on PostgreSQL).
    n_authors = active_per_day(conn, scope, lo_day, hi_day)
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
    counts without grouping, and the instances from the hourly rollup (`part_day_places`)."""
    # The part's distinct authors per platform from the hour cells (storage/queries/people.py),
    # less the few counted on two platforms: a busy part-day no longer counts every match.
    per = firsts_per_platform(conn, scope, scope.start_ts, scope.end_ts, scope.start_ts)
    if per:
        active[bucket] = (sum(per.values()) - part_cross_overcount(conn, scope), len(per))
    if not scope.platforms or "mastodon" in scope.platforms:
        k = len(part_day_places(conn, scope))
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
