"""Turn query rows into export rows under the options: pseudonyms, dropped or masked text,
URLs removed, times generalised. Pure functions; the queries already left out everything the
ethics rules withhold."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from groundswell.export.columns import Col, columns_for
from groundswell.export.options import ExportOptions
from groundswell.export.pseudonym import Pseudonymiser
from groundswell.pii import mask_personal_data

URL_RE = re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)

Row = dict[str, Any]


def generalise(when: datetime | None, grain: str | None) -> datetime | None:
    """Truncate a time to the hour or day (UTC): fewer re-identifying details."""
    if when is None or grain is None:
        return when
    when = when.astimezone(UTC)
    if grain == "hour":
        return when.replace(minute=0, second=0, microsecond=0)
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


def from_ts(ts: int | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


class RowShaper:
    """Builds the export row of each dataset from a query row."""

    def __init__(self, options: ExportOptions) -> None:
        self.options = options
        self.pseudo = Pseudonymiser(options.pseudonym_key) if options.pseudonym_key else None
        self.columns: dict[str, list[Col]] = {}

    def cols(self, dataset: str) -> list[Col]:
        if dataset not in self.columns:
            self.columns[dataset] = columns_for(dataset, self.options)
        return self.columns[dataset]

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

    def time(self, value: datetime | None) -> datetime | None:
        return generalise(value, self.options.generalise_times)

    def _project(self, dataset: str, full: Row) -> Row:
        return {c.name: full.get(c.name) for c in self.cols(dataset)}

    def mention(self, r: Any) -> Row:
        full = {
            "mention_id": self.key("mention", r.id),
            "platform": r.platform,
            "native_id": r.native_id,
            "url": r.url,
            "account_id": self.key("account", r.account_id),
            "account": r.account_native_id,
            "handle": r.account_handle,
            "created_at": self.time(r.created_at),
            "title": self.text(r.title),
            "text": self.text(r.text),
            "lang": r.lang,
            "instance": r.instance,
            "reply_to_id": self.key("mention", r.reply_to_id),
            "quote_of_id": self.key("mention", r.quote_of_id),
            "like_count": r.like_count,
            "repost_count": r.repost_count,
            "reply_count": r.reply_count,
            "quote_count": r.quote_count,
            "sensitive": bool(r.sensitive),
            "spoiler_text": self.text(r.spoiler_text),
            "links": list(r.links) if r.links else [],
            "hashtags": list(r.hashtags) if r.hashtags else [],
            "edited_at": self.time(r.edited_at),
        }
        return self._project("mentions", full)

    def mention_id_only(self, r: Any) -> Row:
        return {"platform": r.platform, "native_id": r.native_id}

    def account(self, r: Row) -> Row:
        display = r.get("display_name")
        if display and self.options.mask_personal_data:
            display = mask_personal_data(display)
        full = {
            "account_id": self.key("account", r["id"]),
            "platform": r["platform"],
            "account": r["native_id"],
            "handle": r["handle"],
            "display_name": display,
            "url": r["url"],
            "instance": r["instance"],
            "bot": r["bot"],
            "first_seen_at": self.time(from_ts(r.get("first_seen_ts"))),
            "mentions": r.get("mentions", 0),
            "amplifications_given": r.get("amplifications_given", 0),
            "amplifications_received": r.get("amplifications_received", 0),
        }
        return self._project("accounts", full)

    def edge(self, r: Any) -> Row:
        full = {
            "edge_id": self.key("edge", r.id),
            "kind": r.kind,
            "platform": r.platform,
            "source_account_id": self.key("account", r.source_account_id),
            "target_mention_id": self.key("mention", r.target_mention_id),
            "target_account_id": self.key("account", r.target_account_id),
            "via_mention_id": self.key("mention", r.via_mention_id),
            "created_at": self.time(r.created_at),
        }
        return self._project("edges", full)

    def event(self, r: Row) -> Row:
        full = {
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
        return self._project("events", full)

    def shaper(self, dataset: str) -> Callable[[Any], Row]:
        return {
            "mentions": self.mention,
            "mention_ids": self.mention_id_only,
            "accounts": self.account,
            "edges": self.edge,
            "events": self.event,
        }[dataset]
