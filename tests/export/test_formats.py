"""Every format reads back with the standard tools, with the same rows and the documented
columns; the data card describes exactly what was written."""

from __future__ import annotations

import json
import zipfile

import pandas as pd
import pyarrow.parquet as pq
import pytest

from groundswell.export import ExportFilters, ExportOptions, export_dataset
from groundswell.export.columns import columns_for

ALL = ExportOptions(formats=("csv", "jsonl", "parquet"))


def _read(path, fmt):
    if fmt == "csv":
        return pd.read_csv(path, keep_default_na=False, dtype=str)
    if fmt == "jsonl":
        return pd.read_json(path, lines=True, dtype=False)
    return pq.read_table(path).to_pandas()


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_each_dataset_round_trips_with_its_documented_columns(store, seeded, tmp_path, fmt):
    summary = export_dataset(store, tmp_path / "out", options=ExportOptions(formats=(fmt,)))
    expected = {"mentions": 3, "accounts": 2, "edges": 3, "events": 1}
    for dataset, n in expected.items():
        path = tmp_path / "out" / f"{dataset}.{fmt}"
        frame = _read(path, fmt)
        cols = [c.name for c in columns_for(dataset, ExportOptions())]
        if n or fmt != "jsonl":
            assert list(frame.columns) == cols, dataset
        assert len(frame) == n, dataset
    assert summary.counts["mentions"]["exported"] == 3


def test_the_three_formats_hold_the_same_mentions(store, seeded, tmp_path):
    export_dataset(store, tmp_path / "out", options=ALL)
    ids = {
        fmt: sorted(str(x) for x in _read(tmp_path / "out" / f"mentions.{fmt}", fmt)["native_id"])
        for fmt in ("csv", "jsonl", "parquet")
    }
    assert ids["csv"] == ids["jsonl"] == ids["parquet"] == sorted(seeded.visible)


def test_parquet_keeps_types_lists_and_utc_times(store, seeded, tmp_path):
    export_dataset(store, tmp_path / "out", options=ExportOptions(formats=("parquet",)))
    table = pq.read_table(tmp_path / "out" / "mentions.parquet")
    assert str(table.schema.field("created_at").type) == "timestamp[us, tz=UTC]"
    assert str(table.schema.field("hashtags").type) == "list<element: string>"
    row = table.to_pylist()[0]
    assert row["hashtags"] == ["NHSCitizen"]
    assert row["links"] == ["https://www.nhscitizen.org.uk/pledge"]


def test_the_data_card_lists_files_counts_and_every_column(store, seeded, tmp_path):
    export_dataset(store, tmp_path / "out", options=ALL)
    card = json.loads((tmp_path / "out" / "datacard.json").read_text())
    names = {f["name"]: f for f in card["files"]}
    assert names["mentions.parquet"]["rows"] == 3
    assert card["counts"]["mentions"]["withheld_opt_out_counted_only"] == 2
    assert card["counts"]["mentions"]["deleted_excluded"] == 1
    assert card["groundswell_version"]
    documented = {c["name"] for c in card["data_dictionary"]["mentions"]}
    header = set(pd.read_csv(tmp_path / "out" / "mentions.csv").columns)
    assert documented == header
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "## Data dictionary" in readme and "`native_id`" in readme


def test_filters_that_match_nothing_give_an_empty_valid_dataset_with_its_card(
    store, seeded, tmp_path
):
    filters = ExportFilters(platforms=("webmention",))
    export_dataset(store, tmp_path / "out", filters, ALL)
    out = tmp_path / "out"
    assert len(pd.read_csv(out / "mentions.csv")) == 0
    assert "mention_id" in pd.read_csv(out / "mentions.csv").columns
    assert pq.read_table(out / "mentions.parquet").num_rows == 0
    assert (out / "mentions.jsonl").read_text() == ""
    card = json.loads((out / "datacard.json").read_text())
    assert card["counts"]["mentions"]["exported"] == 0
    assert card["query"]["filters"]["platforms"] == ["webmention"]


def test_filters_narrow_by_platform_time_and_event(store, seeded, tmp_path):
    from tests.factories import T0

    only_bsky = export_dataset(
        store, tmp_path / "a", ExportFilters(platforms=("bluesky",)), ALL
    ).counts
    assert only_bsky["mentions"]["exported"] == 1
    first_day = export_dataset(
        store, tmp_path / "b", ExportFilters(movement="nhscitizen", event="assembly"), ALL
    ).counts
    assert first_day["mentions"]["exported"] == 2
    late = export_dataset(
        store,
        tmp_path / "c",
        ExportFilters(since=T0.replace(hour=10)),
        ALL,
    ).counts
    assert late["mentions"]["exported"] == 2


