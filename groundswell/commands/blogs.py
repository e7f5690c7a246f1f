"""Blog commands: `groundswell serve-receiver` and `groundswell sources add-blog URL`."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from domain.settings.config import DEFAULT_CONFIG_PATHS, ENV_CONFIG, ConfigError, load_settings
from groundswell.app import (
    ConfigOpt,
    DbOpt,
    _setup_logging,
    app,
    console,
    fail,
    load_config,
    open_store,
    out,
    sync_config,
)

sources_app = typer.Typer(help="Add sources to the configuration.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")

_FEED_TYPES = ("rss", "atom", "rdf", "xml", "feed")


@app.command("serve-receiver")
def serve_receiver(
    config: ConfigOpt = None,
    db: DbOpt = None,
    host: Annotated[str | None, typer.Option(help="bind address (default [receiver].host)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default [receiver].port)")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the pingback (XML-RPC) and Webmention receiver for the sites in [receiver]."""
    import uvicorn

    from collectors.blogs.receiver import create_app, discovery

    _setup_logging(verbose)
    settings = load_config(config)
    rs = settings.receiver
    if not rs.owned_sites:
        fail(
            "[receiver].owned_sites is empty: list the sites whose pingbacks and webmentions "
            'to accept, e.g. owned_sites = ["https://www.example.org"]',
            2,
        )
    engine = open_store(db, settings)
    sync_config(engine, settings)
    bind_host, bind_port = host or rs.host, port or rs.port
    public = rs.public_url or f"http://{bind_host}:{bind_port}"
    disc = discovery(public)
    console.print(
        f"receiving for {', '.join(rs.owned_sites)} on http://{bind_host}:{bind_port}\n"
        f"put on your site:  Link: {disc['link_header']}\n"
        f"                   X-Pingback: {disc['x_pingback']}",
        highlight=False,
    )
    uvicorn.run(
        create_app(engine, settings),
        host=bind_host,
        port=bind_port,
        log_level="debug" if verbose else "info",
        access_log=verbose,
        proxy_headers=True,
    )


def _config_path(config: Path | None) -> Path | None:
    import os

    if config is not None:
        return config
    if os.environ.get(ENV_CONFIG):
        return Path(os.environ[ENV_CONFIG])
    return next((Path(p) for p in DEFAULT_CONFIG_PATHS if Path(p).is_file()), None)


def _toml_string(value: str) -> str:
    """`value` as a TOML basic string (JSON's escaping is a subset TOML reads the same)."""
    return json.dumps(value, ensure_ascii=False)


def _latest_posts(fetcher: Any, feed_url: str) -> list[str]:
    """The post URLs a feed lists, newest first (one fetch; nothing parsed is stored)."""
    from collectors.blogs.collector import FEED_ACCEPT
    from collectors.blogs.feeds import parse_feed

    res = fetcher.get(feed_url, accept=FEED_ACCEPT)
    parsed = parse_feed(
        res.content, dict(res.headers), feed_url=res.url, fetched_at=datetime.now(UTC)
    )
    entries = sorted(parsed.entries, key=lambda e: e.created_at, reverse=True)
    return list(dict.fromkeys(e.url for e in entries if e.url))


WORDPRESS_HINT = (
    "not advertised on this page. WordPress advertises its pingback endpoint on single posts, "
    "not on the home page"
)


