"""Large feeds on SQLite and PostgreSQL (issue 16 item 2).

A feed of about 1,000 entries or more failed on every poll on SQLite with "Expression tree is
too large (maximum depth 1000)": the lookup of stored entries linking to this feed's entries
OR-ed one `LIKE` per entry URL, and the source backed off forever. The lookups are set-based
now (the wanted URLs bound as one parameter and joined on the canonical URL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import create_engine
from typer.testing import CliRunner

from domain.records import AccountRecord, Batch, MentionRecord
from groundswell.cli import app
from storage.catalog import upsert_movement
from storage.engine import write_tx
from storage.queries.blogs import mentions_by_url, mentions_linking_to
from storage.write import write_batch
from tests.blog_helpers import NHS, count
from tests.factories import T0
from tests.servers.blog_server import BlogServer
from tests.test_blog_cli import CONFIG


@pytest.mark.slow  # about a minute on 2 loaded cores: parsing 5,000 entries dominates
def test_a_5000_entry_feed_loads_through_collect_once_on_sqlite(tmp_path):
    n = 5000
    with BlogServer("Patient Voices") as blog:
        first = blog.add_post("day-0", "Day 0 of the assembly", "<p>Notes #NHSCitizen</p>")
        for i in range(1, n):  # each links to the first day's notes
            blog.add_post(
                f"day-{i}",
                f"Day {i} of the assembly",
                f'<p>Notes #NHSCitizen <a href="{blog.post_url(first)}">day 0</a></p>',
                published=T0 + timedelta(minutes=i),
            )
        config = tmp_path / "groundswell.toml"
        config.write_text(CONFIG + f'\n[[blogs.feeds]]\nurl = "{blog.url}/feed/"\n')
        db = f"sqlite:///{tmp_path / 'gs.db'}"
        result = CliRunner().invoke(app, ["collect", "--once", "--config", str(config), "--db", db])
        assert result.exit_code == 0, result.output
    engine = create_engine(db)
    assert count(engine, "SELECT count(*) FROM mention WHERE platform = 'blog'") == n
    assert count(engine, "SELECT count(*) FROM amplification WHERE kind = 'link'") == n - 1
    assert count(engine, "SELECT count(*) FROM source WHERE last_error IS NOT NULL") == 0


@pytest.mark.slow
def test_50000_entry_urls_are_looked_up_in_one_query_each_way(store):
    """The size of a large WordPress export: every entry stored, each linking to the one
    before; both lookups of a 50,000-entry feed answer in full."""
    n = 50_000
    blog = AccountRecord("blog", "big.example", handle="big.example")

    def url(i: int) -> str:
        return f"https://big.example/2026/11/day-{i}/"

    entries = [
        MentionRecord(
            platform="blog",
            native_id=f"https://big.example/?p={i}",
            created_at=T0 + timedelta(seconds=i),
            author=blog,
            url=url(i),
            text="#NHSCitizen",
            links=[url(i - 1)] if i else [],
        )
        for i in range(n)
    ]
    with write_tx(store) as conn:
        upsert_movement(conn, NHS)
    from storage.catalog import load_rules

    with write_tx(store) as conn:
        write_batch(conn, Batch(mentions=entries), load_rules(conn))
    urls = [url(i) for i in range(n)]
    with store.connect() as conn:
        found = mentions_by_url(conn, urls)
        linking = mentions_linking_to(conn, urls)
    assert len(found) == n
    assert len(linking) == n - 1
    assert {t for m in linking for t in m.targets} == {url(i).rstrip("/") for i in range(n - 1)}
