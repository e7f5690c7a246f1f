"""Spread's cascades, kept per root at write time (tables: storage/models_cascades.py).

Definition (docs/dashboard.md, "Cascades"): a movement's cascade is the tree one of its posts
started. A post's parent is the post it replies to, else the one it quotes (a thread link: a
`reply`/`quote` edge of the movement with its own post `via`); of several links of one post
the earliest wins (then the smallest edge id), so the trees depend on the set of links, never
on the order they arrived in. A post linked to itself is ignored; where links close a cycle
(hostile data) the cycle is cut above its smallest post id, which becomes a root. Reposts and
boosts are leaves under the post they repost. Size = posts and reposts including the root;
depth = the longest root-to-leaf path in edges. A tree belongs to the time of its root post
(the movement's match of it) and keeps growing when later replies, quotes and reposts arrive.

Why at write time: the page used to read every link and repost of a range into Python and
measure the trees there (~47k links and ~50k repost groups at 30 days on the 1M SQLite store,
up to 1M links on the 10M PostgreSQL store: 5.5 s); the roots of a range are an index range.

`grow_cascades` is called with the `movement_edge` rows an INSERT really added (RETURNING), so
replays add nothing. Per movement it loads the few stored nodes the new edges touch, changes
them in memory and writes back what changed:

- a link whose child has no parent yet and whose parent's tree is another tree: the child's
  tree is re-rooted under the parent (its members get the new root and depth + parent depth
  + 1; sizes add; depths are a max). The common case, a new reply to a stored post, touches
  two nodes and one root row;
- a link that would close a cycle, or a better link for a post that already has one (a reply
  arriving after the quote of the same post): both trees concerned are read whole and
  measured again (`measure`), so nothing is ever subtracted by guesswork;
- a repost: its target's tree grows by one leaf.

Values are written absolute (read, changed, written back), so on PostgreSQL each movement's
cascade maintenance holds a transaction-level advisory lock (taken in movement order, and last
in the write transaction): two workers never interleave on one movement's trees.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    delete,
    func,
    literal_column,
    select,
    text,
)

from storage.bulk import executemany, insert_for
from storage.id_lists import among
from storage.models import MentionMatch
from storage.models_cascades import CascadeDay, CascadeNode, CascadeRoot

THREAD_KINDS = ("reply", "quote")  # a reply outranks a quote of the same post
REPOST_KINDS = ("repost", "boost")
_LOCK_CLASS = 27027  # first key of pg_advisory_xact_lock(class, movement_id)

CN: Table = CascadeNode.__table__  # type: ignore[assignment]
CR: Table = CascadeRoot.__table__  # type: ignore[assignment]
CD: Table = CascadeDay.__table__  # type: ignore[assignment]
MM: Table = MentionMatch.__table__  # type: ignore[assignment]

NODE_COLUMNS = (
    "root_id",
    "depth",
    "parent_id",
    "link_kind",
    "link_ts",
    "link_edge",
    "link_platform",
    "reposts",
    "boosts",
)


def link_key(kind: str, ts: int, edge: int) -> tuple[int, int, int]:
    """Order of a post's links: the smallest wins (reply before quote, earliest, edge id)."""
    return (THREAD_KINDS.index(kind), ts, edge)


@dataclass(slots=True)
class Node:
    root: int
    depth: int
    parent: int | None = None
    kind: str | None = None
    ts: int | None = None
    edge: int | None = None
    platform: str | None = None
    reposts: int = 0
    boosts: int = 0

    def row(self) -> tuple[Any, ...]:
        return (self.root, self.depth, self.parent, self.kind, self.ts, self.edge,
                self.platform, self.reposts, self.boosts)  # fmt: skip

    def key(self) -> tuple[int, int, int] | None:
        if self.parent is None:
            return None
        assert self.kind is not None and self.ts is not None and self.edge is not None
        return link_key(self.kind, self.ts, self.edge)


@dataclass(slots=True)
class Root:
    size: int
    depth: int
    ts: int | None = None
    platform: str | None = None


