"""Can the Bluesky collector keep up? Parse, stream and search throughput, measured in one run.

    python bench/bluesky.py [--posts 3000] [--events 50000]

Three numbers, each against a baseline measured in the same run on the same data:
- parse: `parse_post_view` on realistic postViews (facets, embeds, labels) against
  `json.loads` of the same posts: the price of validation, facets, sanitising;
- stream: the Jetstream path per event (JSON decode, classify, parse, match against a movement)
  on a firehose-like mix (mostly non-matching posts, reposts, deletes, likes filtered away)
  against `json.loads` alone; events/s is the rate one process can follow;
- search: a full `collect` of one tag query against the local XRPC server (real atproto client,
  HTTP, parse, write path with cursor per page) into SQLite, against `write_batch` of the same
  pre-parsed posts: the price of the network round trips and the client.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collectors.base import CollectorContext  # noqa: E402
from collectors.bluesky.collector import BlueskyCollector  # noqa: E402
from collectors.bluesky.jetstream import JetstreamReader, _Pending  # noqa: E402
from collectors.bluesky.parse import parse_post_view, parse_search_page  # noqa: E402
from collectors.bluesky.plugin import source_specs  # noqa: E402
from collectors.runner import Runner  # noqa: E402
from domain.records import Batch  # noqa: E402
from domain.settings.config import parse_settings  # noqa: E402
from storage.catalog import load_rules, sync_sources, upsert_movement  # noqa: E402
from storage.engine import make_engine, write_tx  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.write import write_batch  # noqa: E402
from tests.servers.bluesky_server import BlueskyServer, profile  # noqa: E402

PAYLOAD = ROOT / "tests" / "payloads" / "bluesky" / "search_posts_page.json"


def best_of(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def settings_for(base_url: str, tmp: str, **bluesky: object):  # type: ignore[no-untyped-def]
    return parse_settings(
        {
            "movements": [
                {"slug": "nhscitizen", "name": "NHS Citizen", "hashtags": ["NHSCitizen"]}
            ],
            "collect": {"backfill_days": 2},
            "bluesky": {
                "base_url": base_url,
                "session_file": f"{tmp}/session.json",
                "queries": [{"tag": "NHSCitizen"}],
                "fetch_reposts": False,
                **bluesky,
            },
        }
    )


def bench_parse(n: int) -> None:
    views = [v for v in json.loads(PAYLOAD.read_text())["posts"][:6]]
    raw = [json.dumps(views[i % len(views)]) for i in range(n)]
    t_json = best_of(lambda: [json.loads(r) for r in raw])
    t_parse = best_of(lambda: [parse_post_view(json.loads(r)) for r in raw])
    print(
        f"parse    {n:>7} postViews: json.loads {n / t_json:>9,.0f}/s | json.loads + parse "
        f"{n / t_parse:>8,.0f}/s | ratio {t_json / t_parse:.2f}"
    )


def firehose(n: int) -> list[str]:
    rng = random.Random(7)
    base = int(time.time() * 1_000_000)
    out = []
    for i in range(n):
        did = f"did:plc:{rng.getrandbits(60):015x}"
        kind = rng.random()
        t = base + i
        if kind < 0.55:  # a post; 1 in 200 carries the movement's hashtag
            text = "Lovely day at the park, see you all soon 🌳 " + (
                "#NHSCitizen" if rng.random() < 0.005 else "#caturday"
            )
            commit = {
                "operation": "create",
                "collection": "app.bsky.feed.post",
                "rkey": f"3l{i:011d}",
                "record": {
                    "$type": "app.bsky.feed.post",
                    "createdAt": "2026-11-02T09:35:02.000Z",
                    "langs": ["en"],
                    "text": text,
                },
                "cid": "bafyreidwaivazkwu67xztlmuobx35hs2lnfh3kolmgfmucldvhd3sgzcqi",
            }
        elif kind < 0.85:
            commit = {
                "operation": "create",
                "collection": "app.bsky.feed.repost",
                "rkey": f"3r{i:011d}",
                "record": {
                    "$type": "app.bsky.feed.repost",
                    "createdAt": "2026-11-02T09:36:00.000Z",
                    "subject": {"cid": "bafy", "uri": f"at://{did}/app.bsky.feed.post/3x{i}"},
                },
            }
        else:
            commit = {"operation": "delete", "collection": "app.bsky.feed.post", "rkey": f"3d{i}"}
        out.append(json.dumps({"did": did, "time_us": t, "kind": "commit", "commit": commit}))
    return out


def bench_stream(n: int, tmp: str) -> None:
    settings = settings_for("http://127.0.0.1:9", tmp)
    engine = make_engine(f"sqlite:///{tmp}/stream.db")
    upgrade(engine)
    with write_tx(engine) as conn:
        upsert_movement(conn, settings.movements[0])
    with engine.connect() as conn:
        rules = load_rules(conn)
    context = CollectorContext(settings=settings, engine=engine, rules=rules)
    reader = JetstreamReader(context)
    events = firehose(n)
    t_json = best_of(lambda: [json.loads(e) for e in events])

    def run() -> None:
        pending = _Pending()
        for e in events:
            reader._take(e, pending)
            if pending.events >= 2000:
                reader._batch(pending)
                pending = _Pending()

    t_stream = best_of(run)
    print(
        f"stream   {n:>7} events:    json.loads {n / t_json:>9,.0f}/s | decode + classify + "
        f"parse + match {n / t_stream:>8,.0f}/s | ratio {t_json / t_stream:.2f}"
    )


def bench_search(n: int, tmp: str) -> None:
    os.environ["GROUNDSWELL_BSKY_HANDLE"] = "bench.bsky.social"
    os.environ["GROUNDSWELL_BSKY_APP_PASSWORD"] = "bench-pass-word-1234"
    with BlueskyServer() as server:
        server.add_account("bench.bsky.social", "bench-pass-word-1234")
        now = datetime.now(UTC)
        authors = [profile(f"did:plc:bench{i:018d}", f"b{i}.bsky.social") for i in range(50)]
        for i in range(n):
            server.add_post(
                authors[i % 50],
                f"Post {i} from the assembly #NHSCitizen 🎉",
                now - timedelta(seconds=i),
            )
        settings = settings_for(server.base_url, tmp, page_limit=100)

        # Baseline: the same posts, already fetched and parsed, through write_batch.
        views = [p.view for p in server.posts.values()]
        pages = [
            parse_search_page({"posts": views[i : i + 100]})[0] for i in range(0, len(views), 100)
        ]
        base_engine = make_engine(f"sqlite:///{tmp}/base.db")
        upgrade(base_engine)
        with write_tx(base_engine) as conn:
            upsert_movement(conn, settings.movements[0])
        with base_engine.connect() as conn:
            rules = load_rules(conn)
        t0 = time.perf_counter()
        for page in pages:
            with write_tx(base_engine) as conn:
                write_batch(conn, Batch(mentions=[p.mention for p in page]), rules)
        t_base = time.perf_counter() - t0

        engine = make_engine(f"sqlite:///{tmp}/search.db")
        upgrade(engine)
        with write_tx(engine) as conn:
            upsert_movement(conn, settings.movements[0])
            sync_sources(conn, source_specs(settings))
        context = CollectorContext(settings=settings, engine=engine)
        runner = Runner(engine, context, {"bluesky": BlueskyCollector(context)})
        t0 = time.perf_counter()
        (outcome,) = runner.run_once(only_due=False)
        t_search = time.perf_counter() - t0
        assert outcome.outcome == "ok" and outcome.result.new == n, outcome
        print(
            f"search   {n:>7} posts:     write_batch only {n / t_base:>8,.0f}/s | full collect "
            f"(login, {server.calls['app.bsky.feed.searchPosts']} pages over HTTP) "
            f"{n / t_search:>8,.0f}/s | ratio {t_base / t_search:.2f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=3000)
    ap.add_argument("--events", type=int, default=50_000)
    args = ap.parse_args()
    print(f"bench/bluesky.py on {os.cpu_count()} cores, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    with tempfile.TemporaryDirectory() as tmp:
        bench_parse(args.posts)
        bench_stream(args.events, tmp)
        bench_search(args.posts, tmp)
    threading.enumerate()


if __name__ == "__main__":
    main()
