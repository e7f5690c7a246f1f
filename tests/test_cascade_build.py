"""`build_cascades` measures trees without walking them (whole-dict passes level by level; links
rebuilt one by one only for hostile data); it gives exactly what the earlier tree-walking
implementation gave, kept here as the reference, on random forests (clean ones, which take the
fast path, and ones with duplicate links, self-links and cycles, which do not), with reposts of
roots, inner nodes and lone posts."""

from __future__ import annotations

import heapq
import random
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from storage.queries import spread


def _is_ancestor(parent: dict[Any, Any], node: Any, start: Any) -> bool:
    """Is `node` on the path from `start` up to its root?"""
    n, steps = start, 0
    while n in parent and steps < 100_000:
        if n == node:
            return True
        n, steps = parent[n], steps + 1
    return n == node


def _reference(
    links: Iterable[tuple[int, int, str, int | None, str | None]],
    reposts: Iterable[tuple[int, str, int]],
    *,
    max_nodes: int = 400,
    draw: int = 3,
    keep: int = 10,
) -> spread.CascadeStats:
    """The implementation before the union-find (25 Nov 2026): walks every tree."""
    parent: dict[Any, Any] = {}
    meta: dict[Any, tuple[str, int | None, str | None]] = {}
    for child, par, kind, ts, platform in links:
        if child == par or child in parent or _is_ancestor(parent, child, par):
            continue  # duplicates and links that would close a cycle (hostile data) are cut
        parent[child] = par
        meta[child] = (kind, ts, platform)
    children: dict[Any, list[Any]] = defaultdict(list)
    for child, par in parent.items():
        children[par].append(child)
    leaves: dict[Any, list[tuple[str, int]]] = defaultdict(list)
    stars: dict[Any, int] = defaultdict(int)
    star_kind: dict[Any, str] = {}
    for target, kind, count in reposts:
        if count <= 0:
            continue
        if target in parent or target in children:
            leaves[target].append((kind, int(count)))
        else:
            stars[target] += int(count)
            star_kind.setdefault(target, kind)

    memo: dict[Any, Any] = {}

    def root_of(n: Any) -> Any:
        path = []
        while n in parent and n not in memo:
            path.append(n)
            n = parent[n]
        r = memo.get(n, n)
        for x in path:  # path compression: each node walked once overall
            memo[x] = r
        return r

    stats = spread.CascadeStats()
    trees: list[spread.Cascade] = []
    for r in {root_of(n) for n in children}:
        size, depth = 0, 0
        stack: list[tuple[Any, int]] = [(r, 0)]
        while stack:
            n, d = stack.pop()
            size += 1
            depth = max(depth, d)
            lv = leaves.get(n)
            if lv:
                size += sum(c for _, c in lv)
                depth = max(depth, d + 1)
            kids = children.get(n)
            if kids:
                stack.extend((c, d + 1) for c in kids)
        trees.append(spread.Cascade(root=r, size=size, depth=depth))
        stats.histogram[(size, depth)] += 1
    for n in stars.values():
        stats.histogram[(n + 1, 1)] += 1
    stats.count = len(trees) + len(stars)
    top_stars = heapq.nsmallest(keep, stars.items(), key=lambda kv: (-kv[1], kv[0]))
    trees.extend(spread.Cascade(root=t, size=n + 1, depth=1) for t, n in top_stars)
    trees.sort(key=lambda c: (-c.size, -c.depth, c.root))
    stats.largest = trees[:keep]
    deepest = max(trees, key=lambda c: (c.depth, c.size), default=None)
    stats.drawn = spread._showcase(stats.largest, draw, deepest)
    for t, n in top_stars:
        leaves[t].append((star_kind[t], n))
    for c in stats.drawn:
        c.nodes = spread._tree_nodes(c.root, children, leaves, meta, max_nodes)
    return stats


def _summary(stats: spread.CascadeStats) -> tuple:
    def c(x: spread.Cascade) -> tuple:
        return (x.root, x.size, x.depth)

    return (
        stats.count,
        dict(stats.histogram),
        [c(x) for x in stats.largest],
        [(c(x), x.nodes) for x in stats.drawn],
    )