def measure(
    parent: Mapping[int, int], leaves: Mapping[int, int], nodes: Iterable[int]
) -> tuple[dict[int, int], dict[int, int], dict[int, tuple[int, int]]]:
    """Trees of `nodes` from each node's chosen parent (which must be among `nodes`) and its
    leaf count: each node's root and depth, and each root's (size, depth).

    Each cycle (hostile data) is cut above its smallest node, which becomes a root. Used by
    the write path for the trees it measures again, and by migration 0027 for all of them.
    """
    members = set(nodes)
    par = {c: p for c, p in parent.items() if c in members and c != p}
    assert all(p in members for p in par.values()), "a parent outside the measured trees"
    state: dict[int, int] = {}  # 1: on the walk being made; 2: done
    for start in members:
        if start in state:
            continue
        path: list[int] = []
        n: int | None = start
        while n is not None and n not in state:
            state[n] = 1
            path.append(n)
            n = par.get(n)
        if n is not None and state[n] == 1:  # the walk came back to itself: a cycle
            del par[min(path[path.index(n) :])]
        for x in path:
            state[x] = 2
    children: dict[int, list[int]] = defaultdict(list)
    for c, p in par.items():
        children[p].append(c)
    root_of: dict[int, int] = {}
    depth: dict[int, int] = {}
    trees: dict[int, tuple[int, int]] = {}
    for r in members:
        if r in par:
            continue
        root_of[r], depth[r] = r, 0
        size, deepest = 0, 0
        stack = [r]
        while stack:
            n = stack.pop()
            d = depth[n]
            k = leaves.get(n, 0)
            size += 1 + k
            deepest = max(deepest, d + 1 if k else d)
            for c in children.get(n, ()):
                root_of[c], depth[c] = r, d + 1
                stack.append(c)
        trees[r] = (size, deepest)
    return root_of, depth, trees


def grow_cascades(conn: Connection, added: Iterable[Sequence[Any]]) -> None:
    """Grow the movements' cascades by newly stored `movement_edge` rows, given as
    (movement_id, edge_id, created_ts, kind, platform, target_mention_id, via_mention_id)."""
    per_movement: dict[int, list[Sequence[Any]]] = defaultdict(list)
    for row in added:
        mv, _edge, _ts, kind, _platform, target, via = row
        if kind in THREAD_KINDS:
            if via is None or via == target:
                continue
        elif kind not in REPOST_KINDS:
            continue
        per_movement[mv].append(row)
    for mv in sorted(per_movement):
        if conn.dialect.name == "postgresql":
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:c, :mv)"), {"c": _LOCK_CLASS, "mv": mv}
            )
        forest = _Forest(conn, mv)
        forest.grow(per_movement[mv])
        forest.save()


def shrink_cascades(conn: Connection, removed: Iterable[Sequence[Any]]) -> None:
    """Take undone reposts and boosts (removed `movement_edge` rows, as for `grow_cascades`)
    off the trees they were leaves of: their targets' leaf counts go down and the trees are
    measured again (size and depth; `cascade_day` follows)."""
    per_movement: dict[int, Counter[tuple[int, str]]] = defaultdict(Counter)
    for mv, _edge, _ts, kind, _platform, target, _via in removed:
        if kind in REPOST_KINDS:
            per_movement[mv][(target, kind)] += 1
    for mv in sorted(per_movement):
        if conn.dialect.name == "postgresql":
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:c, :mv)"), {"c": _LOCK_CLASS, "mv": mv}
            )
        forest = _Forest(conn, mv)
        forest.load(t for t, _ in per_movement[mv])
        roots: set[int] = set()
        for (target, kind), n in sorted(per_movement[mv].items()):
            node = forest.nodes.get(target)
            if node is None:
                continue
            if kind == "repost":
                node.reposts = max(0, node.reposts - n)
            else:
                node.boosts = max(0, node.boosts - n)
            roots.add(node.root)
        if roots:
            forest._remeasure(roots)
            forest.save()


