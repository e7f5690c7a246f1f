"""Cascades kept at write time (`storage.cascades`, migration 0027) equal a straight
recomputation from the raw edges under the definition of docs/dashboard.md ("Cascades": the
trees started by the movement's posts published in the range, as large as they have grown),
whatever order, repetition or batching the writes came in (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from domain.records import EdgeRecord
from storage.cascades import REPOST_KINDS, THREAD_KINDS, measure, rebuild
from storage.engine import write_tx
from storage.models_cascades import CascadeDay, CascadeNode, CascadeRoot
from storage.queries import spread
from storage.queries.scope import Scope, list_movements
from storage.write import write_batch
from tests.factories import T0, account, batch, mention, movement, write_concurrently

H = 3600
T0_TS = int(T0.timestamp())


# -- the reference: straight from `amplification` and `mention_match`, walking every tree ----


def _reference(engine: Any, scope: Scope, keep: int = 10, top: int = 3) -> dict[str, Any]:
    with engine.connect() as conn:
        edges = conn.execute(
            text(
                "SELECT a.id, a.kind, a.created_ts, a.platform, a.target_mention_id, "
                "a.via_mention_id FROM amplification a JOIN mention_match mm "
                "ON mm.mention_id = a.target_mention_id AND mm.movement_id = :mv"
            ),
            {"mv": scope.movement_id},
        ).all()
        posts = {
            r[0]: (r[1], r[2])
            for r in conn.execute(
                text("SELECT mention_id, created_ts, platform FROM mention_match "
                     "WHERE movement_id = :mv"),
                {"mv": scope.movement_id},
            )
        }  # fmt: skip
    best: dict[int, tuple[tuple[int, int, int], int, str, int, str]] = {}
    leaves: dict[int, list[tuple[str, int]]] = defaultdict(list)
    counts: dict[tuple[int, str], int] = defaultdict(int)
    nodes: set[int] = set()
    for eid, kind, ts, platform, target, via in edges:
        if kind in REPOST_KINDS:
            counts[(target, kind)] += 1
            nodes.add(target)
        elif kind in THREAD_KINDS and via is not None and via != target:
            key = (THREAD_KINDS.index(kind), ts, eid)
            if via not in best or key < best[via][0]:
                best[via] = (key, target, kind, ts, platform)
            nodes.update((via, target))
    for (t, k), n in sorted(counts.items(), key=lambda kv: REPOST_KINDS.index(kv[0][1])):
        leaves[t].append((k, n))
    parent = {c: b[1] for c, b in best.items()}
    # Cycles: walk up from every post; a walk that meets itself found a cycle, cut above its
    # smallest post.
    cut: set[int] = set()
    for start in nodes:
        path: list[int] = []
        n = start
        while n in parent and n not in path and n not in cut:
            path.append(n)
            n = parent[n]
        if n in path:
            cut.add(min(path[path.index(n) :]))

    def up(n: int) -> tuple[int, int]:
        d = 0
        while n in parent and n not in cut:
            n, d = parent[n], d + 1
        return n, d

    trees: dict[int, list[int]] = defaultdict(list)
    depth: dict[int, int] = {}
    for n in nodes:
        r, depth[n] = up(n)
        trees[r].append(n)
    found = []
    for r, members in trees.items():
        size = sum(1 + sum(c for _, c in leaves.get(n, ())) for n in members)
        deep = max(depth[n] + (1 if leaves.get(n) else 0) for n in members)
        ts, platform = posts[r]
        if (size >= 2 and scope.start_ts <= ts < scope.end_ts
                and (not scope.platforms or platform in scope.platforms)):  # fmt: skip
            found.append(spread.Cascade(root=r, size=size, depth=deep))
    histogram: dict[tuple[int, int], int] = defaultdict(int)
    for c in found:
        histogram[(c.size, c.depth)] += 1
    found.sort(key=lambda c: (-c.size, -c.depth, c.root))
    largest = found[:keep]
    deepest = min(found, key=lambda c: (-c.depth, -c.size, c.root), default=None)
    drawn = spread._showcase(largest, top, deepest)
    trees_out = []
    for c in drawn:
        children: dict[int, list[int]] = defaultdict(list)
        meta: dict[Any, Any] = {c.root: ("post", posts[c.root][0], posts[c.root][1])}
        for n in trees[c.root]:
            if n != c.root:
                children[parent[n]].append(n)
                _, _, kind, ts, platform = best[n]
                meta[n] = (kind, ts, platform)
        nodes_out = spread._tree_nodes(c.root, children, leaves, meta, 400)
        trees_out.append({"root": c.root, "size": c.size, "depth": c.depth, "nodes": nodes_out})
    return {
        "count": len(found),
        "histogram": dict(histogram),
        "largest": [{"root": c.root, "size": c.size, "depth": c.depth} for c in largest],
        "trees": trees_out,
    }


def _comparable(result: dict[str, Any]) -> tuple:
    hist = result["histogram"]
    if isinstance(hist, list):
        hist = {(h["size"], h["depth"]): h["cascades"] for h in hist}
    trees = [(t["root"], t["size"], t["depth"], sorted(map(repr, t["nodes"])))
             for t in result["trees"]]  # fmt: skip
    return result["count"], dict(hist), result["largest"], trees


def _tables(engine: Any) -> tuple[list[tuple], ...]:
    """The three tables (days counted down to 0 left out: a rebuild writes none)."""
    days = CascadeDay.__table__
    with engine.connect() as conn:
        n = conn.execute(select(CascadeNode.__table__).order_by("movement_id", "node_id")).all()
        r = conn.execute(select(CascadeRoot.__table__).order_by("movement_id", "root_id")).all()
        d = conn.execute(
            select(days).where(days.c.roots != 0).order_by(*days.primary_key.columns)
        ).all()
    return [tuple(x) for x in n], [tuple(x) for x in r], [tuple(x) for x in d]


# -- random conversations -------------------------------------------------------------------


def _key(m):
    return (m.platform, m.native_id)


def _conversation(rng: random.Random, hostile: bool):
    """Posts of two movements (some in both) on two platforms, replies and quotes (some posts
    both, some replying twice), reposts and boosts of roots and of replies, and, if `hostile`,
    self-links, links to later posts and cycles."""
    people = {p: [account(i, platform=p) for i in range(1, 9)] for p in ("mastodon", "bluesky")}
    tags = ("#NHSCitizen", "#Other", "#NHSCitizen #Other")
    posts = []
    for i, h in enumerate(sorted(rng.uniform(0, 70) for _ in range(60))):
        p = rng.choice(("mastodon", "bluesky"))
        posts.append(mention(i, platform=p, author=rng.choice(people[p]),
                             created_at=T0 + timedelta(hours=h),
                             text=f"post {rng.choice(tags)}"))  # fmt: skip
    # posts outside both movements that still reply (their links count) or get replies (not)
    strays = [
        mention(100 + i, created_at=T0 + timedelta(hours=i), text="nothing") for i in range(4)
    ]

    def edge(kind, m, target, at, source=None, via=None):
        return EdgeRecord(kind=kind, platform=m.platform, source=source or m.author,
                          target=_key(target), via=via, created_at=at)  # fmt: skip

    edges = []
    for i, m in enumerate(posts[1:], start=1):
        for kind in ("reply", "quote"):
            if rng.random() < 0.45:
                par = posts[rng.randrange(max(0, i - 8), i)]
                edges.append(edge(kind, m, par, m.created_at, via=_key(m)))
        if rng.random() < 0.08:  # a second reply link of the same post, later or earlier
            par = posts[rng.randrange(0, i)]
            at = m.created_at + timedelta(minutes=rng.choice((-5, 5)))
            edges.append(edge("reply", m, par, at, via=_key(m)))
    for s in strays:
        edges.append(edge("reply", s, rng.choice(posts), s.created_at, via=_key(s)))
        edges.append(edge("reply", posts[0], s, s.created_at, via=_key(rng.choice(posts))))
    if hostile:
        for _ in range(8):
            a, b = rng.sample(posts, 2)
            edges.append(edge(rng.choice(THREAD_KINDS), a, b, a.created_at, via=_key(a)))
        m = rng.choice(posts)
        edges.append(edge("reply", m, m, m.created_at, via=_key(m)))
    for _ in range(110):
        m = rng.choice(posts)
        at = m.created_at + timedelta(hours=rng.uniform(0, 6))
        kind = rng.choice(REPOST_KINDS)
        edges.append(edge(kind, m, m, at, source=rng.choice(people[m.platform])))
    return posts + strays, edges


def _write_shuffled(engine: Any, rules, rng: random.Random, posts, edges) -> None:
    """Posts and edges in random batches (an edge often before the posts it links), some
    batches written twice."""
    items = [("p", p) for p in posts] + [("e", e) for e in edges]
    rng.shuffle(items)
    i = 0
    while i < len(items):
        n = rng.randrange(1, 40)
        chunk = items[i : i + n]
        i += n
        b = batch(*[x for k, x in chunk if k == "p"], edges=[x for k, x in chunk if k == "e"])
        for _ in range(2 if rng.random() < 0.2 else 1):
            with write_tx(engine) as conn:
                write_batch(conn, b, rules)


def _movements(engine: Any):
    movement(engine)
    rules = movement(engine, slug="other", name="Other", hashtags=["Other"],
                     terms=["other thing"], urls=["https://other.example/"])  # fmt: skip
    with engine.connect() as conn:
        return rules, [m["id"] for m in list_movements(conn)]


def test_cascades_equal_the_straight_recomputation_on_random_writes(store):
    rng = random.Random(27)
    rules, movements = _movements(store)
    posts, edges = _conversation(rng, hostile=True)
    _write_shuffled(store, rules, rng, posts, edges)
    ranges = [(0, 80), (0, 24), (24, 48), (10.5, 10.6)]
    ranges += [(rng.uniform(0, 40), rng.uniform(40, 80)) for _ in range(4)]
    drawn_deep = 0
    with store.connect() as conn:
        for mv in movements:
            for a, b in ranges:
                for platforms in ((), ("mastodon",), ("bluesky",), ("bluesky", "mastodon")):
                    scope = Scope(mv, T0_TS + int(a * H), T0_TS + int(b * H), platforms)
                    for keep, top in ((10, 3), (2, 2)):
                        got = spread.cascades(conn, scope, top, keep=keep)
                        want = _reference(store, scope, keep=keep, top=top)
                        assert _comparable(got) == _comparable(want), (mv, a, b, platforms)
                    drawn_deep += sum(t["depth"] > 2 for t in got["trees"])
    assert drawn_deep  # real trees were drawn, not only stars


def test_the_kept_trees_do_not_depend_on_the_order_of_the_writes(store):
    """Written in any order, the tables equal the ones `rebuild` measures at once from the
    stored edges (migration 0027's backfill), size-1 roots and cut cycles included."""
    rng = random.Random(5)
    rules, _ = _movements(store)
    posts, edges = _conversation(rng, hostile=True)
    _write_shuffled(store, rules, rng, posts, edges)
    written = _tables(store)
    assert all(written)
    with write_tx(store) as conn:
        rebuild(conn)
    assert _tables(store) == written
    for seed in (6, 7):  # the same posts and edges in other orders, from an empty store
        with write_tx(store) as conn:
            for t in ("cascade_node", "cascade_root", "cascade_day", "movement_edge",
                      "movement_amplifier_period", "movement_amplifier_day",
                      "amplification", "mention_match"):  # fmt: skip
                conn.execute(text(f"DELETE FROM {t}"))
        _write_shuffled(store, rules, random.Random(seed), posts, edges)
        assert _tables(store) == written, seed


def test_a_better_link_arriving_later_moves_the_post_and_its_subtree(store):
    """A post quoting one post and replying to another hangs under the one it replies to,
    whichever link came first; its replies and reposts move with it."""
    rules, (mv, _) = _movements(store)
    q = mention(1, created_at=T0)
    p = mention(2, created_at=T0 + timedelta(hours=1))
    c = mention(3, created_at=T0 + timedelta(hours=2))
    d = mention(4, created_at=T0 + timedelta(hours=3))

    def e(kind, src, dst, via=None):
        return EdgeRecord(kind=kind, platform="mastodon", source=src.author, target=_key(dst),
                          via=via and _key(via), created_at=src.created_at)  # fmt: skip

    for b in (
        batch(q, c, d, edges=[e("quote", c, q, via=c), e("reply", d, c, via=d)]),
        batch(edges=[e("boost", d, d), e("reply", c, p, via=c)]),  # p not stored yet
        batch(p),  # the reply link enters the movement only now
    ):
        with write_tx(store) as conn:
            write_batch(conn, b, rules)
    scope = Scope(mv, T0_TS, T0_TS + 10 * H, ())
    with store.connect() as conn:
        got = spread.cascades(conn, scope)
    assert got["largest"] == [{"root": p.id, "size": 4, "depth": 3}]
    assert _comparable(got) == _comparable(_reference(store, scope))


def test_measure_cuts_each_cycle_above_its_smallest_node():
    root_of, depth, trees = measure({2: 1, 3: 2, 4: 3, 1: 4, 5: 3, 7: 6}, {5: 2}, range(1, 8))
    assert root_of == {1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 6, 7: 6}
    assert depth == {1: 0, 2: 1, 3: 2, 4: 3, 5: 3, 6: 0, 7: 1}
    assert trees == {1: (7, 4), 6: (2, 1)}


@pytest.mark.postgres
def test_two_postgres_workers_growing_the_same_trees_at_once_keep_them_exact(pg_store):
    """Two workers write interleaved halves of one conversation (both movements) at once; the
    per-movement cascade lock serialises their changes to the trees, so the tables equal a
    rebuild from the stored edges."""
    rng = random.Random(11)
    rules, _ = _movements(pg_store)
    posts, edges = _conversation(rng, hostile=True)
    items = [("p", p) for p in posts] + [("e", e) for e in edges]
    rng.shuffle(items)
    halves = [items[0::2], items[1::2]]

    def batches(mine: list) -> list:
        chunks = [mine[lo : lo + 5] for lo in range(0, len(mine), 5)]
        return [
            batch(*[x for k, x in c if k == "p"], edges=[x for k, x in c if k == "e"])
            for c in chunks
        ]

    write_concurrently(pg_store, rules, [batches(h) for h in halves])
    written = _tables(pg_store)
    assert all(written)
    with write_tx(pg_store) as conn:
        rebuild(conn)
    assert _tables(pg_store) == written


@pytest.mark.postgres
def test_a_second_postgres_writer_of_the_same_tree_waits_for_the_first(pg_store):
    """Two replies in one tree written at once: the second writer waits for the first's
    commit (the movement's cascade lock) and grows the tree the first left, so the root counts
    both (without the lock each would write its size from the same stored one). The writes
    share no other row (authors, instances, days and amplified accounts all differ), so
    nothing else would make the second wait."""
    rules, (mv, _) = _movements(pg_store)

    def post(i: int, hours: int):
        who = account(i, instance=f"i{i}.social")
        return mention(i, author=who, created_at=T0 + timedelta(hours=hours))

    def reply(m, to):
        return EdgeRecord(kind="reply", platform="mastodon", source=m.author, target=_key(to),
                          via=_key(m), created_at=m.created_at)  # fmt: skip

    p, x, c, d = post(1, 0), post(4, 0), post(2, 25), post(3, 49)  # other days: other cells
    with write_tx(pg_store) as conn:
        write_batch(conn, batch(p, x, edges=[reply(x, p)]), rules)

    first_wrote, release, second_done = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with write_tx(pg_store) as conn:
                write_batch(conn, batch(c, edges=[reply(c, p)]), rules)
                first_wrote.set()
                assert release.wait(60)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
            first_wrote.set()

    def second() -> None:
        try:
            with write_tx(pg_store) as conn:
                write_batch(conn, batch(d, edges=[reply(d, x)]), rules)
        except BaseException as exc:
            errors.append(exc)
        second_done.set()

    a = threading.Thread(target=first)
    a.start()
    assert first_wrote.wait(60)
    b = threading.Thread(target=second)
    b.start()
    waiting: list[str] = []
    # pg_locks is server-wide: only the waits of backends connected to this session's database
    # count (other test sessions, such as pytest-xdist's other worker, wait for their own locks)
    ours = (
        "SELECT locktype FROM pg_locks WHERE NOT granted AND pid IN"
        " (SELECT pid FROM pg_stat_activity WHERE datname = current_database())"
    )
    for _ in range(6000):  # until the second waits for a lock (or is done)
        with pg_store.connect() as conn:
            waiting = list(conn.execute(text(ours)).scalars())
        if waiting or second_done.wait(0.01):
            break
    release.set()
    a.join()
    b.join()
    assert not errors, errors
    with pg_store.connect() as conn:
        size, depth = conn.execute(
            select(CascadeRoot.__table__.c.size, CascadeRoot.__table__.c.depth).where(
                CascadeRoot.__table__.c.movement_id == mv,
                CascadeRoot.__table__.c.root_id == p.id,
            )
        ).one()
    assert (size, depth) == (4, 2)
    assert waiting == ["advisory"]


_REBUILD_THEN_GROW = """
import sys
from datetime import timedelta
from sqlalchemy import text
from domain.records import EdgeRecord
from storage.cascades import rebuild
from storage.catalog import load_rules
from storage.engine import make_engine, write_tx
from storage.write import write_batch
from tests.factories import T0, batch, mention

engine = make_engine(sys.argv[1])
with write_tx(engine) as conn:
    rebuild(conn)
with engine.connect() as conn:
    rules = load_rules(conn)
q, c, d = (mention(n, created_at=T0 + timedelta(hours=n)) for n in (1, 2, 3))
reply = EdgeRecord(kind="reply", platform="mastodon", source=d.author,
                   target=("mastodon", c.native_id), via=("mastodon", d.native_id),
                   created_at=d.created_at)
with write_tx(engine) as conn:
    write_batch(conn, batch(d, edges=[reply]), rules)
with engine.connect() as conn:
    print(conn.execute(text("SELECT size FROM cascade_root")).scalar())
"""


def test_a_rebuild_then_a_write_in_one_process_grows_the_stored_trees(sqlite_store):
    """`rebuild` writes nodes and roots with plain INSERTs, the write path upserts them: in a
    process that rebuilt first (a migration's backfill, then collectors), the write path once
    ran the rebuild's cached INSERT and failed on the tree's stored root. A fresh process, so
    no earlier test's statements are cached."""
    import subprocess
    import sys
    from pathlib import Path

    rules = movement(sqlite_store)
    q, c = (mention(n, created_at=T0 + timedelta(hours=n)) for n in (1, 2))
    quote = EdgeRecord(kind="quote", platform="mastodon", source=c.author, target=_key(q),
                       via=_key(c), created_at=c.created_at)  # fmt: skip
    with write_tx(sqlite_store) as conn:
        write_batch(conn, batch(q, c, edges=[quote]), rules)
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", _REBUILD_THEN_GROW, str(sqlite_store.url)],
        cwd=root, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["3"]  # q <- c <- d
