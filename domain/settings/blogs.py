"""`[blogs]` settings: feeds to poll and posts whose pingbacks to watch."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class BlogFeed(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str
    name: str | None = None
    interval_s: int | None = Field(default=None, ge=30, le=86_400)
    movement: str | None = Field(
        default=None, description="every entry of this feed belongs to this movement"
    )
    pingbacks: bool | None = Field(
        default=None,
        description="read the blog's site-wide comments feed (WordPress: /comments/feed/, found "
        "from the home page's alternate link) for pingbacks and trackbacks to any of "
        "its posts, one conditional request a poll; default: on for blogs you follow, off for "
        "blogs on your [receiver] owned_sites (their pings are received); false opts out",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"{v!r} must be an absolute http(s) URL of the feed")
        return v


class TrackedPost(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str = Field(description="a blog post whose pingbacks to collect")
    movement: str | None = None
    interval_s: int | None = Field(default=None, ge=60, le=86_400)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"{v!r} must be an absolute http(s) URL of the post")
        return v


class BlogsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    feeds: list[BlogFeed] = Field(default_factory=list)
    tracked_posts: list[TrackedPost] = Field(default_factory=list)
    user_agent: str = "Groundswell/0.1 (+https://github.com/groundswell; feed and pingback reader)"
    timeout_s: float = Field(default=15.0, gt=0, le=120)
    max_bytes: int = Field(default=5_000_000, ge=10_000)
    allow_private_addresses: bool = Field(
        default=False,
        description="fetch private/loopback/link-local addresses too (never on a public server)",
    )
    allow_loopback: bool = Field(
        default=False, description="fetch 127.0.0.1/::1 (local test servers); private stays refused"
    )
    feed_interval_s: int = Field(default=900, ge=30, le=86_400)
    pingback_interval_s: int = Field(default=3600, ge=60, le=86_400)
    max_enrich_per_poll: int = Field(
        default=20, ge=0, le=500, description="source pages fetched per tracked-post poll"
    )
    enrich_delay_s: float = Field(
        default=0.5, ge=0, le=60, description="pause between two source-page fetches"
    )
    full_check_every_s: int = Field(
        default=86_400,
        ge=300,
        description="re-ask getPingbacks at least this often even if the comment feed is 304",
    )


def refusal_hint(exc: Exception, section: str) -> str:
    """The one setting that would let an SSRF-refused fetch through, named exactly, for the
    operator (never for a sender): `[<section>].allow_loopback` when the address was loopback
    (local test servers), else `[<section>].allow_private_addresses` with its warning.
    `section` is "blogs" or "receiver"."""
    if "loopback" in str(exc):
        return f"set [{section}].allow_loopback = true only to fetch from this machine (tests)"
    return (
        f"set [{section}].allow_private_addresses = true only for a trusted site on your own "
        "network, never on a server reachable from the internet"
    )
