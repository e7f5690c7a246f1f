"""Turn query rows into export rows under the options: pseudonyms, dropped or masked text,
URLs removed, times generalised. The queries already left out everything the ethics rules
withhold.

Rows are tuples in data-dictionary order. Mentions and edges (the big tables) are shaped by
picking the needed query columns with one `operator.itemgetter` call and fixing only the
columns the options change: measured (bench/export.py), building a dict per row cost more
than the SQL itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from domain.pii import mask_personal_data
from groundswell.export.columns import Col, columns_for
from groundswell.export.links import URL_RE, LinkPolicy
from groundswell.export.options import ExportOptions
from groundswell.export.pseudonym import Pseudonymiser

Fix = Callable[[Any], Any]

# export column -> query column, where the names differ
MENTION_SOURCE = {
    "mention_id": "id",
    "account": "account_native_id",
    "handle": "account_handle",
    "person_id": "account_person_id",
    "reply_to_withheld": "reply_to_id_withheld",
    "quote_of_withheld": "quote_of_id_withheld",
    "links_withheld": "links",  # placeholder: set from the links by LinkPolicy
}
EDGE_SOURCE = {"edge_id": "id", "via_withheld": "via_mention_id_withheld"}
KEY_KINDS = {
    "mention_id": "mention",
    "reply_to_id": "mention",
    "quote_of_id": "mention",
    "target_mention_id": "mention",
    "via_mention_id": "mention",
    "account_id": "account",
    "source_account_id": "account",
    "target_account_id": "account",
    "edge_id": "edge",
    # A person's id is an account id (its smallest), keyed in its own namespace so that a
    # pseudonymised person id cannot be matched with an account's pseudonym.
    "person_id": "person",
    "source_person_id": "person",
    "target_person_id": "person",
}


def generalise(when: datetime | None, grain: str | None) -> datetime | None:
    """Truncate a time to the hour or day (UTC): fewer re-identifying details."""
    if when is None or grain is None:
        return when
    when = when.astimezone(UTC)
    if grain == "hour":
        return when.replace(minute=0, second=0, microsecond=0)
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


def as_utc(value: Any) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite hands back text when asked to)."""
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def iso_text(value: Any) -> str | None:
    """A stored time as ISO 8601 UTC text, without a datetime round trip for SQLite's text
    ('YYYY-MM-DD HH:MM:SS.ffffff'); the same spelling as `datetime.isoformat()` gives."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.replace(" ", "T", 1)
        if text.endswith(".000000"):
            text = text[:-7]
        return text + "Z"
    when = as_utc(value)
    assert when is not None
    return when.isoformat().replace("+00:00", "Z")


def from_ts(ts: int | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


class RowShaper:
    """Builds each dataset's export rows (tuples in data-dictionary order)."""

    def __init__(self, options: ExportOptions) -> None:
        self.options = options
        self.pseudo = Pseudonymiser(options.pseudonym_key) if options.pseudonym_key else None
        self.columns: dict[str, list[Col]] = {}
        # CSV takes list columns as the JSON text SQLite stores, and Parquet parses a whole
        # chunk's column in one call (`writers.ParquetWriter`): a `json.loads` per cell was
        # most of what made Parquet exports slower than CSV (docs/benchmarks/export.md).
        # JSON Lines needs real lists.
        self.lists_as_json = "jsonl" not in options.formats

    def cols(self, dataset: str) -> list[Col]:
        if dataset not in self.columns:
            self.columns[dataset] = columns_for(dataset, self.options)
        return self.columns[dataset]

    # -- single values (also used by the network builder) ---------------------------------

    def key(self, kind: str, value: int | None) -> int | str | None:
        if value is None:
            return None
        if self.pseudo is not None:
            return self.pseudo.pseudonym(kind, value)
        return int(value)

    def text(self, value: str | None) -> str | None:
        if value is None:
            return None
        if self.options.drop_urls:
            value = URL_RE.sub("[link]", value)
        if self.options.mask_personal_data:
            value = mask_personal_data(value)
        return value

    def time(self, value: Any) -> datetime | None:
        return generalise(as_utc(value), self.options.generalise_times)

    def _list(self, value: Any) -> Any:
        if value is None:
            return None
        if self.lists_as_json:
            return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return json.loads(value) if isinstance(value, str) else list(value)

    # -- fixes per column ------------------------------------------------------------------

    def _fix_for(self, col: Col) -> Fix | None:
        if col.kind == "key" and self.pseudo is not None:
            kind = KEY_KINDS[col.name]
            pseudo = self.pseudo.pseudonym
            return lambda v: None if v is None else pseudo(kind, v)
        if col.kind == "time":
            if self.options.generalise_times:
                return self.time
            # Text formats only: straight to ISO text; Parquet needs datetimes.
            return as_utc if "parquet" in self.options.formats else iso_text
        if col.kind == "list":
            return self._list
        if (
            col.kind == "str"
            and col.text
            and (self.options.drop_urls or self.options.mask_personal_data)
        ):
            return self.text
        return None

    def tuple_shaper(
        self, dataset: str, source_columns: Sequence[str], renames: dict[str, str]
    ) -> Callable[[Sequence[Any]], Sequence[Any]]:
        """A fast row function for query rows with `source_columns`, in that order."""
        cols = self.cols(dataset)
        index = {name: i for i, name in enumerate(source_columns)}
        positions = [index[renames.get(c.name, c.name)] for c in cols]
        pick = itemgetter(*positions)
        fixes = [(i, fix) for i, c in enumerate(cols) if (fix := self._fix_for(c)) is not None]
        single = len(positions) == 1

        def shape(row: Sequence[Any]) -> Sequence[Any]:
            vals = pick(row)
            if single:
                vals = (vals,)
            if not fixes:
                return vals
            out = list(vals)
            for i, fix in fixes:
                out[i] = fix(out[i])
            return out

        return shape

    def dict_shaper(self, dataset: str, build: Callable[[Any], dict[str, Any]]) -> Callable:
        """For the small tables: build a full dict, then order and fix it like the rest."""
        cols = self.cols(dataset)
        fixes = {c.name: f for c in cols if (f := self._fix_for(c)) is not None}

        def shape(row: Any) -> Sequence[Any]:
            full = build(row)
            return [fixes[c.name](full[c.name]) if c.name in fixes else full[c.name] for c in cols]

        return shape

    # -- the datasets ----------------------------------------------------------------------

    def mention_ids(self, source_columns: Sequence[str]) -> Callable:
        return self.tuple_shaper("mention_ids", source_columns, {})

    def mentions(self, source_columns: Sequence[str], links: LinkPolicy | None = None) -> Callable:
        """Mention rows; with a link policy, person-links are keyed or withheld (see
        groundswell.export.links) and, when pseudonymised, free text and blog hosts too."""
        base = self.tuple_shaper("mentions", source_columns, MENTION_SOURCE)
        names = [c.name for c in self.cols("mentions")]
        flag = names.index("links_withheld") if "links_withheld" in names else None
        if links is None:
            if flag is None:
                return base

            def unflagged(row: Sequence[Any]) -> Sequence[Any]:
                out = list(base(row))
                out[flag] = False
                return out

            return unflagged
        src = {n: i for i, n in enumerate(source_columns)}
        s_links, s_platform = src["links"], src["platform"]
        i_links = names.index("links") if "links" in names else None
        pseudo = links.pseudonymised
        texts = [names.index(n) for n in ("title", "text", "spoiler_text") if pseudo and n in names]
        i_inst = names.index("instance") if pseudo and "instance" in names else None
        as_json = self.lists_as_json

        def shape(row: Sequence[Any]) -> Sequence[Any]:
            out = base(row)
            if type(out) is not list:  # base hands back a fresh list whenever it fixed a cell
                out = list(out)
            new, withheld = links.links(row[s_links])
            if new is not None and i_links is not None:
                out[i_links] = json.dumps(new, ensure_ascii=False) if as_json else new
            if flag is not None:
                out[flag] = withheld
            for i in texts:
                out[i] = links.text(out[i])
            if i_inst is not None:
                out[i_inst] = links.instance(row[s_platform], out[i_inst])
            return out

        return shape

    def chunk_urls(self, source_columns: Sequence[str], links: LinkPolicy) -> Callable:
        """The URLs of one chunk of mention rows that a link policy must decide: the links
        (only those that may lead to a person) and, when pseudonymised, URLs in free text."""
        src = {n: i for i, n in enumerate(source_columns)}
        s_links = src["links"]
        s_texts = [src[n] for n in ("title", "text", "spoiler_text")] if links.pseudonymised else []
        maybe = links.maybe_person

        def urls(chunk: Sequence[Sequence[Any]]) -> list[str]:
            found: list[str] = []
            for row in chunk:
                value = row[s_links]
                if value:
                    raw = value if isinstance(value, str) else " ".join(value)
                    if maybe(raw):
                        found.extend(json.loads(value) if isinstance(value, str) else value)
                for i in s_texts:
                    text = row[i]
                    if text and ("://" in text or "www." in text):
                        found.extend(m.group(0) for m in URL_RE.finditer(text))
            return found

        return urls

    def edges(self, source_columns: Sequence[str]) -> Callable:
        return self.tuple_shaper("edges", source_columns, EDGE_SOURCE)

    def accounts(self, links: LinkPolicy | None = None) -> Callable:
        mask = self.options.mask_personal_data
        keyed_instance = links.instance if links is not None else (lambda _p, v: v)

        def build(r: dict[str, Any]) -> dict[str, Any]:
            display = r.get("display_name")
            return {
                "account_id": r["id"],
                "person_id": r["person_id"],
                "platform": r["platform"],
                "account": r["native_id"],
                "handle": r["handle"],
                "display_name": mask_personal_data(display) if display and mask else display,
                "url": r["url"],
                "instance": keyed_instance(r["platform"], r["instance"]),
                "bot": r["bot"],
                "first_seen_at": from_ts(r.get("first_seen_ts")),
                "mentions": r.get("mentions", 0),
                "amplifications_given": r.get("amplifications_given", 0),
                "amplifications_received": r.get("amplifications_received", 0),
            }

        return self.dict_shaper("accounts", build)

    def events(self) -> Callable:
        def build(r: dict[str, Any]) -> dict[str, Any]:
            return {
                "event_id": r["id"],
                "slug": r["slug"],
                "name": r["name"],
                "movement": r["movement"],
                "starts_at": r["starts_at"],
                "ends_at": r["ends_at"],
                "timezone": r["timezone"],
                "hashtags": list(r["hashtags"] or []),
                "place": r["place"],
                "mentions": r["mentions"],
            }

        # Event times are public schedule facts: never generalised.
        cols = self.cols("events")
        lists = self._list

        def shape(row: Any) -> Sequence[Any]:
            full = build(row)
            return [lists(full[c.name]) if c.kind == "list" else full[c.name] for c in cols]

        return shape