def _inputs(
    links: list[tuple[int, int, str, int | None, str | None]],
    reposts: dict[str, dict[int, int]],
) -> tuple[list[tuple[int, int]], spread.MetaLookup, list[tuple[int, str, int]]]:
    """The same data as `build_cascades` takes it (pairs, counts per kind, a meta lookup: the
    first link of each (child, parent), as the store's lookup gives) and as the reference took
    it (links with their meta, (target, kind, count) rows in the order SQL gave them)."""
    first: dict[tuple[int, int], tuple[str, int | None, str | None]] = {}
    for child, par, kind, ts, platform in links:
        first.setdefault((child, par), (kind, ts, platform))

    def meta(pairs: list[tuple[int, int]]) -> dict[int, tuple[str, int | None, str | None]]:
        return {c: first[(c, p)] for c, p in pairs}

    rows = [(t, k, n) for k, counts in reposts.items() for t, n in counts.items()]
    return [(c, p) for c, p, *_ in links], meta, rows


def _random_data(
    rng: random.Random, clean: bool
) -> tuple[list[tuple[int, int, str, int | None, str | None]], dict[str, dict[int, int]]]:
    """A random forest over n posts; `clean`: every child linked once to an earlier post (what
    the store holds), else with hostile links (duplicates, self-links, cycles) mixed in."""
    n = rng.randrange(2, 60)
    links = []
    if clean:
        for child in rng.sample(range(1, n), rng.randrange(0, n - 1)):
            links.append((child, rng.randrange(child), rng.choice(("reply", "quote")),
                          rng.randrange(99), rng.choice(("x", "y"))))  # fmt: skip
    else:
        for _ in range(rng.randrange(0, 2 * n)):
            child, par = rng.randrange(n), rng.randrange(n)
            if rng.random() < 0.8:  # mostly replies to earlier posts; some hostile links
                child, par = max(child, par), min(child, par)
            links.append((child, par, rng.choice(("reply", "quote")), rng.randrange(99), "x"))
    reposts: dict[str, dict[int, int]] = {}
    for kind in rng.sample(["repost", "boost"], 2):  # either order, as the store reads them
        targets = rng.sample(range(n + 20), rng.randrange(0, n))
        reposts[kind] = {t: rng.randrange(1, 6) for t in targets}
    return links, reposts


def test_the_fast_build_equals_the_tree_walking_reference_on_clean_and_hostile_forests():
    rng = random.Random(12)
    for trial in range(600):
        links, reposts = _random_data(rng, clean=trial % 2 == 0)
        pairs, meta, rows = _inputs(links, reposts)
        draw, keep = rng.choice(((3, 10), (2, 3), (1, 1)))
        got = spread.build_cascades(pairs, reposts, meta, draw=draw, keep=keep, max_nodes=25)
        want = _reference(links, rows, draw=draw, keep=keep, max_nodes=25)
        assert _summary(got) == _summary(want), trial


def test_the_level_by_level_measure_takes_clean_links_and_refuses_a_cycle():
    assert spread._measure({2: 1, 3: 2, 4: 1}) == ({2: 1, 4: 1, 3: 1}, {2: 1, 4: 1, 3: 2}, {1: 2})
    assert spread._measure({2: 1, 3: 4, 4: 3}) is None
    assert spread._measure({2: 1, 5: 5}) is None


def test_a_chain_deeper_than_the_level_passes_is_walked_to_the_same_depths():
    chain = {i + 1: i for i in range(3 * spread._LEVEL_PASSES)}
    measured = spread._measure(dict(reversed(chain.items())))
    assert measured is not None
    root_of, depth, deepest = measured
    assert depth == {i: i for i in chain} and set(root_of.values()) == {0}
    assert deepest == {0: 3 * spread._LEVEL_PASSES}
    looped = {**chain, 0: 3 * spread._LEVEL_PASSES}  # the root linked to the last: a cycle
    assert spread._measure(looped) is None
