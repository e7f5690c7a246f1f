"""A local WordPress-like blog on 127.0.0.1 speaking the real wire formats.

What a WordPress 6.x site serves, written from WordPress's feed templates (`feed-rss2.php`,
`feed-atom.php`, `feed-rdf.php`, `feed-rss.php`, `feed-rss2-comments.php`), its XML-RPC server
(`pingback.extensions.getPingbacks` in `class-wp-xmlrpc-server.php`) and its comment walker
(`li.pingback` / `li.trackback` markup):

    /                         home page: <link rel="alternate"> to the feeds, <link rel="pingback">
    /feed/ /feed/atom/ /feed/rdf/ /feed/rss/   RSS 2.0, Atom 1.0, RSS 1.0 (RDF), RSS 0.92
    /comments/feed/           the site's comment feed (pingbacks included, with no source link)
    /YYYY/MM/slug/            a post page: X-Pingback header, pingbacks as li.pingback comments
    /YYYY/MM/slug/feed/       the post's comment feed
    /xmlrpc.php               XML-RPC (pingback.extensions.getPingbacks), or off (403)

Feeds carry ETag and Last-Modified and answer 304 to a matching conditional GET, like
WordPress does. Misbehaviour on demand: /bozo/feed/ (malformed, entries still parse), /huge
(a body over any sane cap), /slow (drips bytes), /error (500), /gone (410), /redirect-private
and /redirect-metadata (302 to 10.0.0.1 and 169.254.169.254), /redirect-loop.

Everything requested is logged (`requests`), and the bytes of every body sent are counted
(`body_bytes`), so tests can prove that a 304 sent no body.
"""

from __future__ import annotations

import hashlib
import html
import threading
import time
import xmlrpc.client
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@dataclass
class Ping:
    """A pingback or trackback comment on a post (WordPress `comment_type`)."""

    source: str
    title: str
    kind: str = "pingback"
    date: datetime = T0 + timedelta(hours=5)
    excerpt: str | None = None  # the comment text WordPress quoted (default: "[…] title […]")


@dataclass
class Post:
    slug: str
    title: str
    content: str  # HTML
    published: datetime = T0
    tags: list[str] = field(default_factory=list)
    post_id: int = 0
    pings: list[Ping] = field(default_factory=list)
    comments: list[tuple[str, str]] = field(default_factory=list)  # (author, text)

    @property
    def path(self) -> str:
        return f"/{self.published:%Y/%m}/{self.slug}/"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


