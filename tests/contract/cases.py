"""Platforms under the collector contract. Add yours here: one factory per platform.

A factory is a context manager that starts its local protocol server(s), fills them with
`n` matching items spread over several pages, and yields a `ContractCase`. The contract tests
(`test_collector_contract.py`) create the store, load the settings' movements and sources
(through `collectors.registry.source_specs`), and drive `case.make_collector(context)`.

    @contextmanager
    def bluesky_case() -> Iterator[ContractCase]:
        with running(BlueskyServer(...)) as server:
            ... put 23 posts on it ...
            yield ContractCase(
                name="bluesky",
                settings=parse_settings({...}),
                make_collector=BlueskyCollector,
                expected_mentions=23,
                grow=lambda n: ...,   # add n more matching items (for the resume property)
            )

    CASES["bluesky"] = bluesky_case
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from collectors.base import Collector, CollectorContext
from domain.settings.config import Settings


@dataclass
class ContractCase:
    name: str
    settings: Settings
    make_collector: Callable[[CollectorContext], Collector]
    expected_mentions: int  # distinct matching mentions the server(s) hold right now
    grow: Callable[[int], None]  # add n more matching items; expected_mentions follows


@contextmanager
def mastodon_case() -> Iterator[ContractCase]:
    from collectors.mastodon.collector import MastodonCollector
    from tests.mastodon_support import settings_for
    from tests.servers.mastodon_server import MastodonServer, make_account, make_status, running

    with running(
        MastodonServer("alpha.test", seq_salt=10), MastodonServer("beta.test", seq_salt=700)
    ) as (a, b):
        counter = {"n": 0}

        def grow(k: int) -> None:
            for _ in range(k):
                counter["n"] += 1
                n = counter["n"]
                s = a.carry(make_status("alpha.test", "ann", n))
                if n % 3 == 0:
                    b.carry(s, origin="alpha.test")  # federated: one mention, two instances
                if n % 4 == 0:
                    a.boost(s["uri"], make_account(f"fan{n}", "beta.test"), origin="beta.test")
            case.expected_mentions = counter["n"]

        case = ContractCase(
            name="mastodon",
            settings=settings_for(a, b, mastodon={"page_limit": 4}),
            make_collector=MastodonCollector,
            expected_mentions=0,
            grow=grow,
        )
        grow(14)
        yield case


@contextmanager
def bluesky_case() -> Iterator[ContractCase]:
    import os
    import tempfile
    from datetime import UTC, datetime, timedelta

    from collectors.bluesky.collector import BlueskyCollector
    from domain.settings.config import parse_settings
    from tests.bluesky_support import APP_PASSWORD, HANDLE
    from tests.servers.bluesky_server import BlueskyServer, profile

    saved = {
        k: os.environ.get(k) for k in ("GROUNDSWELL_BSKY_HANDLE", "GROUNDSWELL_BSKY_APP_PASSWORD")
    }
    os.environ["GROUNDSWELL_BSKY_HANDLE"] = HANDLE
    os.environ["GROUNDSWELL_BSKY_APP_PASSWORD"] = APP_PASSWORD
    try:
        with BlueskyServer() as server, tempfile.TemporaryDirectory() as tmp:
            server.add_account(HANDLE, APP_PASSWORD)
            authors = [profile(f"did:plc:contract{i:016d}", f"c{i}.bsky.social") for i in range(4)]
            counter = {"n": 0}

            def grow(k: int) -> None:
                now = datetime.now(UTC)
                for _ in range(k):
                    counter["n"] += 1
                    n = counter["n"]
                    # every fifth is indexed late: sorted before the last sweep ended
                    late = timedelta(seconds=120) if n % 5 == 0 else timedelta(seconds=1)
                    uri = server.add_post(
                        authors[n % 4],
                        f"Post {n} #NHSCitizen",
                        now - late - timedelta(milliseconds=n),
                    )
                    if n % 4 == 0:  # some amplification, so edges go through the contract too
                        server.add_reposts(uri, [authors[(n + 1) % 4]])
                case.expected_mentions = counter["n"]

            case = ContractCase(
                name="bluesky",
                settings=parse_settings(
                    {
                        "movements": [
                            {
                                "slug": "nhscitizen",
                                "name": "NHS Citizen",
                                "hashtags": ["NHSCitizen"],
                            }
                        ],
                        "collect": {"backfill_days": 2},
                        "bluesky": {
                            "base_url": server.base_url,
                            "session_file": f"{tmp}/session.json",
                            "queries": [{"tag": "NHSCitizen"}],
                            "page_limit": 5,
                            "result_cap": 12,
                        },
                    }
                ),
                make_collector=BlueskyCollector,
                expected_mentions=0,
                grow=grow,
            )
            grow(16)
            yield case
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def blog_case() -> Iterator[ContractCase]:
    """Three WordPress-like blogs (RSS 2.0, Atom, RSS 1.0 feeds: one batch per feed) and a
    tracked post with two pingbacks (one batch). `grow` publishes matching posts."""
    from contextlib import ExitStack
    from datetime import timedelta

    from collectors.blogs.collector import BlogCollector
    from domain.settings.config import parse_settings
    from tests.servers.blog_server import T0, BlogServer, Ping

    with ExitStack() as stack:
        blogs = [stack.enter_context(BlogServer(f"Blog {i}")) for i in range(3)]
        counter = {"n": 0}

        def publish(k: int) -> None:
            for _ in range(k):
                counter["n"] += 1
                n = counter["n"]
                blogs[n % 3].add_post(
                    f"post-{n}",
                    f"Post {n} #NHSCitizen",
                    f"<p>Pledged, day {n}</p>",
                    published=T0 + timedelta(minutes=n),
                )

        def grow(k: int) -> None:
            publish(k)
            case.expected_mentions = counter["n"] + 2  # + the two pingbacks

        publish(7)
        tracked = blogs[0].posts[0]
        tracked.pings = [
            Ping(blogs[1].post_url(blogs[1].posts[0]), "A reply"),
            Ping(blogs[2].post_url(blogs[2].posts[0]), "Another reply"),
        ]
        case = ContractCase(
            name="blog",
            settings=parse_settings(
                {
                    "movements": [
                        {"slug": "nhscitizen", "name": "NHS Citizen", "hashtags": ["NHSCitizen"]}
                    ],
                    "blogs": {
                        "allow_loopback": True,
                        "enrich_delay_s": 0,
                        "feeds": [
                            {"url": blogs[0].url + "/feed/"},
                            {"url": blogs[1].url + "/feed/atom/"},
                            {"url": blogs[2].url + "/feed/rdf/"},
                        ],
                        "tracked_posts": [{"url": blogs[0].post_url(tracked)}],
                    },
                }
            ),
            make_collector=BlogCollector,
            expected_mentions=counter["n"] + 2,
            grow=grow,
        )
        yield case


CASES: dict[str, Callable[[], AbstractContextManager[ContractCase]]] = {
    "blog": blog_case,
    "bluesky": bluesky_case,
    "mastodon": mastodon_case,
}
