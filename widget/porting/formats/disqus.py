"""Disqus: its XML export (https://help.disqus.com/en/articles/1717164-comments-export) read, and
what Disqus imports (its "Custom XML Import Format", WXR-based: see DisqusWriter) written.

    <disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">
      <thread dsq:id="T"><id>identifier</id><link>URL</link><title>…</title>…</thread>
      <post dsq:id="P"><message><![CDATA[<p>html</p>]]></message><createdAt>ISO</createdAt>
        <isDeleted>false</isDeleted><isSpam>false</isSpam>
        <author><name>…</name><email>…</email><isAnonymous>…</isAnonymous></author>
        <ipAddress>…</ipAddress><thread dsq:id="T"/><parent dsq:id="P0"/></post>
    </disqus>

Threads come before posts; only the threads (not the posts) are kept in memory. Each thread's
identity there (dsq:id, identifier, link, title, date) is kept as its origin, for going back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from widget.porting.export_context import ExportContext, Row
from widget.porting.formats.xml import (
    cdata,
    child,
    children,
    exact_text_of,
    local,
    text_of,
    wall_clock,
)
from widget.porting.items import (
    IN_PROCESS,
    BadFile,
    Bodies,
    BodyTooComplex,
    Item,
    Skip,
    open_maybe_gzip,
    page_for,
    parse_iso,
)
from widget.porting.origins import origin_json, origin_of
from widget.records import CommentStatus, ImportedComment, ImportedThread, PageRef
from widget.urls import split_url

__all__ = ["DisqusWriter", "read"]

DSQ_ID = "{http://disqus.com/disqus-internals}id"


def read(path: Path, site_id: str, bodies: Bodies = IN_PROCESS) -> Iterator[Item]:
    threads: dict[str, PageRef] = {}
    seen_root = False
    with open_maybe_gzip(path) as source:
        for element in children(source, "disqus", 1, "Disqus"):
            seen_root = True
            kind = local(element.tag)
            if kind == "thread":
                thread_id = element.get(DSQ_ID, "")
                if thread_id in threads:
                    yield Skip(f"disqus-thread:{thread_id}", "duplicate",
                               "a second <thread> with this dsq:id; the first is kept")  # fmt: skip
                    continue
                threads[thread_id] = page_for(
                    site_id, text_of(element, "link"), text_of(element, "id"),
                    text_of(element, "title"),
                )  # fmt: skip
                origin = _origin(element, thread_id, threads[thread_id])
                if origin is not None:
                    yield origin
            elif kind == "post":
                yield _post(element, threads, bodies)
    if not seen_root:
        raise BadFile("This is not a Disqus export: it holds no <thread> or <post>.")


def _origin(element: Element, thread_id: str, page: PageRef) -> ImportedThread | None:
    """The thread as Disqus knows it, for exports back there (kept when it gets comments),
    and whether it is closed.
    The identifier is the page's `disqus_identifier`, often empty (the link names the page
    then); Disqus's WordPress plugin writes "POST_ID URL?p=POST_ID"."""
    try:
        created_at = parse_iso(text_of(element, "createdAt"))
    except ValueError:
        return None  # no date to create the thread with: its comments will
    entry = {
        "id": thread_id, "identifier": exact_text_of(element, "id"),
        "link": text_of(element, "link"), "title": exact_text_of(element, "title"),
        "created_at": text_of(element, "createdAt"),
    }  # fmt: skip
    closed = text_of(element, "isClosed") == "true"  # closed to new comments there: here too
    return ImportedThread(page, created_at, closed, origin_json({"disqus": entry}))


def _post(element: Element, threads: dict[str, PageRef], bodies: Bodies) -> Item:
    post_id = element.get(DSQ_ID, "")
    key = f"disqus:{post_id}"
    if not post_id:
        return Skip("disqus:?", "unparsable", "a <post> without its dsq:id")
    thread = child(element, "thread")
    page = threads.get(thread.get(DSQ_ID, "") if thread is not None else "")
    if page is None:
        return Skip(key, "orphan", "its <thread> is not in the file")
    try:
        created_at = parse_iso(text_of(element, "createdAt"))
    except ValueError:
        return Skip(key, "unparsable", f"createdAt {text_of(element, 'createdAt')!r}")
    parent = child(element, "parent")
    parent_id = parent.get(DSQ_ID, "") if parent is not None else ""
    author = child(element, "author")
    name = text_of(author, "name") if author is not None else ""
    anonymous = author is None or text_of(author, "isAnonymous") == "true"
    status: CommentStatus = "approved"
    if text_of(element, "isSpam") == "true":
        status = "spam"
    elif text_of(element, "isDeleted") == "true":
        status = "deleted"
    try:
        source, html = bodies.from_html(text_of(element, "message"))
    except BodyTooComplex as exc:
        return Skip(key, "unparsable", str(exc))
    return ImportedComment(
        key=key, parent_key=f"disqus:{parent_id}" if parent_id else None, page=page,
        author_name=name or ("Anonymous" if anonymous else ""),
        author_email=text_of(author, "email") if author is not None else "",
        author_url="", body_source=source, body_html=html, status=status,
        created_at=created_at, remote_ip=text_of(element, "ipAddress"),
    )  # fmt: skip


# -- writing -------------------------------------------------------------------------------------