class BlogServer:
    """One blog at http://127.0.0.1:<port>. Start with `with BlogServer(...) as blog:`."""

    def __init__(self, name: str = "Healthcare Radicals", *, tagline: str = "Notes") -> None:
        self.name = name
        self.tagline = tagline
        self.posts: list[Post] = []
        self.xmlrpc = "on"  # on | off (403, like "Disable XML-RPC" plugins) | missing (404)
        self.advertise_pingback = True
        # WordPress (rel_pingback(), and the X-Pingback header) advertises its endpoint only on
        # single posts with pings open, never on the home page: set False to behave so.
        self.pingback_on_home = True
        self.webmention_endpoint: str | None = None
        self.link_target: str | None = None  # /mentions/<n>/ pages link here (receiver tests)
        self.pages: dict[str, tuple[int, dict[str, str], bytes]] = {}  # extra routes
        # where the site-wide comments feed is served and advertised (None: no such feed)
        self.comments_path: str | None = "/comments/feed/"
        self.requests: list[Request] = []
        self.body_bytes = 0
        self.slow_delay_s = 0.3
        self.huge_bytes = 8_000_000
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._url = ""
        self.tls: Any = None  # an ssl.SSLContext set before start(): serve HTTPS

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> BlogServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        server = self

        class Handler(_Handler):
            blog = server

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # bursts of connections must not be refused

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        if self.tls is not None:
            self._httpd.socket = self.tls.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        scheme = "https" if self.tls is not None else "http"
        self._url = f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self) -> str:
        return self._url

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")

    # -- content ------------------------------------------------------------------------------

    def add_post(self, slug: str, title: str, content: str, **kw: Any) -> Post:
        post = Post(slug=slug, title=title, content=content, **kw)
        post.post_id = post.post_id or 100 + len(self.posts)
        self.posts.append(post)
        return post

    def post_url(self, post: Post) -> str:
        return self.url + post.path

    def hits(self, path: str, method: str | None = None) -> int:
        return sum(
            1
            for r in self.requests
            if r.path.split("?")[0] == path and (method is None or r.method == method)
        )

    def last_modified(self) -> datetime:
        dates = [p.published for p in self.posts] + [
            ping.date for p in self.posts for ping in p.pings
        ]
        return max(dates, default=T0)

    # -- feeds (the shapes of WordPress's templates) -----------------------------------------

    def _posts_newest_first(self) -> list[Post]:
        return sorted(self.posts, key=lambda p: p.published, reverse=True)

    def rss2(self) -> str:
        items = []
        for p in self._posts_newest_first():
            link = self.post_url(p)
            cats = "".join(f"\n\t\t<category><![CDATA[{t}]]></category>" for t in p.tags)
            items.append(
                f"""
	<item>
		<title>{html.escape(p.title, quote=False)}</title>
		<link>{link}</link>
		<comments>{link}#comments</comments>
		<dc:creator><![CDATA[Ruth]]></dc:creator>
		<pubDate>{format_datetime(p.published, usegmt=False)}</pubDate>{cats}
		<guid isPermaLink="false">{self.url}/?p={p.post_id}</guid>
		<description><![CDATA[{_excerpt(p.content)} [&#8230;]]]></description>
		<content:encoded><![CDATA[{p.content}]]></content:encoded>
		<wfw:commentRss>{link}feed/</wfw:commentRss>
		<slash:comments>{len(p.pings) + len(p.comments)}</slash:comments>
	</item>"""
            )
        return f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"
	xmlns:content="http://purl.org/rss/1.0/modules/content/"
	xmlns:wfw="http://wellformedweb.org/CommentAPI/"
	xmlns:dc="http://purl.org/dc/elements/1.1/"
	xmlns:atom="http://www.w3.org/2005/Atom"
	xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"
	xmlns:slash="http://purl.org/rss/1.0/modules/slash/"
	>

<channel>
	<title>{html.escape(self.name)}</title>
	<atom:link href="{self.url}/feed/" rel="self" type="application/rss+xml" />
	<link>{self.url}</link>
	<description>{html.escape(self.tagline)}</description>
	<lastBuildDate>{format_datetime(self.last_modified())}</lastBuildDate>
	<language>en-GB</language>
	<sy:updatePeriod>hourly</sy:updatePeriod>
	<sy:updateFrequency>1</sy:updateFrequency>
	<generator>https://wordpress.org/?v=6.7.1</generator>{"".join(items)}
	</channel>