@sources_app.command("add-blog")
def add_blog(
    url: Annotated[str, typer.Argument(help="a blog's home page, a post, or its feed")],
    config: ConfigOpt = None,
    db: DbOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="only report what was found; change nothing")
    ] = False,
    track_posts: Annotated[
        int,
        typer.Option(
            "--track-posts",
            min=0,
            max=100,
            help="also add the N latest posts of the feed as [[blogs.tracked_posts]], to "
            "collect their pingbacks (WordPress advertises pingback on single posts only)",
        ),
    ] = 0,
) -> None:
    """Find a blog's feed (<link rel="alternate">), add it to the config, and report the blog's
    pingback and webmention endpoints; with --track-posts N, track its N latest posts too."""
    from collectors.blogs.collector import FEED_ACCEPT
    from collectors.blogs.html_links import link_header, read_page
    from collectors.blogs.pingbacks import fetch_page
    from collectors.blogs.reading import blog_fetch_policy
    from domain.settings.blogs import refusal_hint
    from net.fetcher import BlockedAddressError, Fetcher, FetchError

    settings = load_config(config)
    if not url.startswith(("http://", "https://")):
        fail(f"{url!r} is not a web address; give the blog's URL starting with https://", 2)
    with Fetcher(blog_fetch_policy(settings.blogs)) as fetcher:
        try:
            res = fetcher.get(url, accept="text/html, " + FEED_ACCEPT)
        except BlockedAddressError as exc:
            fail(f"cannot fetch {url}: {exc}; {refusal_hint(exc, 'blogs')}", 2)
        except FetchError as exc:
            fail(f"cannot fetch {url}: {exc}")
        headers = {k.lower(): v for k, v in res.headers.items()}
        feed_url: str | None = None
        pingback = headers.get("x-pingback")
        webmention = link_header(headers.get("link"), "webmention", res.url)
        if any(t in res.content_type for t in _FEED_TYPES):
            feed_url = res.url
        else:
            info = read_page(res.text(), res.url)
            feeds = [f for f in info.feeds if "comment" not in (f[2] or "").lower()] or info.feeds
            feed_url = feeds[0][0] if feeds else None
            pingback = pingback or info.pingback_endpoint
            webmention = webmention or info.webmention_endpoint
        posts: list[str] = []
        post_pingback: str | None = None
        if feed_url and (pingback is None or track_posts):
            try:
                posts = _latest_posts(fetcher, feed_url)
                if pingback is None and posts:
                    post_pingback = fetch_page(fetcher, posts[0])[0].pingback_endpoint
            except FetchError as exc:
                out.print(f"(could not read the feed's posts: {exc})", markup=False)
    out.print(f"blog:       {res.url}", markup=False)
    out.print(f"feed:       {feed_url or 'none found'}", markup=False)
    if pingback:
        out.print(f"pingback:   {pingback}", markup=False)
    elif post_pingback:
        out.print(
            f"pingback:   {WORDPRESS_HINT}; the latest post ({posts[0]}) advertises "
            f"{post_pingback}. Add --track-posts N to collect the pingbacks of the N latest "
            "posts, or list posts under [[blogs.tracked_posts]].",
            markup=False,
            soft_wrap=True,
        )
    else:
        out.print("pingback:   not advertised", markup=False)
    out.print(f"webmention: {webmention or 'not advertised'}", markup=False)
    if feed_url is None:
        fail(f'{url} advertises no feed (<link rel="alternate">); pass the feed URL itself', 1)
    tracked = {p.url for p in settings.blogs.tracked_posts}
    new_posts = [p for p in posts[:track_posts] if p not in tracked]
    for post in new_posts:
        out.print(f"track:      {post}", markup=False)
    if dry_run:
        return
    snippet = ""
    if not any(f.url == feed_url for f in settings.blogs.feeds):
        snippet += f"\n[[blogs.feeds]]\nurl = {_toml_string(feed_url)}\n"
    for post in new_posts:
        snippet += f"\n[[blogs.tracked_posts]]\nurl = {_toml_string(post)}\n"
    if not snippet:
        out.print("already configured")
        return
    path = _config_path(config)
    if path is None:
        fail(f"no config file to add the feed to; create groundswell.toml with:{snippet}", 2)
    before = path.read_text(encoding="utf-8")
    path.write_text(before.rstrip("\n") + "\n" + snippet, encoding="utf-8")
    try:
        settings, _ = load_settings(path)
    except (ConfigError, tomllib.TOMLDecodeError) as exc:
        path.write_text(before, encoding="utf-8")
        fail(f"{path}: could not add the feed ({exc}); add it by hand:{snippet}", 2)
    engine = open_store(db, settings)
    sync_config(engine, settings)
    out.print(f"added to {path}; `groundswell collect --once` fetches it", markup=False)
