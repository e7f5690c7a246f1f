"""`[mastodon]` settings: which instances and hashtags to follow, and how politely.

Tokens never live here: `token_env` names the environment variable that holds one
(`docs/mastodon.md` explains how to create a read-only token).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class MastodonInstance(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    base_url: str = Field(description="e.g. https://mastodon.social (tests: http://127.0.0.1:PORT)")
    hashtags: list[str] = Field(
        default_factory=list, description="default: the hashtags of every movement"
    )
    timelines: list[Literal["local", "public"]] = Field(
        default_factory=list,
        description='also read the instance\'s "local" timeline (its own users) and/or the '
        'federated "public" one; statuses are kept when they match a movement',
    )
    token_env: str | None = Field(
        default=None, description="name of the environment variable holding an access token"
    )
    interval_s: int | None = Field(default=None, ge=3, le=86_400)
    stream: bool = False
    backfill_days: float | None = Field(
        default=None, ge=0, description="first-run horizon; default [collect].backfill_days"
    )
    timeout_s: float = Field(default=30.0, gt=0, le=300, description="per HTTP request")
    paging_budget: int = Field(
        default=300,
        ge=1,
        description="requests carrying min_id/max_id/since_id allowed per paging_window_s "
        "(Mastodon's own limit is 300 per 15 minutes per IP or user)",
    )
    paging_window_s: float = Field(default=900.0, gt=0)
    max_wait_s: float = Field(
        default=20.0,
        ge=0,
        description="longest in-poll sleep for a rate limit; longer waits end the poll with "
        "a retry at the reset time",
    )

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"{v!r} must start with https:// (or http:// for a local test server)")
        return v.rstrip("/")

    @field_validator("hashtags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        out = []
        for tag in v:
            t = tag.strip().lstrip("#")
            if not t or any(ch.isspace() or ch in "/?#&" for ch in t):
                raise ValueError(f"hashtag {tag!r} is not one word; write it like 'NHSCitizen'")
            out.append(t)
        return out


class MastodonSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instances: list[MastodonInstance] = Field(default_factory=list)
    fetch_boosts: bool = True
    refresh_latest: bool = Field(
        default=True,
        description="re-read the newest page each poll (no paging ids, outside the paging "
        "budget): fresh counters, boosts, and statuses that federated in late",
    )
    page_limit: int = Field(default=40, ge=1, le=40)
    resolve_parents: bool = Field(
        default=True,
        description="fetch the parent of a reply (and a shallow quote) once to learn its uri, "
        "so reply/quote edges point at the right mention",
    )
    boost_window_days: float = Field(
        default=7.0, ge=0, description="how long a status's boost count is watched for growth"
    )
    stream_reconnect_max_s: float = Field(default=60.0, gt=0, le=3600)
    fetch_replies: bool = Field(
        default=True,
        description="read the thread (status context) of statuses whose reply count grew, "
        'so replies without the hashtag are stored, matched "thread"',
    )
    reply_window_days: float = Field(
        default=7.0, ge=0, description="how long a status's reply count is watched for growth"
    )
    threads_per_page: int = Field(
        default=10,
        ge=0,
        le=40,
        description="most threads read per timeline page; the rest wait for the next page or "
        "poll (each read costs one request of the instance's rate limit)",
    )