</rss>
"""

    def atom(self) -> str:
        entries = []
        for p in self._posts_newest_first():
            link, n = self.post_url(p), len(p.pings)
            cats = "".join(
                f'\n\t\t<category scheme="{self.url}" term="{html.escape(t)}" />' for t in p.tags
            )
            entries.append(
                f"""
	<entry>
		<author>
			<name>Ruth</name>
			<uri>{self.url}</uri>
		</author>
		<title type="html"><![CDATA[{p.title}]]></title>
		<link rel="alternate" type="text/html" href="{link}" />
		<id>{self.url}/?p={p.post_id}</id>
		<updated>{p.published.strftime("%Y-%m-%dT%H:%M:%SZ")}</updated>
		<published>{p.published.strftime("%Y-%m-%dT%H:%M:%SZ")}</published>{cats}
		<summary type="html"><![CDATA[{_excerpt(p.content)} [&#8230;]]]></summary>
		<content type="html" xml:base="{link}"><![CDATA[{p.content}]]></content>
		<link rel="replies" type="text/html" href="{link}#comments" thr:count="{n}" />
		<link rel="replies" type="application/atom+xml" href="{link}feed/atom/" thr:count="{n}" />
		<thr:total>{len(p.pings)}</thr:total>
	</entry>"""
            )
        return f"""<?xml version="1.0" encoding="UTF-8"?><feed
  xmlns="http://www.w3.org/2005/Atom"
  xmlns:thr="http://purl.org/syndication/thread/1.0"
  xml:lang="en-GB"
  >
	<title type="text">{html.escape(self.name)}</title>
	<subtitle type="text">{html.escape(self.tagline)}</subtitle>

	<updated>{self.last_modified().strftime("%Y-%m-%dT%H:%M:%SZ")}</updated>

	<link rel="alternate" type="text/html" href="{self.url}" />
	<id>{self.url}/feed/atom/</id>
	<link rel="self" type="application/atom+xml" href="{self.url}/feed/atom/" />

	<generator uri="https://wordpress.org/" version="6.7.1">WordPress</generator>{"".join(entries)}
</feed>
"""

    def rdf(self) -> str:
        posts = self._posts_newest_first()
        seq = "".join(f'\n\t\t<rdf:li rdf:resource="{self.post_url(p)}"/>' for p in posts)
        items = "".join(
            f"""
<item rdf:about="{self.post_url(p)}">
	<title>{html.escape(p.title, quote=False)}</title>
	<link>{self.post_url(p)}</link>
	<dc:creator><![CDATA[Ruth]]></dc:creator>
	<dc:date>{p.published.strftime("%Y-%m-%dT%H:%M:%SZ")}</dc:date>
	{"".join(f"<dc:subject><![CDATA[{t}]]></dc:subject>" for t in p.tags)}
	<description><![CDATA[{_excerpt(p.content)} [&#8230;]]]></description>
	<content:encoded><![CDATA[{p.content}]]></content:encoded>
</item>"""
            for p in posts
        )
        return f"""<?xml version="1.0" encoding="UTF-8"?><rdf:RDF
	xmlns="http://purl.org/rss/1.0/"
	xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
	xmlns:dc="http://purl.org/dc/elements/1.1/"
	xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"
	xmlns:admin="http://webns.net/mvcb/"
	xmlns:content="http://purl.org/rss/1.0/modules/content/"
	>
<channel rdf:about="{self.url}/feed/rdf/">
	<title>{html.escape(self.name)}</title>
	<link>{self.url}</link>
	<description>{html.escape(self.tagline)}</description>
	<dc:date>{self.last_modified().strftime("%Y-%m-%dT%H:%M:%SZ")}</dc:date>
	<sy:updatePeriod>hourly</sy:updatePeriod>
	<sy:updateFrequency>1</sy:updateFrequency>
	<admin:generatorAgent rdf:resource="https://wordpress.org/?v=6.7.1" />
	<items>
		<rdf:Seq>{seq}
		</rdf:Seq>
	</items>
</channel>{items}
</rdf:RDF>
"""

    def rss092(self) -> str:
        items = "".join(
            f"""
	<item>
		<title>{html.escape(p.title, quote=False)}</title>
		<description><![CDATA[{_excerpt(p.content)} [&#8230;]]]></description>
		<link>{self.post_url(p)}</link>
	</item>"""
            for p in self._posts_newest_first()
        )
        return f"""<?xml version="1.0" encoding="UTF-8"?><!-- generator="WordPress/6.7.1" -->
<rss version="0.92">
<channel>
	<title>{html.escape(self.name)}</title>
	<link>{self.url}</link>
	<description>{html.escape(self.tagline)}</description>
	<lastBuildDate>{format_datetime(self.last_modified())}</lastBuildDate>
	<docs>http://backend.userland.com/rss092</docs>
	<language>en-GB</language>
{items}
</channel>
</rss>
"""

    def comments_feed(self, post: Post | None) -> str:
        """WordPress's comment feed: pingbacks appear as comments by their source's title,
        with no comment type and no link to the source."""
        posts = [post] if post else self.posts
        items = []
        for p in posts:
            for i, ping in enumerate(p.pings):
                t = (
                    html.escape(ping.excerpt)
                    if ping.excerpt
                    else f"[&#8230;] {html.escape(p.title)} [&#8230;]"
                )
                items.append(
                    f"""
	<item>
		<title>By: {html.escape(ping.title)}</title>
		<link>{self.post_url(p)}#comment-{p.post_id * 10 + i}</link>
		<dc:creator><![CDATA[{ping.title}]]></dc:creator>
		<pubDate>{format_datetime(ping.date)}</pubDate>
		<guid isPermaLink="false">{self.url}/?p={p.post_id}#comment-{p.post_id * 10 + i}</guid>
		<description><![CDATA[{t}]]></description>
		<content:encoded><![CDATA[<p>{t}</p>]]></content:encoded>
	</item>"""
                )
        title = f"Comments on: {post.title}" if post else f"Comments for {self.name}"
        return f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"
	xmlns:content="http://purl.org/rss/1.0/modules/content/"
	xmlns:dc="http://purl.org/dc/elements/1.1/"
	xmlns:atom="http://www.w3.org/2005/Atom"
	xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"
	>
<channel>
	<title>{html.escape(title)}</title>
	<link>{self.url}</link>
	<description>{html.escape(self.tagline)}</description>
	<lastBuildDate>{format_datetime(self.last_modified())}</lastBuildDate>
	<generator>https://wordpress.org/?v=6.7.1</generator>{"".join(items)}
</channel>
</rss>
"""

    # -- pages --------------------------------------------------------------------------------

    def head_links(self, *, home: bool = False) -> str:
        links = [
            f'<link rel="alternate" type="application/rss+xml" title="{html.escape(self.name)} '
            f'&raquo; Feed" href="{self.url}/feed/" />',
        ]
        if self.comments_path:
            links.append(
                f'<link rel="alternate" type="application/rss+xml" title="{html.escape(self.name)}'
                f' &raquo; Comments Feed" href="{self.url}{self.comments_path}" />'
            )
        if self.advertise_pingback and (self.pingback_on_home or not home):
            links.append(f'<link rel="pingback" href="{self.url}/xmlrpc.php" />')
        if self.webmention_endpoint:
            links.append(f'<link rel="webmention" href="{self.webmention_endpoint}" />')
        return "\n".join(links)

    def home_page(self) -> str:
        lis = "".join(
            f'<article><h2><a href="{self.post_url(p)}">{html.escape(p.title)}</a></h2></article>'
            for p in self._posts_newest_first()
        )
        return _page(self.name, self.head_links(home=True), f"<main>{lis}</main>")

    def post_page(self, post: Post) -> str:
        comments = []
        for i, ping in enumerate(post.pings):
            cid = post.post_id * 10 + i
            label = "Pingback" if ping.kind == "pingback" else "Trackback"
            comments.append(
                f'<li id="comment-{cid}" class="{ping.kind} even thread-even depth-1">\n'
                f'\t<div class="comment-body">\n\t\t{label}: <a href="{html.escape(ping.source)}"'
                f' class="url" rel="ugc external nofollow">{html.escape(ping.title)}</a>'
                f" \t</div>\n</li><!-- #comment-## -->"
            )
        for j, (author, text) in enumerate(post.comments):
            comments.append(
                f'<li id="comment-{post.post_id * 10 + 50 + j}" class="comment odd alt '
                f'thread-odd thread-alt depth-1"><article class="comment-body"><footer>'
                f'<b class="fn">{html.escape(author)}</b></footer><div class="comment-content">'
                f"<p>{html.escape(text)}</p></div></article></li>"
            )
        body = f"""<article id="post-{post.post_id}" class="post-{post.post_id} post type-post">
<header class="entry-header"><h1 class="entry-title">{html.escape(post.title)}</h1>
<time class="entry-date published" datetime="{post.published.isoformat()}">
{post.published:%d %B %Y}</time></header>
<div class="entry-content">{post.content}</div>
</article>
<div id="comments" class="comments-area">
<h2 class="comments-title">{len(comments)} thoughts on &ldquo;{html.escape(post.title)}&rdquo;</h2>
<ol class="comment-list">
{"".join(comments)}
</ol>
</div>"""
        meta = (
            f'<meta property="og:site_name" content="{html.escape(self.name)}" />\n'
            f'<meta property="og:title" content="{html.escape(post.title)}" />\n'
            f'<meta property="article:published_time" content="{post.published.isoformat()}" />'
        )
        return _page(f"{post.title} &#8211; {self.name}", self.head_links() + "\n" + meta, body)

    # -- XML-RPC ------------------------------------------------------------------------------

    def xmlrpc_call(self, body: bytes) -> bytes:
        try:
            params, method = xmlrpc.client.loads(body)
        except Exception:
            return xmlrpc.client.dumps(
                xmlrpc.client.Fault(-32700, "parse error. not well formed"), methodresponse=True
            ).encode()
        if method == "pingback.extensions.getPingbacks":
            url = str(params[0]) if params else ""
            post = next((p for p in self.posts if self.post_url(p) == url), None)
            if post is None:
                fault = xmlrpc.client.Fault(
                    33,
                    "The specified target URL cannot be used as a target. It either does not "
                    "exist, or it is not a pingback-enabled resource.",
                )
                return xmlrpc.client.dumps(fault, methodresponse=True).encode()
            sources = [ping.source for ping in post.pings if ping.kind == "pingback"]
            return xmlrpc.client.dumps((sources,), methodresponse=True).encode()
        if method == "system.listMethods":
            return xmlrpc.client.dumps(
                (["pingback.ping", "pingback.extensions.getPingbacks"],), methodresponse=True
            ).encode()
        return xmlrpc.client.dumps(
            xmlrpc.client.Fault(-32601, "server error. requested method does not exist."),
            methodresponse=True,
        ).encode()


def _excerpt(content: str) -> str:
    import re

    return html.escape(re.sub(r"<[^>]+>", "", content)[:200], quote=False)


def _page(title: str, head: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="UTF-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>{title}</title>
{head}
<meta name="generator" content="WordPress 6.7.1" />
</head>
<body class="post-template-default single single-post">
{body}
</body>
</html>
"""


BOZO_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
<channel>
<title>Broken & Proud</title>
<link>{url}</link>
<description>A feed with an unescaped ampersand & a missing end tag</description>
<item>
<title>Pledge week #NHSCitizen</title>
<link>{url}/2026/11/pledge-week/</link>
<guid>{url}/2026/11/pledge-week/</guid>
<pubDate>Mon, 02 Nov 2026 10:00:00 +0000</pubDate>
<description>We pledged for #NHSCitizen & friends</description>
</item>
<item>
<title>NHS Citizen: second entry</title>
<link>{url}/2026/11/second/</link>
<pubDate>Mon, 02 Nov 2026 11:00:00 +0000</pubDate>
<description>NHS Citizen assembly notes
</item>
</channel>
</rss>
"""


class _Handler(BaseHTTPRequestHandler):
    blog: BlogServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms stalls

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _log(self, body: bytes = b"") -> None:
        with self.blog._lock:
            self.blog.requests.append(
                Request(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
            )

    def _send(
        self,
        status: int,
        body: bytes = b"",
        ctype: str = "text/html; charset=UTF-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if status != 304:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if body and status != 304 and self.command != "HEAD":
            # Count before writing: the client may read the body and ask again before this
            # thread runs on, and a count taken after the write would then race the test.
            with self.blog._lock:
                self.blog.body_bytes += len(body)
            self.wfile.write(body)

    def _conditional(self, body: bytes, ctype: str, modified: datetime) -> None:
        etag = '"' + hashlib.md5(body).hexdigest() + '"'
        last_mod = format_datetime(modified.astimezone(UTC), usegmt=True)
        headers = {"ETag": etag, "Last-Modified": last_mod}
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        if inm is not None:
            if inm == etag:
                return self._send(304, headers=headers)
        elif ims is not None:
            try:
                if parsedate_to_datetime(ims) >= modified.replace(microsecond=0):
                    return self._send(304, headers=headers)
            except (TypeError, ValueError):
                pass
        self._send(200, body, ctype, headers)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        self._log()
        blog = self.blog
        path = self.path.split("?")[0]
        if path in blog.pages:
            status, headers, body = blog.pages[path]
            ctype = headers.get("Content-Type", "text/html; charset=UTF-8")
            return self._send(
                status, body, ctype, {k: v for k, v in headers.items() if k != "Content-Type"}
            )
        feeds = {
            "/feed/": (blog.rss2, "application/rss+xml; charset=UTF-8"),
            "/feed/atom/": (blog.atom, "application/atom+xml; charset=UTF-8"),
            "/feed/rdf/": (blog.rdf, "application/rdf+xml; charset=UTF-8"),
            "/feed/rss/": (blog.rss092, "text/xml; charset=UTF-8"),
        }
        if path in feeds:
            render, ctype = feeds[path]
            return self._conditional(render().encode(), ctype, blog.last_modified())
        if path == blog.comments_path:
            return self._conditional(
                blog.comments_feed(None).encode(),
                "application/rss+xml; charset=UTF-8",
                blog.last_modified(),
            )
        if path == "/":
            return self._send(
                200, blog.home_page().encode(), headers=self._pingback_header(home=True)
            )
        for post in blog.posts:
            if path == post.path:
                return self._send(
                    200, blog.post_page(post).encode(), headers=self._pingback_header()
                )
            if path == post.path + "feed/":
                return self._conditional(
                    blog.comments_feed(post).encode(),
                    "application/rss+xml; charset=UTF-8",
                    blog.last_modified(),
                )
        return self._misbehave(path)

    def _pingback_header(self, *, home: bool = False) -> dict[str, str]:
        h = {}
        if self.blog.advertise_pingback and (self.blog.pingback_on_home or not home):
            h["X-Pingback"] = f"{self.blog.url}/xmlrpc.php"
        if self.blog.webmention_endpoint:
            h["Link"] = f'<{self.blog.webmention_endpoint}>; rel="webmention"'
        return h

    def _misbehave(self, path: str) -> None:
        blog = self.blog
        if path.startswith("/mentions/") and blog.link_target:
            n = html.escape(path.split("/")[2])
            body = _page(
                f"Mention {n} &#8211; {html.escape(blog.name)}",
                f'<meta property="og:site_name" content="{html.escape(blog.name)}" />',
                f'<article><h1>Post {n}</h1><p>I pledged: <a href="{blog.link_target}">'
                "the NHS Citizen pledge</a></p></article>",
            )
            return self._send(200, body.encode())
        if path == "/bozo/feed/":
            return self._send(200, BOZO_FEED.format(url=blog.url).encode(), "application/rss+xml")
        if path == "/error":
            return self._send(500, b"<h1>Internal Server Error</h1>")
        if path == "/gone":
            return self._send(410, b"<h1>Gone</h1>")
        if path == "/busy":
            return self._send(429, b"slow down", headers={"Retry-After": "120"})
        if path == "/redirect-private":
            return self._send(302, headers={"Location": "http://10.0.0.1/feed/"})
        if path == "/redirect-metadata":
            return self._send(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
        if path == "/redirect-loop":
            return self._send(302, headers={"Location": "/redirect-loop"})
        if path == "/redirect-feed":
            return self._send(301, headers={"Location": "/feed/"})
        if path == "/huge":
            # no Content-Length: the cap must be enforced while streaming
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"<!-- " + b"x" * 65_000 + b" -->"
            sent = 0
            try:
                while sent < blog.huge_bytes:
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    sent += len(chunk)
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass
            return None
        if path == "/slow":
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(100_000):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(blog.slow_delay_s)
            except OSError:
                pass
            return None
        self._send(404, b"<h1>Not Found</h1>")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 1_000_000))
        self._log(body)
        path = self.path.split("?")[0]
        if path == "/xmlrpc.php":
            if self.blog.xmlrpc == "off":
                return self._send(403, b"<h1>Forbidden</h1>XML-RPC services are disabled.")
            if self.blog.xmlrpc == "missing":
                return self._send(404, b"<h1>Not Found</h1>")
            return self._send(200, self.blog.xmlrpc_call(body), "text/xml; charset=UTF-8")
        self._send(404, b"<h1>Not Found</h1>")
