"""WordPress eXtended RSS (WXR 1.2), WordPress's export, read and written.

    <rss><channel>…<item><title/><link/><wp:post_date/><wp:post_date_gmt/>
      <wp:comment><wp:comment_id/><wp:comment_author/><wp:comment_author_email/>
        <wp:comment_author_url/><wp:comment_author_IP/><wp:comment_date/> (the blog's local
        time) <wp:comment_date_gmt/> <wp:comment_content/> <wp:comment_approved/> (1, 0, spam,
        trash) <wp:comment_type/> ('', comment, pingback, trackback) <wp:comment_parent/>
        <wp:commentmeta><wp:meta_key>hc_post_as</wp:meta_key><wp:meta_value>…</…></…>
      </wp:comment></item></channel></rss>

Jetpack's comment form records how the commenter signed in (hc_post_as: facebook, twitter,
wordpress, …) and their avatar (hc_avatar): kept as the comment's provider and avatar.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from widget.porting.export_context import ExportContext, Row, comment_key
from widget.porting.formats.xml import children, local, text_of
from widget.porting.items import (
    IN_PROCESS,
    BadFile,
    Bodies,
    BodyTooComplex,
    Item,
    Skip,
    open_maybe_gzip,
    page_for,
    safe_avatar,
    safe_website,
)
from widget.records import CommentStatus, ImportedComment, PageRef

__all__ = ["WxrWriter", "read"]

STATUSES: dict[str, CommentStatus] = {
    "1": "approved", "0": "pending", "spam": "spam", "trash": "deleted", "post-trashed": "deleted",
}  # fmt: skip
NO_DATE = "0000-00-00 00:00:00"


def _wp_time(text: str) -> datetime | None:
    text = text.strip()
    if not text or text == NO_DATE:
        return None
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


def read(path: Path, site_id: str, bodies: Bodies = IN_PROCESS) -> Iterator[Item]:
    seen_channel = False
    with open_maybe_gzip(path) as source:
        for element in children(source, "rss", 2, "WordPress (WXR)"):
            seen_channel = True
            if local(element.tag) == "item":
                yield from _item(element, site_id, bodies)
    if not seen_channel:
        raise BadFile("This is not a WordPress export: it has no <channel>.")


def _item(item: Element, site_id: str, bodies: Bodies) -> Iterator[Item]:
    page = page_for(site_id, text_of(item, "link"), text_of(item, "post_name"),
                    text_of(item, "title"))  # fmt: skip
    # The blog's offset from UTC, as the post's two dates show it: for comments whose GMT
    # date is missing (some exporters leave it zero), the local date and this offset place them.
    try:
        local_post, gmt_post = (
            _wp_time(text_of(item, "post_date")),
            _wp_time(text_of(item, "post_date_gmt")),
        )
    except ValueError:  # a post date that is no date: no offset to go by
        local_post = gmt_post = None
    offset = (local_post - gmt_post) if local_post and gmt_post else timedelta(0)
    for element in item:
        if local(element.tag) == "comment":
            yield _comment(element, page, offset, bodies)


def _comment(element: Element, page: PageRef, offset: timedelta, bodies: Bodies) -> Item:
    number = text_of(element, "comment_id")
    key = f"wordpress:{number}"
    kind = text_of(element, "comment_type")
    if kind == "pingback":
        return Skip(key, "pingback", "not a comment: a link from another site")
    if kind == "trackback":
        return Skip(key, "trackback", "not a comment: a link from another site")
    status = STATUSES.get(text_of(element, "comment_approved"))
    if status is None:
        return Skip(key, "unparsable", f"comment_approved {text_of(element, 'comment_approved')!r}")
    try:
        gmt = _wp_time(text_of(element, "comment_date_gmt"))
        local_time = _wp_time(text_of(element, "comment_date"))
    except ValueError as exc:
        return Skip(key, "unparsable", f"a date: {exc}")
    if gmt is not None:
        created_at = gmt.replace(tzinfo=UTC)
    elif local_time is not None:
        created_at = (local_time - offset).replace(tzinfo=UTC)
    else:
        return Skip(key, "unparsable", "no comment_date")
    meta = _meta(element)
    parent = text_of(element, "comment_parent")
    try:
        source, html = bodies.from_html(text_of(element, "comment_content"))
    except BodyTooComplex as exc:
        return Skip(key, "unparsable", str(exc))
    provider = meta.get("hc_post_as", "")
    return ImportedComment(
        key=key, parent_key=f"wordpress:{parent}" if parent not in ("", "0") else None,
        page=page, author_name=text_of(element, "comment_author") or "Anonymous",
        author_email=text_of(element, "comment_author_email"),
        author_url=safe_website(text_of(element, "comment_author_url")),
        body_source=source, body_html=html,
        status=status, created_at=created_at, remote_ip=text_of(element, "comment_author_IP"),
        author_provider="" if provider in ("", "guest") else provider,
        author_avatar=safe_avatar(meta.get("hc_avatar", "")),
    )  # fmt: skip


def _meta(element: Element) -> dict[str, str]:
    found = {}
    for meta in element:
        if local(meta.tag) == "commentmeta":
            found[text_of(meta, "meta_key")] = text_of(meta, "meta_value")
    return found


# -- writing -------------------------------------------------------------------------------------

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/" \
xmlns:content="http://purl.org/rss/1.0/modules/content/" \
xmlns:wfw="http://wellformedweb.org/CommentAPI/" xmlns:dc="http://purl.org/dc/elements/1.1/" \
xmlns:wp="http://wordpress.org/export/1.2/">
<channel>
"""
WP_STATUS = {"approved": "1", "pending": "0", "spam": "spam", "deleted": "trash"}


