"""Threads' titles read from their pages, not taken from whoever wrote first.

The embed sends the host page's title with every write, and anyone can send any: left alone, the
first (or newest) writer would name the thread in every email, feed entry and admin list. So,
where a site lets the server read titles (its `fetch_titles` setting, on by default), a new
thread (or a comment sending another title than the stored one: the page may have been renamed)
has its "comment" job ask for a look at the page (widget/storage/threads.py, title_due). The
outbox does that before anything else of the job: the thread's page (page_url), on one of the
site's origins, is read through the guarded client (widget/outbound.py), at most MAX_PAGE_BYTES
of it within FETCH_TIMEOUT_S, redirects followed only within the site's origins; its <title>
becomes the thread's. A page that cannot be read (time out, not 200, not HTML, no title) keeps
the title sent, with one line at info.

<title> rather than og:title: it is what the embed sends (document.title), so emails and feeds
name the thread as the frame's heading does; and every page has one, while og:title is only
there where an SEO plugin put it.

The look is part of the comment's job rather than a job of its own: the emails about the
comment are planned after it, in the same job, so they carry the title found whichever instance
runs them (and the outbox's kinds, checked by the database, need no migration).
"""

from __future__ import annotations

import codecs
import html
import logging
import re
import time
from collections.abc import Sequence
from urllib.parse import urljoin

from widget.comments import page_title
from widget.logs import redact
from widget.lru import LruCache
from widget.outbound import Outbound, request_error
from widget.records import ThreadHead
from widget.sites import settings_of
from widget.storage import Storage
from widget.urls import origin_of, split_url

__all__ = [
    "FETCH_TIMEOUT_S",
    "MAX_PAGE_BYTES",
    "RELOOK_S",
    "PageTitles",
    "TitleUnread",
    "page_url",
    "title_in_html",
]

log = logging.getLogger(__name__)

MAX_PAGE_BYTES = 256 * 1024  # a <title> sits in the head, well within this of the top
FETCH_TIMEOUT_S = 5.0  # for the whole exchange: a page that trickles is given up
MAX_REDIRECTS = 3
# A thread's page is looked at again at most this often (by one process): a site whose embed
# sends its own data-title, never the page's <title>, would otherwise have each comment fetch
# the page, and a hung site hold the outbox FETCH_TIMEOUT_S for each.
RELOOK_S = 15 * 60.0
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


class TitleUnread(Exception):
    """Why the page's title could not be read (for the log)."""


# What a head holds that matters here: a comment (skipped), the title, or the body's start (a
# title after it is an SVG's, naming a picture). Found by plain search, each from where the
# last ended: a linear read of even a hostile page (html.parser took 0.45 s of CPU, the event
# loop stalled meanwhile, on 256 KB of '<'; this takes milliseconds).
_LANDMARK = re.compile(r"<!--|<title(?=[\s>/])|<body(?=[\s>/])|<svg(?=[\s>/])", re.I)
_TITLE_END = re.compile(r"</title\s*>", re.I)


def title_in_html(body: bytes, content_type: str) -> str:
    """The page's title: its first <title> before the body, entities decoded, on one line, at
    most MAX_TITLE_CHARS; '' when it has none. As in a browser, a title holds text only:
    tags in it are text too."""
    text = body.decode(_charset(body, content_type), "replace")
    at = 0
    while found := _LANDMARK.search(text, at):
        mark = found.group().lower()
        if mark == "<!--":
            at = text.find("-->", found.end())
            if at < 0:
                return ""
            continue
        if mark != "<title":
            return ""
        start = text.find(">", found.end())
        end = _TITLE_END.search(text, start) if start >= 0 else None
        if end is None:
            return ""
        raw = html.unescape(text[start + 1 : end.start()])
        # Whitespace collapsed before the cap (a title padded with blanks keeps its words) and
        # after it (page_title turns control characters into spaces).
        return " ".join(page_title(" ".join(raw.split())).split())
    return ""


def _charset(body: bytes, content_type: str) -> str:
    declared = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", content_type, re.I)
    named = declared.group(1) if declared else ""
    if not named and (meta := _META_CHARSET.search(body[:4096])):
        named = meta.group(1).decode("ascii")
    try:
        return codecs.lookup(named).name if named else "utf-8"
    except LookupError:
        return "utf-8"


class PageTitles:
    def __init__(
        self, storage: Storage, outbound: Outbound, timeout_s: float = FETCH_TIMEOUT_S
    ) -> None:
        self.storage = storage
        self.outbound = outbound
        self.timeout_s = timeout_s
        self.relook_s = RELOOK_S
        self._looked: LruCache[int, float] = LruCache(10_000)  # thread id -> monotonic time

    async def retitle(self, thread_id: int) -> None:
        """The thread takes its page's title when one can be read; else it keeps its own.
        Nothing is read when this process looked at the page less than `relook_s` ago."""
        last = self._looked.get(thread_id)
        if last is not None and time.monotonic() - last < self.relook_s:
            return
        head = await self.storage.get_thread(thread_id)
        site = await self.storage.get_site(head.site_id) if head else None
        if head is None or site is None or settings_of(site).fetch_titles != "on":
            return
        try:
            title = await self.read_title(page_url(head), site.origins)
        except TitleUnread as exc:
            log.info("title of thread %s (site %s) not read from its page; kept as sent: %s",
                     head.id, head.site_id, redact(str(exc)))  # fmt: skip
            title = ""
        if title:
            await self.storage.retitle_thread(head.id, title)
        # Only now: a job retried after the database failed it looks again.
        self._looked.put(thread_id, time.monotonic())

    async def read_title(self, url: str, origins: Sequence[str]) -> str:
        """The title of the page at `url`, which must be on one of `origins` (so must every
        redirect); raises TitleUnread."""
        if not url:
            raise TitleUnread("the thread has no URL")
        headers = {"User-Agent": "widget (page title)", "Accept": "text/html, */*;q=0.1"}
        try:
            async with self.outbound.client(
                self.timeout_s, allow_private_networks=True, max_answer_bytes=MAX_PAGE_BYTES,
                prefix_only=True,
            ) as http:  # fmt: skip
                for _ in range(MAX_REDIRECTS + 1):
                    _check_origin(url, origins)
                    response = await http.get(url, headers=headers)
                    if not response.has_redirect_location:
                        break
                    url = urljoin(url, response.headers["location"])
                else:
                    raise TitleUnread(f"more than {MAX_REDIRECTS} redirects")
        except request_error() as exc:
            raise TitleUnread(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise TitleUnread(f"the page answered {response.status_code}")
        content_type = response.headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() not in _HTML_TYPES:
            raise TitleUnread(f"the page is not HTML ({content_type or 'no content type'})")
        title = title_in_html(response.content, content_type)
        if not title:
            raise TitleUnread(f"no <title> in the first {MAX_PAGE_BYTES} bytes")
        return title


def page_url(head: ThreadHead) -> str:
    """Where the thread's page is read: at its page id, when that is a path, on the origin of
    its stored URL. The URL itself is the newest writer's (checked only to be on one of the
    site's origins): its path and query could name another page, one whose title the writer
    chooses (a search page's "Results for ..."), while the page id is the thread's own."""
    parts = split_url(head.url) if head.page_id.startswith("/") else None
    if parts is None or not parts.hostname:
        return head.url
    return origin_of(parts) + head.page_id


def _check_origin(url: str, origins: Sequence[str]) -> None:
    parts = split_url(url)
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise TitleUnread("the page's address is not an http(s) URL")
    if origin_of(parts) not in origins:
        raise TitleUnread(f"the page leads to {origin_of(parts)}, not one of the site's origins")
