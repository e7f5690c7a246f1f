"""A pseudonymised export identifies nobody in any column (DESIGN.md section 6, issue 17):
on the demo conversation, every byte of every file (Parquet read back, network files and data
card included) is scanned for the store's real identifiers: handles, account ids, blog hosts,
post ids, post URLs and `@name` URLs. Links to the wider web stay."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from groundswell.demo import load_demo
from groundswell.export import ExportOptions, export_dataset
from groundswell.export.columns import DATASET_COLUMNS, IDENTIFYING, QUASI, SAFE
from storage.models import Account, Mention

KEY = b"k" * 32
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
EVERYTHING = ExportOptions(
    formats=("csv", "jsonl", "parquet"), network=("gexf", "graphml"), pseudonym_key=KEY
)


@pytest.fixture
def demo(store):
    load_demo(store, seed=3, mentions=600, now=NOW)
    return store


def _identifiers(store) -> dict[str, set[str]]:
    a, m = Account.__table__, Mention.__table__
    with store.connect() as conn:
        accounts = conn.execute(
            select(a.c.platform, a.c.native_id, a.c.handle, a.c.url, a.c.display_name)
        ).all()
        mentions = conn.execute(select(m.c.native_id, m.c.url, m.c.links)).all()
    blog_like = {"blog", "pingback", "webmention"}
    links = {u for row in mentions for u in (row.links or [])}
    return {
        "handle": {r.handle for r in accounts if r.handle},
        "account id": {r.native_id for r in accounts if r.platform not in blog_like},
        "blog host": {r.native_id for r in accounts if r.platform in blog_like},
        "profile url": {r.url for r in accounts if r.url},
        "post id": {r.native_id for r in mentions},
        "post url": {r.url for r in mentions if r.url},
        "@name url": {u for u in links if "/@" in u},
    }


def _all_text(folder: Path) -> str:
    """Every file as text; Parquet (compressed) read back as values."""
    parts = []
    for path in sorted(folder.iterdir()):
        if path.suffix == ".parquet":
            parts.append(
                pd.read_parquet(path).to_json(
                    orient="records", force_ascii=False, date_format="iso"
                )
            )
        else:
            parts.append(path.read_bytes().decode("utf-8"))
    return "\n".join(parts).lower()


def test_a_pseudonymised_export_carries_no_identifier_in_any_file(demo, tmp_path):
    export_dataset(demo, tmp_path / "out", options=EVERYTHING)
    blob = _all_text(tmp_path / "out")
    found = {
        kind: sorted(v for v in values if v.lower() in blob)
        for kind, values in _identifiers(demo).items()
    }
    assert all(values for values in _identifiers(demo).values())  # the demo has each kind
    assert {k: v for k, v in found.items() if v} == {}
    assert "/@" not in blob


def test_links_to_people_become_the_same_keyed_references_as_their_ids(demo, tmp_path):
    export_dataset(demo, tmp_path / "out", options=EVERYTHING)
    mentions = pd.read_parquet(tmp_path / "out" / "mentions.parquet")
    refs = {link for links in mentions["links"] if links is not None for link in links}
    mention_refs = {r.removeprefix("mention:") for r in refs if r.startswith("mention:")}
    assert mention_refs
    assert all(r.startswith(("mention:", "account:", "link:", "https://www.")) for r in refs)
    assert mention_refs & set(mentions["mention_id"])  # a link to a post joins on mention_id


def test_links_to_the_wider_web_stay(demo, tmp_path):
    export_dataset(demo, tmp_path / "out", options=EVERYTHING)
    mentions = pd.read_parquet(tmp_path / "out" / "mentions.parquet")
    links = {link for links in mentions["links"] if links is not None for link in links}
    assert "https://www.nhscitizen.org.uk/pledge" in links


def test_a_blog_rows_instance_is_keyed_like_its_account(demo, tmp_path):
    export_dataset(demo, tmp_path / "out", options=EVERYTHING)
    mentions = pd.read_parquet(tmp_path / "out" / "mentions.parquet")
    blogs = mentions[mentions["platform"] == "blog"]
    assert len(blogs)
    assert (blogs["instance"] == "account:" + blogs["account_id"]).all()
    mastodon = mentions[mentions["platform"] == "mastodon"]
    assert not mastodon["instance"].str.startswith("account:").any()  # instances stay


def test_every_exported_column_is_classified_in_the_data_dictionary(demo, tmp_path):
    export_dataset(demo, tmp_path / "out", options=EVERYTHING)
    card = json.loads((tmp_path / "out" / "datacard.json").read_text())
    for dataset, columns in card["data_dictionary"].items():
        assert columns, dataset
        for col in columns:
            assert col["class"] in (IDENTIFYING, QUASI, SAFE), (dataset, col)
            assert col["treatment"], (dataset, col)
    for dataset, columns in DATASET_COLUMNS.items():
        for col in columns:
            if col.klass == IDENTIFYING and dataset != "mention_ids":
                assert col.pseudonymised != "kept", (dataset, col.name)
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "quasi-identifying" in readme
