"""Shared set-up for the Bluesky collector tests: a local server, settings, a runner."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from collectors.base import CollectorContext
from collectors.bluesky.collector import BlueskyCollector
from collectors.bluesky.plugin import source_specs
from collectors.runner import Runner
from domain.settings.config import Settings, parse_settings
from storage.catalog import sync_sources, upsert_movement
from storage.engine import write_tx
from storage.models import Account, Amplification, CollectorRun, Mention, MentionMatch, Source
from tests.servers.bluesky_server import BlueskyServer, profile

HANDLE = "collector.bsky.social"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"


@dataclass
class Env:
    server: BlueskyServer
    engine: Engine
    tmp: Path
    settings: Settings

    def configure(self, **bluesky: Any) -> Settings:
        """Settings for this server; `bluesky` overrides [bluesky] keys."""
        section: dict[str, Any] = {
            "base_url": self.server.base_url,
            "session_file": str(self.tmp / "session.json"),
            "queries": [{"tag": "NHSCitizen"}],
            "page_limit": 10,
            "timeout_s": 1.0,
        }
        section.update(bluesky)
        self.settings = parse_settings(
            {
                "movements": [
                    {
                        "slug": "nhscitizen",
                        "name": "NHS Citizen",
                        "hashtags": ["NHSCitizen"],
                        "terms": ["NHS Citizen"],
                    }
                ],
                "collect": {"backfill_days": 2},
                "bluesky": section,
            }
        )
        with write_tx(self.engine) as conn:
            for m in self.settings.movements:
                upsert_movement(conn, m)
            sync_sources(conn, source_specs(self.settings))
        return self.settings

    def runner(self, **collector_kw: Any) -> Runner:
        """A fresh runner and collector, as a new process would have."""
        context = CollectorContext(settings=self.settings, engine=self.engine)
        collector = BlueskyCollector(context, **collector_kw)
        return Runner(self.engine, context, {"bluesky": collector}, backoff_base_s=5)

    def run(self, **collector_kw: Any) -> list[Any]:
        return self.runner(**collector_kw).run_once(only_due=False)

    # -- reading the store ------------------------------------------------------------------

    def scalar(self, q: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(q).scalar()

    def mentions(self) -> int:
        return int(self.scalar(select(func.count()).select_from(Mention.__table__)))

    def matches(self) -> int:
        return int(self.scalar(select(func.count()).select_from(MentionMatch.__table__)))

    def native_ids(self) -> list[str]:
        with self.engine.connect() as conn:
            return sorted(r[0] for r in conn.execute(select(Mention.__table__.c.native_id)))

    def edges(self) -> list[tuple[str, int, int]]:
        a = Amplification.__table__
        with self.engine.connect() as conn:
            return sorted(
                (r.kind, r.source_account_id, r.target_mention_id)
                for r in conn.execute(
                    select(a.c.kind, a.c.source_account_id, a.c.target_mention_id)
                )
            )

    def account(self, did: str) -> Any:
        a = Account.__table__
        with self.engine.connect() as conn:
            return conn.execute(select(a).where(a.c.native_id == did)).one_or_none()

    def source(self, key: str = "bluesky:tag:NHSCitizen") -> Any:
        s = Source.__table__
        with self.engine.connect() as conn:
            return conn.execute(select(s).where(s.c.key == key)).one()

    def last_run(self) -> Any:
        r = CollectorRun.__table__
        with self.engine.connect() as conn:
            return conn.execute(select(r).order_by(r.c.id.desc()).limit(1)).one()


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def add_posts(
    server: BlueskyServer, n: int, *, start: datetime | None = None, step_s: float = 60, **kw: Any
) -> list[str]:
    """n matching posts by a few authors, newest `start` (default: a minute ago), older after."""
    start = start or now() - timedelta(minutes=1)
    authors = [profile(f"did:plc:author{i:020d}", f"author{i}.bsky.social") for i in range(5)]
    return [
        server.add_post(
            authors[i % 5],
            f"Post {i} from the assembly #NHSCitizen 🎉",
            start - timedelta(seconds=step_s * i),
            **kw,
        )
        for i in range(n)
    ]


@contextmanager
def bluesky_env(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **server_options: Any
) -> Iterator[Env]:
    """A running local Bluesky with our collector's account, and settings pointing at it."""
    monkeypatch.setenv("GROUNDSWELL_BSKY_HANDLE", HANDLE)
    monkeypatch.setenv("GROUNDSWELL_BSKY_APP_PASSWORD", APP_PASSWORD)
    with BlueskyServer(**server_options) as server:
        server.add_account(HANDLE, APP_PASSWORD)
        env = Env(server=server, engine=store, tmp=tmp_path, settings=Settings())
        env.configure()
        yield env


@contextmanager
def jetstream_env(store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """`bluesky_env` collecting from its Jetstream only (no search queries), from now on (no
    rewind), flushing batches every 0.3 s: the live mode the stream tests drive."""
    with bluesky_env(store, tmp_path, monkeypatch) as env:
        env.configure(
            queries=[],
            jetstream_url=env.server.jetstream_url,
            jetstream_rewind_s=0,
            jetstream_flush_s=0.3,
            jetstream_catchup_s=10,
        )
        yield env
