"""`[mastodon]` settings: which instances and hashtags to follow."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class MastodonInstance(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    base_url: str = Field(description="e.g. https://mastodon.social (tests: http://127.0.0.1:PORT)")
    hashtags: list[str] = Field(
        default_factory=list, description="default: the hashtags of every movement"
    )
    token_env: str | None = Field(
        default=None, description="name of the environment variable holding an access token"
    )
    interval_s: int | None = Field(default=None, ge=3, le=86_400)
    stream: bool = False

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"{v!r} must start with https:// (or http:// for a local test server)")
        return v.rstrip("/")


class MastodonSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instances: list[MastodonInstance] = Field(default_factory=list)
    fetch_boosts: bool = True
    page_limit: int = Field(default=40, ge=1, le=40)
