"""Opted-out accounts are only counted and deleted posts are absent: in every file of every
kind of export (all formats, network files, ID-only, pseudonymised), data card included."""

from __future__ import annotations

import pytest

from groundswell.export import ExportOptions, export_dataset
from tests.export.conftest import DELETED_TEXT, SECRET_TEXT, TERM_ONLY_TEXT

KEY = b"k" * 32

VARIANTS = {
    "plain": ExportOptions(formats=("csv", "jsonl", "parquet"), network=("gexf", "graphml")),
    "ids_only": ExportOptions(formats=("csv", "jsonl", "parquet"), ids_only=True),
    "pseudonymised": ExportOptions(
        formats=("csv", "jsonl", "parquet"), network=("gexf", "graphml"), pseudonym_key=KEY
    ),
}


def _everything(folder) -> bytes:
    return b"\n".join(p.read_bytes() for p in sorted(folder.iterdir()))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_opted_out_and_deleted_content_is_in_no_file(store, seeded, tmp_path, variant):
    export_dataset(store, tmp_path / "out", options=VARIANTS[variant])
    blob = _everything(tmp_path / "out")
    forbidden = [
        SECRET_TEXT,
        DELETED_TEXT,
        TERM_ONLY_TEXT,
        seeded.opted_out,
        seeded.deleted,
        seeded.term_only,
        seeded.opted_out_handle,
        "user3@example.social",  # the opted-out account's id
    ]
    for needle in forbidden:
        assert needle.encode() not in blob, needle


def test_withheld_posts_are_still_counted_in_the_card(store, seeded, tmp_path):
    summary = export_dataset(store, tmp_path / "out", options=VARIANTS["plain"])
    m = summary.counts["mentions"]
    assert m["in_filter"] == 6
    assert m["exported"] == 3
    assert m["withheld_opt_out_counted_only"] == 2  # opted out + term-only unindexable
    assert m["deleted_excluded"] == 1
    assert summary.counts["accounts"]["opted_out_authors_counted_only"] == 1
    assert summary.counts["edges"]["withheld_opt_out_or_deleted"] == 2


def test_the_discoverable_setting_is_honoured(store, tmp_path):
    from storage.engine import write_tx
    from storage.write import write_batch
    from tests.factories import account, batch, mention, movement

    rules = movement(store)
    with write_tx(store) as conn:
        write_batch(conn, batch(mention(1, author=account(1, discoverable=False))), rules)
    strict = export_dataset(store, tmp_path / "a", options=ExportOptions())
    lenient = export_dataset(
        store, tmp_path / "b", options=ExportOptions(discoverable_false_is_opt_out=False)
    )
    assert strict.counts["mentions"]["exported"] == 0
    assert lenient.counts["mentions"]["exported"] == 1


def test_an_edge_whose_own_post_was_deleted_is_withheld(store, seeded, tmp_path):
    import pandas as pd

    from domain.records import Batch
    from storage.engine import write_tx
    from storage.write import write_batch
    from tests.factories import movement

    reply = seeded.visible[2]  # the reply that constitutes the "reply" edge
    rules = movement(store)
    with write_tx(store) as conn:
        write_batch(conn, Batch(deletions=[("mastodon", reply)]), rules)
    export_dataset(store, tmp_path / "out", options=ExportOptions(network=("graphml",)))
    edges = pd.read_csv(tmp_path / "out" / "edges.csv")
    assert "reply" not in set(edges["kind"])
    assert reply.encode() not in _everything(tmp_path / "out")
