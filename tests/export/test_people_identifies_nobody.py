"""A pseudonymised export names no person through the people links either (issue 20;
DESIGN.md section 6; docs/people.md, "Privacy").

Linking accounts into people brings identifiers the account ids alone do not: a Bluesky
domain handle (`gpreflections.blog` is a person), the site a Mastodon profile verified, the
source text of each piece of evidence ("bluesky handle gpreflections.blog", the verified
field's URL), the impersonator's one-way claim. On the demo conversation (people on two and
three platforms, an impersonator), every file of a pseudonymised export (accounts, mentions,
edges, the network files, the data card with its evidence counts) is scanned for each of them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest
from sqlalchemy import select

from groundswell.demo import load_demo
from groundswell.export import ExportOptions, export_dataset
from storage.models import Account
from storage.models_people import PersonClaim, PersonLink

KEY = b"p" * 32
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
EVERYTHING = ExportOptions(
    formats=("csv", "jsonl", "parquet"), network=("gexf", "graphml"), pseudonym_key=KEY
)
A = Account.__table__
LINK = PersonLink.__table__
CLAIMS = PersonClaim.__table__


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from storage.engine import make_engine
    from storage.migrate import upgrade

    url = f"sqlite:///{tmp_path_factory.mktemp('people_export') / 'demo.db'}"
    engine = make_engine(url)
    upgrade(engine)
    load_demo(engine, seed=3, mentions=600, now=NOW)
    _a_post_naming_the_peoples_sites(engine)
    out = tmp_path_factory.mktemp("people_export_out") / "out"
    export_dataset(engine, out, options=EVERYTHING, now=NOW)
    yield engine, out
    engine.dispose()


def _a_post_naming_the_peoples_sites(engine) -> None:
    """A reader's post that links and names the linked people's own sites (a domain handle
    that is no blog in the store, the organisation's verified site) and the three-platform
    blogger's host: each names a person, as surely as their handle."""
    from datetime import timedelta

    from domain.records import AccountRecord, Batch, MentionRecord
    from storage.catalog import load_rules
    from storage.engine import write_tx
    from storage.write import write_batch

    with engine.connect() as conn:
        handles = [
            str(h)
            for (h,) in conn.execute(
                select(A.c.handle).where(A.c.platform == "bluesky", A.c.handle.like("%.uk"))
            )
        ]
        rules = load_rules(conn)
    own = sorted(h for h in handles if h != "nhscitizen.uk")[0]
    text = (
        f"Two good reads: gpreflections.blog and {own} (also www.{own}/about). "
        "NHS Citizen explains it at https://www.nhscitizen.uk/about #NHSCitizen"
    )
    post = MentionRecord(
        platform="mastodon",
        native_id="https://mastodon.example/users/reader/statuses/1",
        url="https://mastodon.example/@reader/1",
        created_at=NOW - timedelta(hours=2),
        author=AccountRecord(platform="mastodon", native_id="reader@mastodon.example"),
        text=text,
        html=f"<p>{text}</p>",
        hashtags=["NHSCitizen"],
        links=[f"https://{own}/", "https://www.nhscitizen.uk/about", "https://gpreflections.blog/"],
    )
    with write_tx(engine) as conn:
        assert write_batch(conn, Batch(mentions=[post]), rules, now=NOW).new == 1


def _host(text: str) -> str | None:
    host = urlsplit(text).hostname if "://" in text else None
    return host.removeprefix("www.") if host else None


def _people_identifiers(engine) -> dict[str, set[str]]:
    """What names the demo's linked people: their sites (claimed, proved, owned), domain
    handles, evidence sources, and the accounts of every person with more than one."""
    with engine.connect() as conn:
        accounts = conn.execute(
            select(A.c.id, A.c.platform, A.c.native_id, A.c.handle, A.c.url, A.c.person_id)
        ).all()
        claims = conn.execute(select(CLAIMS.c.key, CLAIMS.c.source)).all()
        links = conn.execute(select(LINK.c.kind, LINK.c.source)).all()
    sizes: dict[int, int] = {}
    for r in accounts:
        sizes[r.person_id] = sizes.get(r.person_id, 0) + 1
    several = [r for r in accounts if sizes[r.person_id] > 1]
    sites = {k.removeprefix("site:") for k, _ in claims if k.startswith("site:")}
    sites |= {h for _, s in claims if s and (h := _host(s))}
    return {
        "site": sites,
        "domain handle": {
            r.handle
            for r in accounts
            if r.platform == "bluesky" and r.handle and not r.handle.endswith(".bsky.social")
        },
        "claim source": {s for _, s in claims if s},
        "evidence source": {s for _, s in links if s},
        "linked account": {r.native_id for r in several} | {r.handle for r in several if r.handle},
        "linked profile url": {r.url for r in several if r.url},
    }


def _all_text(folder: Path) -> str:
    parts = []
    for path in sorted(folder.iterdir()):
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
            parts.append(frame.to_json(orient="records", force_ascii=False, date_format="iso"))
        else:
            parts.append(path.read_bytes().decode("utf-8"))
    return "\n".join(parts).lower()


def test_the_demo_has_people_on_several_platforms_and_their_evidence(demo):
    engine, _ = demo
    found = _people_identifiers(engine)
    assert "gpreflections.blog" in found["domain handle"]
    assert "gpreflections.blog" in found["site"] and "nhscitizen.uk" in found["site"]
    assert all(found.values()), {k: bool(v) for k, v in found.items()}


def test_no_file_of_a_pseudonymised_export_names_a_linked_person(demo):
    engine, out = demo
    blob = _all_text(out)
    leaks = {
        kind: sorted(v for v in values if v.lower() in blob)
        for kind, values in _people_identifiers(engine).items()
    }
    assert {k: v for k, v in leaks.items() if v} == {}


def test_the_scan_finds_them_in_an_identified_export(demo, tmp_path):
    """The scan can fail: without pseudonyms the same files name these people."""
    engine, _ = demo
    export_dataset(engine, tmp_path / "named", options=ExportOptions(formats=("csv",)), now=NOW)
    blob = _all_text(tmp_path / "named")
    found = _people_identifiers(engine)
    assert "gpreflections.blog" in blob and "nhscitizen.uk" in blob
    assert any(v.lower() in blob for v in found["linked account"])


def test_links_into_a_persons_own_site_become_their_account_reference(demo):
    _, out = demo
    mentions = pd.read_parquet(out / "mentions.parquet")
    (row,) = mentions[mentions["text"].str.contains("Two good reads", na=False)].to_dict("records")
    assert all(link.startswith("account:") for link in row["links"]), row["links"]
    assert row["text"].count("account:") == 4, row["text"]


def test_persons_are_keyed_and_still_join_across_files(demo):
    engine, out = demo
    accounts = pd.read_parquet(out / "accounts.parquet")
    with engine.connect() as conn:
        raw = {str(int(p)) for (p,) in conn.execute(select(A.c.person_id))}
    assert not raw & set(accounts["person_id"].astype(str))  # no raw person id
    shared = accounts.groupby("person_id")["platform"].nunique()
    assert (shared >= 3).any()  # the three-platform person: one pseudonym on three platforms
    edges = pd.read_parquet(out / "edges.parquet")
    assert set(edges["source_person_id"]) <= set(accounts["person_id"])
    card = json.loads((out / "datacard.json").read_text())
    counts = json.dumps(card).lower()
    assert "bluesky_domain_handle" in counts and "mastodon_verified_field" in counts