def _tag(name: str, value: object) -> str:
    return f"<{name}>{escape(str(value))}</{name}>"


def _wp_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


class WxrWriter:
    """Items (one per thread) with their comments. Comments arrive ordered by thread, so each
    item is written whole as its comments pass; threads without comments come last."""

    media_type = "application/rss+xml"
    extension = "xml"

    def __init__(self) -> None:
        self.open_thread: int | None = None
        self.written: set[int] = set()

    def head(self, context: ExportContext) -> Iterator[str]:
        yield HEAD
        site = context.sites[0] if context.sites else {"name": "", "id": ""}
        origin = (context.origins.get(site["id"]) or [""])[0]
        yield _tag("title", site["name"]) + _tag("link", origin) + "\n"
        yield _tag("wp:wxr_version", "1.2") + _tag("wp:base_site_url", origin)
        yield _tag("wp:base_blog_url", origin) + "\n"

    def _item_start(self, thread: Row) -> str:
        date = _wp_date(thread["created_at"])
        return (
            "<item>" + _tag("title", thread["title"]) + _tag("link", thread["url"])
            + _tag("wp:post_id", thread["id"]) + _tag("wp:post_date", date)
            + _tag("wp:post_date_gmt", date) + _tag("wp:post_name", thread["page_id"])
            + _tag("wp:status", "publish") + _tag("wp:post_type", "post")
            + _tag("wp:comment_status", "closed" if thread["closed"] else "open") + "\n"
        )  # fmt: skip

    def comments(self, context: ExportContext, rows: Iterable[Row]) -> Iterator[str]:
        for c in rows:
            if c["thread_id"] != self.open_thread:
                if self.open_thread is not None:
                    yield "</item>\n"
                self.open_thread = c["thread_id"]
                self.written.add(c["thread_id"])
                yield self._item_start(context.threads[c["thread_id"]])
            date = _wp_date(c["created_at"])
            yield (
                "<wp:comment>" + _tag("wp:comment_id", c["id"])
                + _tag("wp:comment_author", c["author_name"])
                + _tag("wp:comment_author_email", c["author_email"])
                + _tag("wp:comment_author_url", c["author_url"])
                + _tag("wp:comment_author_IP", c["remote_ip"])
                + _tag("wp:comment_date", date) + _tag("wp:comment_date_gmt", date)
                + _tag("wp:comment_content", c["body_html"])
                + _tag("wp:comment_approved", WP_STATUS[c["status"]])
                + _tag("wp:comment_type", "comment")
                + _tag("wp:comment_parent", c["parent_id"] or 0)
                + _tag("wp:comment_user_id", 0)
                + _meta_tags(c) + "</wp:comment>\n"
            )  # fmt: skip

    def likes(self, context: ExportContext, rows: Iterable[Row]) -> Iterator[str]:
        return iter(())  # WXR has no likes

    def tail(self, context: ExportContext) -> Iterator[str]:
        if self.open_thread is not None:
            yield "</item>\n"
        for thread_id, thread in context.threads.items():
            if thread_id not in self.written:
                yield self._item_start(thread) + "</item>\n"
        yield "</channel>\n</rss>\n"


def _meta_tags(c: Row) -> str:
    meta = {"hc_post_as": c["author_provider"], "hc_avatar": c["author_avatar"],
            "widget_key": comment_key(c["import_key"], c["id"]) or ""}  # fmt: skip
    return "".join(
        "<wp:commentmeta>" + _tag("wp:meta_key", key) + _tag("wp:meta_value", value)
        + "</wp:commentmeta>"
        for key, value in meta.items() if value
    )  # fmt: skip
