"""Blog commands: `groundswell serve-receiver` and `groundswell sources add-blog URL`."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated

import typer

from groundswell.cli import (
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
from groundswell.config import DEFAULT_CONFIG_PATHS, ENV_CONFIG, ConfigError, load_settings

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


@sources_app.command("add-blog")
def add_blog(
    url: Annotated[str, typer.Argument(help="a blog's home page, a post, or its feed")],
    config: ConfigOpt = None,
    db: DbOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="only report what was found; change nothing")
    ] = False,
) -> None:
    """Find a blog's feed (<link rel="alternate">), add it to the config, and report the blog's
    pingback and webmention endpoints."""
    from collectors.blogs.collector import FEED_ACCEPT
    from collectors.blogs.html_links import link_header, read_page
    from groundswell.net import Fetcher, FetchError

    settings = load_config(config)
    if not url.startswith(("http://", "https://")):
        fail(f"{url!r} is not a web address; give the blog's URL starting with https://", 2)
    with Fetcher(settings.blogs.fetch_policy()) as fetcher:
        try:
            res = fetcher.get(url, accept="text/html, " + FEED_ACCEPT)
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
    out.print(f"blog:       {res.url}")
    out.print(f"feed:       {feed_url or 'none found'}")
    out.print(f"pingback:   {pingback or 'not advertised'}")
    out.print(f"webmention: {webmention or 'not advertised'}")
    if feed_url is None:
        fail(f'{url} advertises no feed (<link rel="alternate">); pass the feed URL itself', 1)
    if dry_run:
        return
    if any(f.url == feed_url for f in settings.blogs.feeds):
        out.print("already configured")
        return
    path = _config_path(config)
    snippet = f'\n[[blogs.feeds]]\nurl = "{feed_url}"\n'
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
    out.print(f"added to {path}; `groundswell collect --once` fetches it")