# Disqus's "Custom XML Import Format" (https://help.disqus.com/en/articles/1717222): WXR 1.0 with
# a dsq:thread_identifier per item. Its namespaces, as Disqus's page gives them.
HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" \
xmlns:dsq="http://www.disqus.com/" xmlns:dc="http://purl.org/dc/elements/1.1/" \
xmlns:wp="http://wordpress.org/export/1.0/">
<channel>
"""
MIN_CHARS = 3  # Disqus refuses shorter comments
GMT = "%Y-%m-%d %H:%M:%S"


def _tag(name: str, value: object) -> str:
    return f"<{name}>{escape(str(value))}</{name}>"


def _importable(c: Row) -> bool:
    return c["status"] in ("approved", "pending") and len(c["body_source"].strip()) >= MIN_CHARS


class DisqusWriter:
    """What Disqus's importer takes: one <item> per thread with comments to import, named by
    the identifier Disqus knew it by when it came from Disqus (else see `_thread`), and its
    comments. Every field is written, empty or not, as Disqus asks. Held comments go in as
    not approved (Disqus's Pending). Spam, deleted comments and comments under 3 characters
    stay out; a reply to one hangs from the nearest ancestor that is written."""

    media_type = "application/xml"
    extension = "xml"

    def __init__(self) -> None:
        self.open_thread: int | None = None
        self.item_open = False
        # Within the open thread: each comment's id -> the written comment its replies hang
        # from (itself when written; 0 for the top level).
        self.hang_from: dict[int, int] = {}

    def head(self, context: ExportContext) -> Iterator[str]:
        yield HEAD

    def comments(self, context: ExportContext, rows: Iterable[Row]) -> Iterator[str]:
        for c in rows:
            if c["thread_id"] != self.open_thread:
                if self.item_open:
                    yield "</item>\n"
                self.open_thread, self.item_open, self.hang_from = c["thread_id"], False, {}
            parent = self.hang_from.get(c["parent_id"], 0) if c["parent_id"] else 0
            if not _importable(c):
                self.hang_from[c["id"]] = parent
                continue
            self.hang_from[c["id"]] = c["id"]
            if not self.item_open:
                self.item_open = True
                yield _thread(context, context.threads[c["thread_id"]])
            yield (
                f"<wp:comment><wp:comment_id>{c['id']}</wp:comment_id>"
                + "<wp:comment_author>" + cdata(c["author_name"]) + "</wp:comment_author>"
                + _tag("wp:comment_author_email", c["author_email"])
                + _tag("wp:comment_author_url", c["author_url"])
                + _tag("wp:comment_author_IP", c["remote_ip"])
                + _tag("wp:comment_date_gmt", wall_clock(c["created_at"].astimezone(UTC)))
                + "<wp:comment_content>" + cdata(c["body_html"]) + "</wp:comment_content>"
                + f"<wp:comment_approved>{int(c['status'] == 'approved')}</wp:comment_approved>"
                + f"<wp:comment_parent>{parent}</wp:comment_parent></wp:comment>\n"
            )  # fmt: skip

    def likes(self, context: ExportContext, rows: Iterable[Row]) -> Iterator[str]:
        return iter(())  # Disqus imports no votes

    def tail(self, context: ExportContext) -> Iterator[str]:
        if self.item_open:
            yield "</item>\n"
        yield "</channel>\n</rss>\n"


def _thread(context: ExportContext, thread: Row) -> str:
    """An item's head. A thread that came from Disqus keeps its identifier (often empty: the
    link names the page then), link and title. One from a WordPress post gets the identifier
    Disqus's WordPress plugin gives a post ("ID GUID"). One born here gets the page id the
    embed named it by when the site chose it (`data-page-id`), else none: the link, as Disqus
    matches a page that sets no `disqus_identifier`."""
    origin = origin_of(thread)
    disqus, wordpress = origin.get("disqus", {}), origin.get("wordpress", {})
    link = thread["url"]
    if not link and thread["page_id"].startswith("/"):
        link = (context.origins.get(thread["site_id"]) or [""])[0] + thread["page_id"]
    parts = split_url(link)
    identifier = "" if parts is not None and parts.path == thread["page_id"] else thread["page_id"]
    if wordpress.get("post_id") and wordpress.get("guid"):
        identifier = f"{wordpress['post_id']} {wordpress['guid']}"
    created = wall_clock(thread["created_at"].astimezone(UTC))
    with contextlib.suppress(ValueError):  # a draft's is all zeros, and no date
        created = datetime.strptime(wordpress.get("post_date_gmt", ""), GMT).strftime(GMT)
    title = thread["title"] or link  # not WordPress's: that one is HTML ("&amp;")
    if disqus:
        identifier, link = disqus.get("identifier", ""), disqus.get("link") or link
        title = disqus.get("title") or title
        with contextlib.suppress(ValueError):  # Disqus's own date unreadable: the one above
            created = wall_clock(parse_iso(disqus.get("created_at", "")).astimezone(UTC))
    return (
        "<item>" + "<title>" + cdata(title) + "</title>" + _tag("link", link)
        + "<content:encoded>" + cdata("") + "</content:encoded>"
        + _tag("dsq:thread_identifier", identifier) + _tag("wp:post_date_gmt", created)
        + _tag("wp:comment_status", "closed" if thread["closed"] else "open") + "\n"
    )  # fmt: skip
