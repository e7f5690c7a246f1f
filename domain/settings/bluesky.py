"""`[bluesky]` settings: searches to run, where the credentials live, caps and the live stream."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# The main network's public AppView: app.bsky reads without a login.
PUBLIC_APPVIEW = "https://public.api.bsky.app"


class BlueskyQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    tag: str | None = Field(default=None, description="a hashtag, without '#'")
    q: str | None = Field(default=None, description="a free-text search query")
    interval_s: int | None = Field(default=None, ge=5, le=86_400)

    @model_validator(mode="after")
    def _one(self) -> BlueskyQuery:
        if bool(self.tag) == bool(self.q):
            raise ValueError("give exactly one of tag or q")
        if self.tag:
            self.tag = self.tag.lstrip("#")
            if not self.tag or any(ch.isspace() for ch in self.tag):
                raise ValueError(f"tag {self.tag!r} must be one word, like 'NHSCitizen'")
        return self

    @property
    def key(self) -> str:
        return f"bluesky:tag:{self.tag}" if self.tag else f"bluesky:q:{self.q}"


class BlueskySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    base_url: str = "https://bsky.social"
    appview_url: str | None = Field(
        default=None,
        description="where reads without a login go (recheck, hydrate): default base_url, or "
        "the public AppView https://public.api.bsky.app when base_url is https://bsky.social "
        "(its entryway answers app.bsky reads only when logged in)",
    )
    handle_env: str = "GROUNDSWELL_BSKY_HANDLE"
    app_password_env: str = "GROUNDSWELL_BSKY_APP_PASSWORD"
    session_file: str = Field(
        default=".groundswell/bluesky-session.json",
        description="where the login session is kept between runs (logins are rate-limited)",
    )
    queries: list[BlueskyQuery] = Field(default_factory=list)
    jetstream_url: str | None = Field(
        default=None, description="e.g. wss://jetstream2.us-east.bsky.network/subscribe"
    )
    fetch_reposts: bool = True
    result_cap: int = Field(
        default=10_000,
        ge=1,
        description="results the service returns for one query; a sweep reaching it is split "
        "into time windows",
    )
    page_limit: int = Field(default=100, ge=1, le=100)
    overlap_s: int = Field(
        default=300, ge=0, le=86_400, description="each sweep re-reads this much (indexing lag)"
    )
    timeout_s: float = Field(default=20.0, gt=0, le=300)
    max_edge_pages: int = Field(default=20, ge=1, le=1000)
    recount_hours: int = Field(
        default=48,
        ge=0,
        le=24 * 90,
        description="refresh repost/quote counts of mentions this recent (0: never), so later "
        "reposts and quotes become edges",
    )
    fetch_replies: bool = Field(
        default=True,
        description="read the thread (getPostThread) of matched posts whose reply count grew, "
        'so replies without the hashtag are stored, matched "thread"',
    )
    thread_depth: int = Field(
        default=6,
        ge=1,
        le=1000,
        description="reply levels per getPostThread request; deeper branches are asked for "
        "in turn, at most max_edge_pages requests per thread",
    )
    recount_max: int = Field(default=200, ge=1, le=10_000)
    recount_interval_s: int = Field(default=600, ge=0, le=86_400)
    jetstream_batch: int = Field(default=200, ge=1, le=10_000)
    jetstream_flush_s: float = Field(default=2.0, gt=0, le=60)
    jetstream_rewind_s: float = Field(
        default=3.0, ge=0, le=600, description="replay this much before the saved cursor"
    )
    jetstream_catchup_s: float = Field(
        default=20.0, gt=0, le=3600, description="`collect` reads the stream this long per poll"
    )

    @field_validator("base_url", "appview_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return None
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"{v!r} must start with https:// (or http:// for a local test server)")
        return v.rstrip("/")

    @property
    def read_url(self) -> str:
        """The service anonymous reads go to: `appview_url`, else the configured `base_url`
        (a self-hosted or test network answers its own reads), except for the main network's
        entryway, whose anonymous reads are the public AppView's."""
        if self.appview_url:
            return self.appview_url
        if self.base_url == "https://bsky.social":
            return PUBLIC_APPVIEW
        return self.base_url

    @field_validator("jetstream_url")
    @classmethod
    def _ws(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("ws://", "wss://")):
            raise ValueError(f"{v!r} must start with wss:// (or ws:// for a local test server)")
        return v
