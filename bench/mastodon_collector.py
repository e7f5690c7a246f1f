"""Where the Mastodon collector's time goes, and that pacing never exceeds the limit.

    python bench/mastodon_collector.py [--statuses 2000] [--rounds 3]

Measured in one run against the local Mastodon server on 127.0.0.1 (tests/servers), each
figure next to the baseline it should be read against:
- parse: `parse_status` (sanitising, links, accounts) against `json.loads` of the same page
  bytes, the floor any parser pays;
- fetch: every page through Mastodon.py (`timeline_hashtag` + `to_plain`) against plain
  `requests.get` of the same URLs;
- end to end: a first run of one source through the real runner into SQLite against
  `write_batch` of the already-parsed records (the store's own floor);
- pacing: the most requests the server saw in one rate-limit window against its advertised
  limit (must be <= 1.0, zero 429s), with the lower-case `x-ratelimit-*` headers real servers
  send: 12 hashtags against 5 per 10 s, and 300 per 5 minutes joined late in a spent window.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from collectors.mastodon.client import InstanceClient  # noqa: E402
from collectors.mastodon.parse import parse_status  # noqa: E402
from domain.records import Batch  # noqa: E402
from storage.catalog import load_rules  # noqa: E402
from storage.engine import make_engine, write_tx  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.write import write_batch  # noqa: E402
from tests.mastodon_support import runner_for, scalar, settings_for, sync  # noqa: E402
from tests.servers.mastodon_server import (  # noqa: E402
    MastodonServer,
    make_account,
    make_status,
    running,
)

TEXT = (
    "Signed the pledge at the assembly today &amp; met people from three trusts. "
    '<a href="https://www.nhscitizen.org.uk/pledge?utm_source=masto" rel="nofollow">'
    '<span class="invisible">https://www.</span>nhscitizen.org.uk/pledge</a> '
    '<span class="h-card"><a href="https://beta.test/@bob" class="u-url mention">@bob</a></span>'
)


def fill(server: MastodonServer, n: int) -> None:
    for i in range(1, n + 1):
        acc = make_account(f"user{i % 300}", "alpha.test", account_id=str(100000 + i % 300))
        server.carry(make_status("alpha.test", f"user{i % 300}", i, text=TEXT, account=acc))


def best(fn, rounds: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def page_urls(server: MastodonServer, limit: int) -> list[str]:
    ids = sorted(server.statuses)
    urls = [f"{server.base_url}/api/v1/timelines/tag/NHSCitizen?limit={limit}"]
    for end in range(len(ids) - limit, 0, -limit):
        urls.append(
            f"{server.base_url}/api/v1/timelines/tag/NHSCitizen?limit={limit}&max_id={ids[end]}"
        )
    return urls


def pace(name: str, server: MastodonServer, *, tags: int, per_tag: int) -> dict:
    """One first run of `tags` hashtag sources (`per_tag` statuses each, 4 per page) against
    `server`, which sends its `x-ratelimit-*` headers in lower case as real Mastodon does."""
    names = tuple(f"Tag{i:02d}" for i in range(tags))
    with running(server) as (s,):
        for i, tag in enumerate(names):
            for j in range(per_tag):
                n = i * per_tag + j + 1
                s.carry(make_status(s.domain, f"user{n % 50}", n, tags=(tag, "NHSCitizen")))
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{tmp}/pace.db")
            upgrade(engine)
            quiet = {"fetch_boosts": False, "fetch_replies": False, "refresh_latest": False}
            settings = settings_for(
                s, hashtags=names, mastodon={"page_limit": 4, **quiet}, max_wait_s=60.0
            )
            runner, _ = runner_for(engine, settings)
            t0 = time.perf_counter()
            outcomes = runner.run_once()
            elapsed = time.perf_counter() - t0
            stored = scalar(engine, "SELECT count(*) FROM mention")
        assert stored == tags * per_tag, stored
        return {
            "name": name,
            "requests": len(s.requests),
            "elapsed": elapsed,
            "windows": s.requests_per_window(),
            "peak": s.max_requests_per_window(),
            "limit": s.rate_limit,
            "refused": sum(1 for r in s.requests if r.status == 429),
            "waits": sum(int(o.signals.get("pacing_wait", 0)) for o in outcomes)
            + sum(int(o.signals.get("rate_limit_wait", 0)) for o in outcomes),
            "outcomes": sorted({o.outcome for o in outcomes}),
        }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--statuses", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    n, rounds, limit = args.statuses, args.rounds, 40
    rows: list[tuple[str, float, str, float]] = []

    with running(MastodonServer("alpha.test", rate_limit=10**9)) as (server,):
        fill(server, n)
        urls = page_urls(server, limit)
        bodies = [requests.get(u, timeout=10).content for u in urls]
        plain = [item for b in bodies for item in json.loads(b)]
        assert len(plain) == n, len(plain)

        t_json = best(lambda: [json.loads(b) for b in bodies], rounds)
        t_parse = best(lambda: [parse_status(s, "alpha.test") for s in plain], rounds)
        rows.append(("parse_status", n / t_parse, "json.loads", n / t_json))

        session = requests.Session()
        t_http = best(lambda: [session.get(u, timeout=10).content for u in urls], rounds)
        client = InstanceClient(server.base_url, None, paging_budget=10**9)

        def via_client() -> None:
            max_id = None
            while True:
                page = client.hashtag_page("NHSCitizen", limit=limit, max_id=max_id)
                if len(page.items) < limit:
                    break
                max_id = page.link("next", "max_id")

        t_client = best(via_client, rounds)
        rows.append(("Mastodon.py pages", n / t_client, "requests.get pages", n / t_http))

        with tempfile.TemporaryDirectory() as tmp:
            parsed = [parse_status(s, "alpha.test") for s in plain]
            floor_engine = make_engine(f"sqlite:///{tmp}/floor.db")
            upgrade(floor_engine)
            settings = settings_for(server, mastodon={"fetch_boosts": False})
            sync(floor_engine, settings)
            with floor_engine.connect() as conn:
                rules = load_rules(conn)
            t0 = time.perf_counter()
            for i in range(0, n, limit):
                chunk = parsed[i : i + limit]
                with write_tx(floor_engine) as conn:
                    write_batch(conn, Batch(mentions=[p.mention for p in chunk]), rules)
            t_floor = time.perf_counter() - t0

            engine = make_engine(f"sqlite:///{tmp}/e2e.db")
            upgrade(engine)
            runner, _ = runner_for(engine, settings)
            t0 = time.perf_counter()
            [outcome] = runner.run_once()
            t_e2e = time.perf_counter() - t0
            assert outcome.outcome == "ok" and scalar(engine, "SELECT count(*) FROM mention") == n
            rows.append(("first run, runner+client", n / t_e2e, "write_batch only", n / t_floor))

    pacing = [
        # 12 hashtags on an instance advertising 5 requests per 10 s (the case: the
        # 6th and 12th requests drew 429s while lower-case headers went unread).
        pace(
            "5 per 10 s, 12 hashtags",
            MastodonServer("tight.test", rate_limit=5, rate_window_s=10.0),
            tags=12,
            per_tag=1,
        ),
        # Mastodon's default, 300 per 5 minutes, joined 40 s before the window resets with
        # 280 of it already spent (by other sources on the same IP): 40 pages to read.
        pace(
            "300 per 5 min, joined late",
            MastodonServer(
                "busy.test",
                rate_window_start=time.time() - 260,
                rate_used=280,
            ),
            tags=1,
            per_tag=160,
        ),
    ]

    print(f"{n} statuses, best of {rounds} rounds (statuses/s)")
    print(f"{'measured':28} {'rate':>10}   {'baseline':22} {'rate':>10}  ratio")
    for name, rate, base, base_rate in rows:
        ratio = rate / base_rate
        print(f"{name:28} {rate:10,.0f}   {base:22} {base_rate:10,.0f}  {ratio:5.2f}")
    for p in pacing:
        print(
            f"pacing, {p['name']} (lower-case headers): {p['requests']} requests in "
            f"{p['elapsed']:.1f} s, requests per window {p['windows']}, peak {p['peak']} against "
            f"a limit of {p['limit']} (ratio {p['peak'] / p['limit']:.2f}), 429s: {p['refused']}, "
            f"pacing waits {p['waits']}, outcomes {p['outcomes']}"
        )


if __name__ == "__main__":
    main()