def test_a_zip_destination_holds_the_same_files_and_card(store, seeded, tmp_path):
    export_dataset(store, tmp_path / "export.zip", options=ALL)
    with zipfile.ZipFile(tmp_path / "export.zip") as zf:
        names = set(zf.namelist())
        assert "export/datacard.json" in names and "export/README.md" in names
        assert "export/mentions.parquet" in names
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_chunking_does_not_change_the_result(store, seeded, tmp_path):
    export_dataset(store, tmp_path / "a", options=ExportOptions(formats=("jsonl",), chunk_size=1))
    export_dataset(store, tmp_path / "b", options=ExportOptions(formats=("jsonl",)))
    for dataset in ("mentions", "accounts", "edges"):
        assert (tmp_path / "a" / f"{dataset}.jsonl").read_text() == (
            tmp_path / "b" / f"{dataset}.jsonl"
        ).read_text()


def test_the_data_card_reports_per_source_completeness(store, seeded, tmp_path):
    """Gaps between successful polls, rate-limit waits, result-cap problems, unreachable
    instances and errors, from collector_run and source. These runs carry no signals (recorded
    before migration 0016), so the counts come from the error wording (the fallback);
    tests/test_completeness_signals.py covers runs with signals."""
    from datetime import timedelta

    from storage.engine import write_tx
    from storage.models import CollectorRun, Source
    from tests.factories import T0

    with write_tx(store) as conn:
        sid = conn.execute(
            Source.__table__.insert().values(
                key="bluesky:tag:NHSCitizen",
                platform="bluesky",
                kind="search",
                target={"tag": "NHSCitizen"},
                enabled=True,
                interval_s=60,
                status="ok",
                problems=[
                    "bluesky:tag:NHSCitizen: over 10000 posts at 2026-11-02T10:00:00Z; "
                    "some were not reachable through search"
                ],
                consecutive_failures=0,
            )
        ).inserted_primary_key[0]
        runs = [
            (0, "ok", None),
            (1, "ok", None),
            (2, "transient", "searchPosts: rate limited by Bluesky (429); retrying after 10:05"),
            (3, "transient", "bsky.social: ConnectError: connection refused"),
            (90, "ok", None),  # a 89-minute gap since the last success
        ]
        for minute, outcome, error in runs:
            conn.execute(
                CollectorRun.__table__.insert().values(
                    source_id=sid,
                    started_at=T0 + timedelta(minutes=minute),
                    outcome=outcome,
                    error=error,
                    skip_reasons={"bad_record": 1} if minute == 0 else {},
                    batches=1,
                    fetched=10,
                    new=5,
                    updated=0,
                    skipped=0,
                    errors=0 if outcome == "ok" else 1,
                )
            )
    summary = export_dataset(store, tmp_path / "out", options=ExportOptions())
    (source,) = summary.card["sources"]
    c = source["completeness"]
    assert c["runs"] == 5 and c["outcomes"] == {"ok": 3, "transient": 2}
    assert c["gaps"] == 1 and c["gaps_listed"][0]["seconds"] == 89 * 60
    assert c["rate_limit_waits"] == 1
    assert c["unreachable_runs"] == 1
    assert c["result_cap_splits"] == 1
    assert c["skip_reasons"] == {"bad_record": 1}
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "bluesky:tag:NHSCitizen" in readme


def test_times_are_spelled_the_same_in_every_format(store, seeded, tmp_path):
    export_dataset(store, tmp_path / "csv", options=ExportOptions(formats=("csv",)))
    export_dataset(store, tmp_path / "all", options=ALL)
    only_csv = pd.read_csv(tmp_path / "csv" / "mentions.csv", dtype=str)["created_at"].tolist()
    mixed = pd.read_csv(tmp_path / "all" / "mentions.csv", dtype=str)["created_at"].tolist()
    lines = (tmp_path / "all" / "mentions.jsonl").read_text().splitlines()
    jsonl = [json.loads(x)["created_at"] for x in lines]
    assert only_csv == mixed == jsonl
    assert only_csv[0] == "2026-11-02T09:00:00Z"


def test_parquet_lists_read_back_as_the_jsonl_export_writes_them(store, seeded, tmp_path):
    """Parquet takes list columns as the stored JSON text and parses each chunk's column in one
    call (docs/benchmarks/export.md); what it writes is what JSON Lines writes."""
    for fmt in ("parquet", "jsonl"):
        export_dataset(store, tmp_path / fmt, options=ExportOptions(formats=(fmt,)))
    lists = ("hashtags", "links")
    parquet = {
        r["native_id"]: [r[c] for c in lists]
        for r in pq.read_table(tmp_path / "parquet" / "mentions.parquet").to_pylist()
    }
    with (tmp_path / "jsonl" / "mentions.jsonl").open(encoding="utf-8") as fh:
        jsonl = {r["native_id"]: [r[c] for c in lists] for r in map(json.loads, fh)}
    assert parquet == jsonl and len(parquet) == 3


def test_a_chunks_list_cells_parse_in_one_go_whatever_they_hold():
    from groundswell.export.writers import json_lists

    cells = ['["a","b"]', None, "[]", '["Ünïcode #tag"]', ["already", "a list"]]
    assert json_lists(cells) == [["a", "b"], None, [], ["Ünïcode #tag"], ["already", "a list"]]
    assert json_lists([None, ["x"]]) == [None, ["x"]]
