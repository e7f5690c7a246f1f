"""No export carries the id of a withheld post through a reference: a reply to an opted-out
person's post, a quote of a deleted post, an edge made by a post that may not be shown. The
reference is blanked and a boolean column says so (DESIGN.md section 6)."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from domain.records import Batch, EdgeRecord, mention_id
from groundswell.export import ExportOptions, export_dataset
from storage.engine import write_tx
from storage.write import write_batch
from tests.factories import T0, account, mention, movement


@pytest.fixture
def references(store):
    rules = movement(store)
    alice = account(1, indexable=True)
    carol = account(3, noindex=True)  # opted out
    bob = account(2, platform="bluesky")
    dave = account(4, indexable=False)  # term-only posts of his may not be shown
    opted_out_post = mention(10, author=carol, hashtags=["NHSCitizen"])
    deleted_post = mention(11, platform="bluesky", author=bob, hashtags=["NHSCitizen"])
    visible_post = mention(12, author=alice, hashtags=["NHSCitizen"])
    reply = mention(
        13,
        author=alice,
        hashtags=["NHSCitizen"],
        created_at=T0 + timedelta(hours=1),
        reply_to=("mastodon", opted_out_post.native_id),
        quote_of=("bluesky", deleted_post.native_id),
    )
    reply_to_visible = mention(
        14,
        author=alice,
        hashtags=["NHSCitizen"],
        created_at=T0 + timedelta(hours=2),
        reply_to=("mastodon", visible_post.native_id),
    )
    term_only = mention(
        15, author=dave, text="Thinking about NHS Citizen", created_at=T0 + timedelta(hours=3)
    )
    edge = EdgeRecord(
        "reply",
        "mastodon",
        dave,
        ("mastodon", visible_post.native_id),
        T0 + timedelta(hours=3),
        via=("mastodon", term_only.native_id),
    )
    posts = [opted_out_post, deleted_post, visible_post, reply, reply_to_visible, term_only]
    with write_tx(store) as conn:
        write_batch(conn, Batch(mentions=posts, edges=[edge]), rules)
    with write_tx(store) as conn:
        write_batch(conn, Batch(deletions=[("bluesky", deleted_post.native_id)]), rules)
    return {
        "withheld_ids": {
            mention_id("mastodon", opted_out_post.native_id),
            mention_id("bluesky", deleted_post.native_id),
            mention_id("mastodon", term_only.native_id),
        },
        "reply": mention_id("mastodon", reply.native_id),
        "reply_to_visible": mention_id("mastodon", reply_to_visible.native_id),
        "visible": mention_id("mastodon", visible_post.native_id),
    }


def _read(folder, name):
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


def test_references_to_withheld_posts_are_blank_and_flagged(store, references, tmp_path):
    export_dataset(store, tmp_path / "out", options=ExportOptions(formats=("csv",)))
    mentions = _read(tmp_path / "out", "mentions").set_index("mention_id")
    reply = mentions.loc[str(references["reply"])]
    assert (reply["reply_to_id"], reply["reply_to_withheld"]) == ("", "true")
    assert (reply["quote_of_id"], reply["quote_of_withheld"]) == ("", "true")


def test_references_to_shown_posts_are_kept_and_not_flagged(store, references, tmp_path):
    export_dataset(store, tmp_path / "out", options=ExportOptions(formats=("csv",)))
    mentions = _read(tmp_path / "out", "mentions").set_index("mention_id")
    row = mentions.loc[str(references["reply_to_visible"])]
    assert (row["reply_to_id"], row["reply_to_withheld"]) == (str(references["visible"]), "false")
    assert row["quote_of_withheld"] == "false"


def test_an_edge_made_by_a_withheld_post_does_not_name_it(store, references, tmp_path):
    export_dataset(store, tmp_path / "out", options=ExportOptions(formats=("csv",)))
    edges = _read(tmp_path / "out", "edges")
    reply_edges = edges[edges["kind"] == "reply"]
    assert len(reply_edges) == 1
    assert reply_edges.iloc[0]["via_mention_id"] == ""
    assert reply_edges.iloc[0]["via_withheld"] == "true"


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_no_file_carries_a_withheld_posts_id(store, references, tmp_path, fmt):
    export_dataset(store, tmp_path / "out", options=ExportOptions(formats=(fmt,)))
    if fmt == "parquet":
        frames = [pd.read_parquet(p) for p in (tmp_path / "out").glob("*.parquet")]
        blob = "\n".join(f.to_csv() for f in frames)
    else:
        blob = "\n".join(p.read_text() for p in (tmp_path / "out").glob(f"*.{fmt}"))
    for withheld in references["withheld_ids"]:
        assert str(withheld) not in blob
