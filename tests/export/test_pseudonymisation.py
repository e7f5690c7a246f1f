"""Pseudonyms: stable within one key, different across keys, and nothing left that names the
person (ids, native ids, URLs, handles)."""

from __future__ import annotations

import json

import pandas as pd

from groundswell.export import ExportOptions, export_dataset
from groundswell.export.pseudonym import Pseudonymiser, key_fingerprint

KEY_A = b"a" * 32
KEY_B = b"b" * 32


def _export(store, path, key, **kw):
    export_dataset(store, path, options=ExportOptions(formats=("csv",), pseudonym_key=key, **kw))
    return {
        d: pd.read_csv(path / f"{d}.csv", dtype=str, keep_default_na=False)
        for d in ("mentions", "accounts", "edges")
    }


def test_pseudonyms_are_stable_within_a_key(store, seeded, tmp_path):
    first = _export(store, tmp_path / "a1", KEY_A)
    second = _export(store, tmp_path / "a2", KEY_A)
    assert first["mentions"]["account_id"].tolist() == second["mentions"]["account_id"].tolist()
    assert sorted(first["accounts"]["account_id"]) == sorted(second["accounts"]["account_id"])


def test_pseudonyms_differ_across_keys(store, seeded, tmp_path):
    a = set(_export(store, tmp_path / "a", KEY_A)["accounts"]["account_id"])
    b = set(_export(store, tmp_path / "b", KEY_B)["accounts"]["account_id"])
    assert a and b and not (a & b)


def test_pseudonyms_join_across_files(store, seeded, tmp_path):
    files = _export(store, tmp_path / "out", KEY_A)
    accounts = set(files["accounts"]["account_id"])
    assert set(files["mentions"]["account_id"]) <= accounts
    assert set(files["edges"]["source_account_id"]) <= accounts
    assert set(files["edges"]["target_mention_id"]) <= set(files["mentions"]["mention_id"])


def test_pseudonymised_files_carry_no_native_ids_urls_or_handles(store, seeded, tmp_path):
    files = _export(store, tmp_path / "out", KEY_A)
    assert "native_id" not in files["mentions"].columns
    assert "handle" not in files["accounts"].columns
    blob = "".join((tmp_path / "out" / f"{d}.csv").read_text() for d in files)
    for needle in ("alice", "bob.bsky.social", "did:plc", "example.social/users"):
        assert needle not in blob
    card = json.loads((tmp_path / "out" / "datacard.json").read_text())
    assert card["query"]["options"]["pseudonym_key_fingerprint"] == key_fingerprint(KEY_A)
    assert KEY_A.decode() not in (tmp_path / "out" / "datacard.json").read_text()


def test_the_same_id_gets_different_pseudonyms_as_account_and_as_mention():
    p = Pseudonymiser(KEY_A)
    assert p.pseudonym("account", 42) != p.pseudonym("mention", 42)
    assert p.pseudonym("account", 42) == Pseudonymiser(KEY_A).pseudonym("account", 42)


def test_drop_text_urls_and_generalised_times(store, seeded, tmp_path):
    export_dataset(
        store,
        tmp_path / "out",
        options=ExportOptions(
            formats=("csv",), drop_text=True, drop_urls=True, generalise_times="day"
        ),
    )
    frame = pd.read_csv(tmp_path / "out" / "mentions.csv", dtype=str)
    assert not {"text", "title", "url", "links", "spoiler_text"} & set(frame.columns)
    assert all(t.endswith("T00:00:00Z") for t in frame["created_at"])


def test_personal_data_is_masked_and_urls_removed_from_text(store, seeded, tmp_path):
    export_dataset(
        store,
        tmp_path / "out",
        options=ExportOptions(formats=("jsonl",), mask_personal_data=True, drop_urls=True),
    )
    text = (tmp_path / "out" / "mentions.jsonl").read_text()
    assert "07700 900123" not in text
    assert "[phone]" in text
