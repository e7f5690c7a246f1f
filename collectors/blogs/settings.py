"""`[blogs]` settings: feeds to poll and posts whose pingbacks to watch."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class BlogFeed(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str
    name: str | None = None
    interval_s: int | None = Field(default=None, ge=30, le=86_400)


class TrackedPost(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str = Field(description="a blog post whose pingbacks to collect")
    movement: str | None = None
    interval_s: int | None = Field(default=None, ge=60, le=86_400)


class BlogsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    feeds: list[BlogFeed] = Field(default_factory=list)
    tracked_posts: list[TrackedPost] = Field(default_factory=list)
    user_agent: str = "Groundswell/0.1 (+https://github.com/groundswell; feed and pingback reader)"
    timeout_s: float = Field(default=15.0, gt=0, le=120)
    max_bytes: int = Field(default=5_000_000, ge=10_000)
    allow_private_addresses: bool = False
