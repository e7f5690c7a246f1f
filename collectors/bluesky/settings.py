"""`[bluesky]` settings: searches to run and where the credentials live."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


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
        return self


class BlueskySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    base_url: str = "https://bsky.social"
    handle_env: str = "GROUNDSWELL_BSKY_HANDLE"
    app_password_env: str = "GROUNDSWELL_BSKY_APP_PASSWORD"
    session_file: str = ".groundswell/bluesky-session.txt"
    queries: list[BlueskyQuery] = Field(default_factory=list)
    jetstream_url: str | None = None
    fetch_reposts: bool = True
