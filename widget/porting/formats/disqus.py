"""Disqus: its XML export (https://help.disqus.com/en/articles/1717164-comments-export), read
and written.

    <disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">
      <thread dsq:id="T"><id>identifier</id><link>URL</link><title>…</title>…</thread>
      <post dsq:id="P"><message><![CDATA[<p>html</p>]]></message><createdAt>ISO</createdAt>
        <isDeleted>false</isDeleted><isSpam>false</isSpam>
        <author><name>…</name><email>…</email><isAnonymous>…</isAnonymous></author>
        <ipAddress>…</ipAddress><thread dsq:id="T"/><parent dsq:id="P0"/></post>
    </disqus>

Threads come before posts; only the threads (not the posts) are kept in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from widget.porting.export_context import ExportContext, Row, comment_key, utc_text
from widget.porting.formats.xml import child, children, local, text_of
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
from widget.records import CommentStatus, ImportedComment, PageRef

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
            elif kind == "post":
                yield _post(element, threads, bodies)
    if not seen_root:
        raise BadFile("This is not a Disqus export: it holds no <thread> or <post>.")


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

HEAD = (
    '<?xml version="1.0" encoding="utf-8"?>\n<disqus xmlns="http://disqus.com"'
    ' xmlns:dsq="http://disqus.com/disqus-internals">\n'
)


def _tag(name: str, value: object) -> str:
    return f"<{name}>{escape(str(value))}</{name}>"


class DisqusWriter:
    """Every thread, then every post. Disqus has no "awaiting moderation": pending comments
    are left out (they are in the other formats)."""

    media_type = "application/xml"
    extension = "xml"

    def head(self, context: ExportContext) -> Iterator[str]:
        yield HEAD
        for thread in context.threads.values():
            yield (
                f'<thread dsq:id="{thread["id"]}">' + _tag("id", thread["page_id"])
                + _tag("forum", thread["site_id"]) + _tag("link", thread["url"])
                + _tag("title", thread["title"]) + "<message></message>"
                + _tag("createdAt", utc_text(thread["created_at"]))
                + _tag("isClosed", str(thread["closed"]).lower())
                + "<isDeleted>false</isDeleted></thread>\n"
            )  # fmt: skip

    def comments(self, context: ExportContext, rows: Iterable[Row]) -> Iterator[str]:
        for c in rows:
            if c["status"] == "pending":
                continue
            parent = f'<parent dsq:id="{c["parent_id"]}"/>' if c["parent_id"] else ""
            yield (
                f'<post dsq:id="{c["id"]}">' + _tag("id", comment_key(c["import_key"], c["id"]))
                + _tag("message", c["body_html"]) + _tag("createdAt", utc_text(c["created_at"]))
                + _tag("isDeleted", str(c["status"] == "deleted").lower())
                + _tag("isSpam", str(c["status"] == "spam").lower())
                + "<author>" + _tag("email", c["author_email"]) + _tag("name", c["author_name"])
                + _tag("isAnonymous", str(not c["author_email"] and not c["user_id"]).lower())
                + "</author>" + _tag("ipAddress", c["remote_ip"])
                + f'<thread dsq:id="{c["thread_id"]}"/>{parent}</post>\n'
            )  # fmt: skip

    def likes(self, context: ExportContext, rows: Iterable[Row]) -> Iterator[str]:
        return iter(())  # Disqus exports no votes

    def tail(self, context: ExportContext) -> Iterator[str]:
        yield "</disqus>\n"