class _Forest:
    """One movement's stored trees, loaded as far as a batch of new edges needs them."""

    def __init__(self, conn: Connection, movement_id: int) -> None:
        self.conn, self.mv = conn, movement_id
        self.nodes: dict[int, Node] = {}
        self.stored: dict[int, tuple[Any, ...]] = {}  # node -> its row as stored
        self.absent: set[int] = set()  # known not stored
        self.by_root: dict[int, set[int]] = defaultdict(set)  # over the nodes in memory
        self.whole: set[int] = set()  # roots whose every member is in memory
        self.roots: dict[int, Root] = {}
        self.stored_roots: dict[int, Root] = {}

    # -- loading ---------------------------------------------------------------------------

    def _add(self, row: Sequence[Any]) -> None:
        n = row[0]
        node = Node(*row[1:])
        self.nodes[n] = node
        self.stored[n] = node.row()
        self.by_root[node.root].add(n)

    def _node_select(self) -> Any:
        return select(CN.c.node_id, *(CN.c[c] for c in NODE_COLUMNS)).where(
            CN.c.movement_id == self.mv
        )

    def load(self, ids: Iterable[int]) -> None:
        want = {i for i in ids if i not in self.nodes and i not in self.absent}
        if not want:
            return
        for row in self.conn.execute(
            self._node_select().where(among(self.conn, CN.c.node_id, want))
        ):
            self._add(row)
        self.absent.update(want - self.nodes.keys())
        self.load_roots({self.nodes[i].root for i in want if i in self.nodes})

    def load_roots(self, ids: Iterable[int]) -> None:
        want = {r for r in ids if r not in self.roots and r not in self.stored_roots}
        if not want:
            return
        stmt = select(CR.c.root_id, CR.c.size, CR.c.depth, CR.c.root_ts, CR.c.platform).where(
            CR.c.movement_id == self.mv, among(self.conn, CR.c.root_id, want)
        )
        for r, size, depth, ts, platform in self.conn.execute(stmt):
            self.roots[r] = Root(int(size), int(depth), int(ts), platform)
            self.stored_roots[r] = Root(int(size), int(depth), int(ts), platform)

    def node(self, n: int) -> Node | None:
        self.load((n,))
        return self.nodes.get(n)

    def ensure(self, n: int) -> Node:
        """The node, or a new one: a root alone (its own tree, size 1)."""
        node = self.node(n)
        if node is None:
            node = self.nodes[n] = Node(root=n, depth=0)
            self.by_root[n].add(n)
            self.whole.add(n)
            self.roots[n] = Root(1, 0)
        return node

    def root(self, r: int) -> Root:
        if r not in self.roots:
            self.load_roots((r,))
        return self.roots[r]

    def members(self, r: int) -> set[int]:
        """Every node of the tree rooted at `r` (read from the store once per tree)."""
        if r not in self.whole:
            if self.root(r).size > 1:
                stmt = self._node_select().where(CN.c.root_id == r)
                for row in self.conn.execute(stmt):
                    if row[0] not in self.nodes:
                        self._add(row)
            self.whole.add(r)
        return self.by_root[r]

    # -- growing ---------------------------------------------------------------------------

    def grow(self, rows: Sequence[Sequence[Any]]) -> None:
        best: dict[int, tuple[tuple[int, int, int], int, str, int, int, str]] = {}
        leaves: Counter[tuple[int, str]] = Counter()
        for _mv, edge, ts, kind, platform, target, via in rows:
            if kind in REPOST_KINDS:
                leaves[(target, kind)] += 1
                continue
            k = link_key(kind, ts, edge)
            if via not in best or k < best[via][0]:
                best[via] = (k, target, kind, ts, edge, platform)
        self.load({*best, *(b[1] for b in best.values()), *(t for t, _ in leaves)})
        for child in sorted(best):
            k, par, kind, ts, edge, platform = best[child]
            self.link(child, par, k, kind, ts, edge, platform)
        for (target, kind), n in sorted(leaves.items()):
            self.repost(target, kind, n)

    def link(
        self, child: int, par: int, key: tuple[int, int, int], kind: str, ts: int, edge: int,
        platform: str,
    ) -> None:  # fmt: skip
        p = self.ensure(par)  # a link's target is a node even when the link loses
        c = self.node(child)
        had = c.key() if c is not None else None
        if had is not None and had <= key:
            return  # the post's stored link wins
        c = self.ensure(child)
        c.parent, c.kind, c.ts, c.edge, c.platform = par, kind, ts, edge, platform
        if had is not None or p.root == child:
            # A better link for a linked post (or a cut root), or a cycle: measure again.
            self._remeasure({c.root, p.root})
        else:
            self._attach(child, p)

    def _move(self, n: int, root: int, depth: int) -> None:
        node = self.nodes[n]
        if node.root != root:
            self.by_root[node.root].discard(n)
            self.by_root[root].add(n)
            node.root = root
        node.depth = depth

    def _attach(self, child: int, p: Node) -> None:
        """Hang the tree rooted at `child` under `p` (of another tree)."""
        r, base = p.root, p.depth + 1
        sub = self.root(child)
        for n in list(self.members(child)):
            self._move(n, r, self.nodes[n].depth + base)
        self.whole.discard(child)
        tree = self.root(r)
        tree.size += sub.size
        tree.depth = max(tree.depth, base + sub.depth)
        del self.roots[child]

    def _remeasure(self, roots: set[int]) -> None:
        """Measure the trees rooted at `roots` again from their members' parent links."""
        for r in roots:
            self.root(r)  # their stored rows, to delete or keep
        members = set().union(*(self.members(r) for r in roots))
        nodes = self.nodes
        parent = {n: nodes[n].parent for n in members if nodes[n].parent is not None}
        leaves = {n: nodes[n].reposts + nodes[n].boosts for n in members}
        root_of, depth, trees = measure(parent, leaves, members)  # type: ignore[arg-type]
        for n in members:
            self._move(n, root_of[n], depth[n])
        for r in roots - trees.keys():
            del self.roots[r]
            self.whole.discard(r)
        for r, (size, d) in trees.items():
            tree = self.roots.get(r)
            if tree is None:
                tree = self.roots[r] = Root(size, d)
            tree.size, tree.depth = size, d
            self.whole.add(r)

    def repost(self, target: int, kind: str, n: int) -> None:
        t = self.ensure(target)
        if kind == "repost":
            t.reposts += n
        else:
            t.boosts += n
        tree = self.root(t.root)
        tree.size += n
        tree.depth = max(tree.depth, t.depth + 1)

    # -- saving ----------------------------------------------------------------------------

    def save(self) -> None:
        conn, mv = self.conn, self.mv
        changed = [
            {"movement_id": mv, "node_id": n, **dict(zip(NODE_COLUMNS, node.row(), strict=True))}
            for n, node in sorted(self.nodes.items())
            if self.stored.get(n) != node.row()
        ]
        if changed:

            def nodes() -> Any:
                ins = insert_for(conn, CN)
                return ins.on_conflict_do_update(
                    index_elements=[CN.c.movement_id, CN.c.node_id],
                    set_={c: ins.excluded[c] for c in NODE_COLUMNS},
                )

            executemany(conn, nodes, CN, CN.name, changed)

        gone = sorted(self.stored_roots.keys() - self.roots.keys())
        if gone:
            conn.execute(delete(CR).where(CR.c.movement_id == mv, among(conn, CR.c.root_id, gone)))
        unknown = [r for r, t in self.roots.items() if t.ts is None]
        if unknown:
            stmt = select(MM.c.mention_id, MM.c.created_ts, MM.c.platform).where(
                MM.c.movement_id == bindparam("mv"), among(conn, MM.c.mention_id, unknown)
            )
            for r, ts, platform in conn.execute(stmt, {"mv": mv}):
                self.roots[r].ts, self.roots[r].platform = int(ts), platform
        rows = []
        days: Counter[tuple[int, str, int, int]] = Counter()
        for r in gone:
            was = self.stored_roots[r]
            days[(was.ts // 86400, was.platform, was.size, was.depth)] -= 1  # type: ignore[operator]
        for r, t in sorted(self.roots.items()):
            was = self.stored_roots.get(r)
            if was is not None and (was.size, was.depth) == (t.size, t.depth):
                continue
            if t.ts is None:  # a root is always a link's target, matched in the movement
                t.ts, t.platform = 0, ""
            if was is not None:
                days[(was.ts // 86400, was.platform, was.size, was.depth)] -= 1  # type: ignore[operator]
            days[(t.ts // 86400, t.platform, t.size, t.depth)] += 1  # type: ignore[index]
            rows.append({"movement_id": mv, "root_id": r, "root_ts": t.ts,
                         "platform": t.platform, "size": t.size, "depth": t.depth})  # fmt: skip
        counted = [
            {"movement_id": mv, "day": k[0], "platform": k[1], "size": k[2], "depth": k[3],
             "roots": n}
            for k, n in sorted(days.items())
            if n
        ]  # fmt: skip
        if counted:

            def days_() -> Any:
                ins = insert_for(conn, CD)
                return ins.on_conflict_do_update(
                    index_elements=[
                        CD.c[c] for c in ("movement_id", "day", "platform", "size", "depth")
                    ],
                    set_={"roots": CD.c.roots + ins.excluded.roots},
                )

            executemany(conn, days_, CD, CD.name, counted)
        if rows:

            def roots() -> Any:
                ins = insert_for(conn, CR)
                return ins.on_conflict_do_update(
                    index_elements=[CR.c.movement_id, CR.c.root_id],
                    set_={"size": ins.excluded.size, "depth": ins.excluded.depth},
                )

            executemany(conn, roots, CR, CR.name, rows)


def rebuild(conn: Connection, movement_id: int | None = None) -> None:
    """Measure every cascade again from the stored `movement_edge` rows (migration 0027's
    backfill; also a repair tool): delete a movement's trees, read all its links and reposts,
    keep each post's best link, measure the forest, write nodes and roots."""
    from storage.models_rollups import MovementEdge

    me: Table = MovementEdge.__table__  # type: ignore[assignment]
    if conn.dialect.name == "postgresql":
        # A rebuild follows bulk loads (a migration's backfill, a repair, the bench): without
        # statistics the planner takes the tables for empty and plans scans it would never pick
        # (issue 21). ANALYZE samples a fixed number of rows: seconds even at 10M.
        conn.exec_driver_sql(f"ANALYZE {me.name}, {MM.name}")
    if movement_id is None:
        movements = [r[0] for r in conn.execute(select(me.c.movement_id).distinct())]
    else:
        movements = [movement_id]
    for mv in sorted(movements):
        conn.execute(delete(CN).where(CN.c.movement_id == mv))
        conn.execute(delete(CR).where(CR.c.movement_id == mv))
        conn.execute(delete(CD).where(CD.c.movement_id == mv))
        nodes: dict[int, Node] = {}
        stmt = select(
            me.c.edge_id, me.c.created_ts, me.c.kind, me.c.platform, me.c.target_mention_id,
            me.c.via_mention_id,
        ).where(me.c.movement_id == mv, me.c.kind.in_(THREAD_KINDS + REPOST_KINDS))  # fmt: skip
        # Streamed (a 10M store holds millions of edges): only the nodes are kept.
        for edge, ts, kind, platform, target, via in conn.execute(
            stmt.execution_options(yield_per=50_000)
        ):
            if kind in THREAD_KINDS and (via is None or via == target):
                continue  # not a thread link (as `grow_cascades` skips it)
            t = nodes.get(target)
            if t is None:
                t = nodes[target] = Node(root=target, depth=0)
            if kind in REPOST_KINDS:
                if kind == "repost":
                    t.reposts += 1
                else:
                    t.boosts += 1
                continue
            c = nodes.get(via)
            if c is None:
                c = nodes[via] = Node(root=via, depth=0)
            had = c.key()
            if had is None or link_key(kind, ts, edge) < had:
                c.parent, c.kind, c.ts, c.edge, c.platform = target, kind, ts, edge, platform
        parent = {n: x.parent for n, x in nodes.items() if x.parent is not None}
        leaves = {n: x.reposts + x.boosts for n, x in nodes.items() if x.reposts or x.boosts}
        root_of, depth, trees = measure(parent, leaves, nodes)  # type: ignore[arg-type]
        for n, x in nodes.items():
            x.root, x.depth = root_of[n], depth[n]
        ordered = sorted(nodes)
        for i in range(0, len(ordered), 50_000):
            rows = [
                {"movement_id": mv, "node_id": n,
                 **dict(zip(NODE_COLUMNS, nodes[n].row(), strict=True))}
                for n in ordered[i : i + 50_000]
            ]  # fmt: skip
            # its own name: a plain INSERT, not `save`'s upsert (kept under CN.name)
            executemany(conn, insert_for(conn, CN), CN, f"{CN.name}:rebuild", rows)
        when: dict[int, tuple[int, str]] = {}
        ids = sorted(trees)
        for i in range(0, len(ids), 50_000):
            chunk = ids[i : i + 50_000]
            stmt = select(MM.c.mention_id, MM.c.created_ts, MM.c.platform).where(
                MM.c.movement_id == mv, among(conn, MM.c.mention_id, chunk)
            )
            when.update((r, (int(ts), p)) for r, ts, p in conn.execute(stmt))
        for i in range(0, len(ids), 50_000):
            roots = [
                {"movement_id": mv, "root_id": r, "root_ts": when.get(r, (0, ""))[0],
                 "platform": when.get(r, (0, ""))[1], "size": trees[r][0], "depth": trees[r][1]}
                for r in ids[i : i + 50_000]
            ]  # fmt: skip
            executemany(conn, insert_for(conn, CR), CR, f"{CR.name}:rebuild", roots)
        day = CR.c.root_ts // literal_column("86400")
        keys = (CR.c.movement_id, day, CR.c.platform, CR.c.size, CR.c.depth)
        per_day = select(*keys, func.count()).where(CR.c.movement_id == mv).group_by(*keys)
        conn.execute(
            CD.insert().from_select(
                ["movement_id", "day", "platform", "size", "depth", "roots"], per_day
            )
        )
