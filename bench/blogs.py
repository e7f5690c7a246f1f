"""What an unchanged feed costs against a changed one, and how fast the receiver takes a burst.

    python bench/blogs.py [--entries 50] [--rounds 30] [--burst 1000]

Measured in one run against a local WordPress-like blog on 127.0.0.1 (DESIGN.md section 7:
"unchanged feed: one conditional request, zero body bytes"):
- baseline: full GET of the RSS 2.0 feed + `parse_feed` (what every poll would cost without
  validators);
- conditional GET with the stored ETag: the 304 path (no body, nothing parsed);
- the same two through the real runner and store (`run_once` of one feed source): first poll
  (write included) against an unchanged poll;
- the receiver: a burst of webmentions over HTTP (accepted/s), then the time until every one is
  verified and stored (verified/s).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from collectors.blogs.feeds import parse_feed  # noqa: E402
from collectors.blogs.receiver import create_app  # noqa: E402
from domain.settings.config import ReceiverSettings, Settings  # noqa: E402
from net.fetcher import Fetcher, FetchPolicy  # noqa: E402
from storage.catalog import upsert_movement  # noqa: E402
from storage.engine import make_engine, write_tx  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from tests.blog_helpers import NHS, blog_settings, count, runner_for, serve, wait_for  # noqa: E402
from tests.servers.blog_server import T0, BlogServer  # noqa: E402

PARA = (
    "<p>We met in the town hall to talk about the NHS Citizen assembly and what a pledge "
    'means for a ward. <a href="https://www.nhscitizen.org.uk/pledge">Pledge here</a>, '
    "read <em>the notes</em> and the <strong>questions</strong> we could not answer.</p>"
)


def ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:8.2f} ms"


def feed_costs(blog: BlogServer, rounds: int) -> None:
    url = blog.url + "/feed/"
    with Fetcher(FetchPolicy(allow_loopback=True)) as f:
        first = f.get(url)
        etag = first.headers["etag"]
        full, cond = [], []
        for _ in range(rounds):
            t = time.perf_counter()
            res = f.get(url)
            parse_feed(res.content, res.headers, feed_url=url, fetched_at=datetime.now(UTC))
            full.append(time.perf_counter() - t)
            sent = blog.body_bytes
            t = time.perf_counter()
            res = f.get(url, etag=etag)
            cond.append(time.perf_counter() - t)
            assert res.not_modified and blog.body_bytes == sent
    print(f"feed: {len(first.content):,} bytes, {len(blog.posts)} entries")
    print(f"  full GET + parse (baseline)   {ms(full)}")
    print(f"  conditional GET -> 304        {ms(cond)}, 0 body bytes")
    print(
        f"  ratio baseline / 304          {statistics.median(full) / statistics.median(cond):8.1f}x"
    )


def runner_costs(blog: BlogServer, rounds: int, tmp: str) -> None:
    engine = make_engine(f"sqlite:///{tmp}/runner.db")
    upgrade(engine)
    runner = runner_for(engine, blog_settings(feeds=[blog.url + "/feed/"]))
    t = time.perf_counter()
    [first] = runner.run_once()
    first_s = time.perf_counter() - t
    unchanged = []
    for _ in range(rounds):
        t = time.perf_counter()
        [o] = runner.run_once()
        unchanged.append(time.perf_counter() - t)
        assert o.batches == 0
    print(f"runner + store (SQLite), one feed source, {first.result.new} entries stored")
    print(f"  first poll (fetch, parse, write)  {first_s * 1000:8.2f} ms")
    print(f"  unchanged poll (304)              {ms(unchanged)}")
    print(f"  ratio                             {first_s / statistics.median(unchanged):8.1f}x")


def receiver_burst(n: int, tmp: str) -> None:
    engine = make_engine(f"sqlite:///{tmp}/receiver.db")
    upgrade(engine)
    with write_tx(engine) as conn:
        upsert_movement(conn, NHS)
    settings = Settings(
        movements=[NHS],
        receiver=ReceiverSettings(
            owned_sites=["https://www.nhscitizen.org.uk"], allow_loopback=True, verify_threads=2
        ),
    )
    pledge = "https://www.nhscitizen.org.uk/pledge"
    with BlogServer("Senders") as senders, serve(create_app(engine, settings)) as url:
        senders.link_target = pledge
        with httpx.Client() as client:

            def send(i: int) -> int:
                form = {"source": f"{senders.url}/mentions/{i}/", "target": pledge}
                return client.post(url + "/webmention", data=form).status_code

            t0 = time.perf_counter()
            with ThreadPoolExecutor(8) as pool:
                codes = list(pool.map(send, range(n)))
            accepted_s = time.perf_counter() - t0
        sql = "SELECT count(*) FROM received_ping WHERE status = 'verified'"
        wait_for(lambda: count(engine, sql) == n, timeout_s=600)
        done_s = time.perf_counter() - t0
    stored = count(engine, "SELECT count(*) FROM mention")
    print(f"receiver burst: {n} webmentions from 8 client threads (SQLite)")
    print(f"  accepted (201)   {codes.count(201)} in {accepted_s:6.2f} s = {n / accepted_s:7.0f}/s")
    print(f"  all verified     {stored} stored after {done_s:6.2f} s = {n / done_s:7.0f}/s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--burst", type=int, default=1000)
    args = ap.parse_args()
    with BlogServer("Bench Blog") as blog, tempfile.TemporaryDirectory() as tmp:
        for i in range(args.entries):
            blog.add_post(
                f"post-{i}",
                f"Post {i} #NHSCitizen",
                PARA * 8,
                tags=["NHSCitizen", "assemblies"],
                published=T0 + timedelta(minutes=i),
            )
        feed_costs(blog, args.rounds)
        runner_costs(blog, args.rounds, tmp)
        if args.burst:
            receiver_burst(args.burst, tmp)


if __name__ == "__main__":
    main()
