"""A blog's feed for the tests: RSS 2.0 as WordPress writes /feed/ (wp-includes/feed-rss2.php:
guid isPermaLink="false", the excerpt in a CDATA description, the post in content:encoded), Atom
as RFC 4287 describes it, and a real HTTP server on 127.0.0.1 that serves either with ETag and
Last-Modified and answers conditional GETs with 304."""

from __future__ import annotations

import dataclasses
import http.server
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape

from tests.helpers import BLOG
from tests.servers import free_port, serve_in_thread

__all__ = ["FeedServer", "Post", "atom_feed", "feed_server", "wordpress_rss"]


@dataclasses.dataclass(frozen=True)
class Post:
    number: int
    title: str
    excerpt: str = "A few words about it."
    content: str = "<p>The whole post.</p>"
    link: str = ""  # default: BLOG/post-NUMBER/

    @property
    def url(self) -> str:
        return self.link or f"{BLOG}/post-{self.number}/"

    @property
    def published(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=self.number)


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def wordpress_rss(posts: Sequence[Post], blog_name: str = "The blog") -> bytes:
    """What WordPress answers at /feed/ for these posts (newest first, as it lists them)."""
    items = "".join(
        f"""
	<item>
		<title>{escape(post.title)}</title>
		<link>{escape(post.url)}</link>
		<comments>{escape(post.url)}#respond</comments>
		<pubDate>{format_datetime(post.published)}</pubDate>
		<dc:creator>{_cdata("Ann")}</dc:creator>
		<category>{_cdata("Notes")}</category>
		<guid isPermaLink="false">{BLOG}/?p={post.number}</guid>
		<description>{_cdata(post.excerpt)}</description>
		<content:encoded>{_cdata(post.content)}</content:encoded>
		<wfw:commentRss>{escape(post.url)}feed/</wfw:commentRss>
		<slash:comments>0</slash:comments>
	</item>"""
        for post in sorted(posts, key=lambda p: -p.number)
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
	<title>{escape(blog_name)}</title>
	<atom:link href="{BLOG}/feed/" rel="self" type="application/rss+xml" />
	<link>{BLOG}</link>
	<description>Just another blog</description>
	<lastBuildDate>Thu, 01 Jan 2026 00:00:00 +0000</lastBuildDate>
	<language>en-US</language>
	<sy:updatePeriod>hourly</sy:updatePeriod>
	<sy:updateFrequency>1</sy:updateFrequency>
	<generator>https://wordpress.org/?v=6.7</generator>{items}
</channel>
</rss>
""".encode()


def atom_feed(posts: Sequence[Post], blog_name: str = "The blog") -> bytes:
    """An Atom feed (RFC 4287) of these posts, each with an id, a summary and its content."""
    entries = "".join(
        f"""
  <entry>
    <title type="html">{escape(post.title)}</title>
    <link rel="alternate" type="text/html" href="{escape(post.url)}"/>
    <id>tag:blog.example,2026:post-{post.number}</id>
    <updated>{post.published.isoformat()}</updated>
    <published>{post.published.isoformat()}</published>
    <author><name>Ann</name></author>
    <summary type="html">{escape(post.excerpt)}</summary>
    <content type="html">{escape(post.content)}</content>
  </entry>"""
        for post in sorted(posts, key=lambda p: -p.number)
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>{escape(blog_name)}</title>
  <link rel="alternate" type="text/html" href="{BLOG}/"/>
  <link rel="self" type="application/atom+xml" href="{BLOG}/feed/atom/"/>
  <id>tag:blog.example,2026:feed</id>
  <updated>2026-01-01T00:00:00Z</updated>{entries}
</feed>
""".encode()


class FeedServer:
    """What the feed server answers (change it at will) and what it was asked."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/feed/"
        self.body = wordpress_rss([])
        self.content_type = "application/rss+xml; charset=UTF-8"
        self.status = 200
        self.etag = '"v1"'
        self.last_modified = "Thu, 01 Jan 2026 00:00:00 GMT"
        self.location = ""  # set: every request is redirected there (302)
        self.stalled = False  # True: the server sends the start of its answer, then nothing more
        self.release = threading.Event()  # ... until this is set
        self.requests: list[dict[str, str]] = []  # each request's headers, lower-cased names
        self.answers: list[int] = []

    def publish(self, body: bytes, etag: str) -> None:
        self.body, self.etag = body, etag

    def answer(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        headers = {name.lower(): value for name, value in handler.headers.items()}
        self.requests.append(headers)
        if self.location:
            status, body, extra = 302, b"", {"Location": self.location}
        elif self.status != 200:
            status, body, extra = self.status, b"<h1>no</h1>", {"Content-Type": "text/html"}
        elif headers.get("if-none-match") == self.etag:
            status, body, extra = 304, b"", {"ETag": self.etag}
        else:
            status, body = 200, self.body
            extra = {"Content-Type": self.content_type, "ETag": self.etag,
                     "Last-Modified": self.last_modified}  # fmt: skip
        self.answers.append(status)
        handler.send_response(status)
        for name, value in extra.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if self.stalled:
            handler.wfile.write(body[:10])
            handler.wfile.flush()
            self.release.wait(30)
            return
        handler.wfile.write(body)


@contextmanager
def feed_server() -> Iterator[FeedServer]:
    """A feed server on 127.0.0.1 (a port of its own), in a thread, for the test's length."""
    feed = FeedServer(free_port())

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            feed.answer(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    stop = serve_in_thread(http.server.ThreadingHTTPServer(("127.0.0.1", feed.port), Handler))
    try:
        yield feed
    finally:
        stop()
