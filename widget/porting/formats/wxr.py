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

Each item's post (id, title, dates, type, slug, status, guid) and the blog's offsets from UTC
its comments show are kept as the thread's origin (origins.py), so that the export goes back
into that blog (see WxrWriter). Disqus's import format is WXR too: its items' thread
identifiers are kept the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from widget.porting.export_context import ExportContext, Row, comment_key, utc_text
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
    safe_avatar,
    safe_website,
)
from widget.porting.origins import LocalTimes, Offsets, origin_json, origin_of
from widget.records import CommentStatus, ImportedComment, ImportedThread, PageRef
from widget.sites import zone_named
from widget.urls import split_url

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
    points = [(gmt_post.replace(tzinfo=UTC), _minutes(offset))] if local_post and gmt_post else []
    comments = [element for element in item if local(element.tag) == "comment"]
    created: list[datetime] = []
    for element in comments:
        found = _comment(element, page, offset, bodies)
        if isinstance(found, ImportedComment):
            created.append(found.created_at)
            local_time = _wp_time(text_of(element, "comment_date"))
            if local_time is not None:
                points.append((found.created_at, _minutes(local_time - _naive(found.created_at))))
        yield found
    if created:  # the thread, as created by its first comment, with the post's identity
        origin = origin_json(_origin(item, Offsets(points), gmt_post))
        yield ImportedThread(page, min(created), origin=origin)


def _minutes(offset: timedelta) -> int:
    return round(offset.total_seconds() / 60)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _origin(item: Element, offsets: Offsets, created: datetime | None) -> dict[str, dict[str, Any]]:
    origin: dict[str, dict[str, Any]] = {}
    if text_of(item, "post_id"):  # a WordPress post (Disqus's import format has no post ids)
        origin["wordpress"] = {
            name: exact_text_of(item, name) for name in (
                "post_id", "title", "link", "guid", "post_date", "post_date_gmt", "post_type",
                "post_name", "status",
            )
        } | offsets.as_entry()  # fmt: skip
    if child(item, "thread_identifier") is not None:  # Disqus's import format, ours included
        origin["disqus"] = {
            "identifier": exact_text_of(item, "thread_identifier"), "link": text_of(item, "link"),
            "title": exact_text_of(item, "title"),
            "created_at": utc_text(created.replace(tzinfo=UTC)) if created else "",
        }  # fmt: skip
    return origin


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
# Comments that did not come from a thread's WordPress post are numbered from here in its item,
# so that their numbers cannot be the post's own comment ids (which the file keeps, see _Post).
BORN_HERE_NUMBERS = 10**12
BORN_HERE_NOTE = (
    "<!-- This thread began on widget: no WordPress post is behind it. WordPress's importer"
    " matches posts by title and post_date, so the first import makes it a draft of that title"
    " and date, and later imports find that draft. -->\n"
)


def _tag(name: str, value: object) -> str:
    return f"<{name}>{escape(str(value))}</{name}>"


def _wp_date(moment: datetime) -> str:
    return wall_clock(moment.astimezone(UTC))


@dataclasses.dataclass(frozen=True, slots=True)
class _Post:
    """The item being written: whether its thread came from a WordPress post, and the blog's
    offsets its import saw."""

    from_wordpress: bool
    offsets: Offsets
    times: LocalTimes

    def number(self, import_key: str | None, comment_id: int) -> int:
        """A comment's wp:comment_id. A comment that came from this very post keeps the id it
        had there: WordPress's importer skips comments it already has, and a new reply then
        names its parent by that id, which is the parent's id in that blog."""
        if self.from_wordpress:
            number = (import_key or "").removeprefix("wordpress:")
            if import_key and number != import_key and number.isdigit():
                return int(number)
            return BORN_HERE_NUMBERS + comment_id
        return comment_id


class WxrWriter:
    """Items (one per thread) with their comments. Comments arrive ordered by thread, so each
    item is written whole as its comments pass; threads without comments come last.

    A thread imported from WordPress is written as the post it was (id, title, dates, type,
    slug and status, exactly), so WordPress's importer finds that post again; the comments'
    local dates are the blog's (see origins.LocalTimes)."""

    media_type = "application/rss+xml"
    extension = "xml"

    def __init__(self) -> None:
        self.open_thread: int | None = None
        self.post: _Post | None = None
        self.written: set[int] = set()
        self.times: dict[str, LocalTimes] = {}

    def head(self, context: ExportContext) -> Iterator[str]:
        yield HEAD
        site = context.sites[0] if context.sites else {"name": "", "id": ""}
        origin = (context.origins.get(site["id"]) or [""])[0]
        yield _tag("title", site["name"]) + _tag("link", origin) + "\n"
        yield _tag("wp:wxr_version", "1.2") + _tag("wp:base_site_url", origin)
        yield _tag("wp:base_blog_url", origin) + "\n"
        for each in context.sites:
            zone = zone_named(str(each["settings"].get("timezone", "")))
            threads = [t for t in context.threads.values() if t["site_id"] == each["id"]]
            self.times[each["id"]] = LocalTimes(zone, threads)

    def _item_start(self, thread: Row) -> str:
        wordpress = origin_of(thread).get("wordpress")
        times = self.times.get(thread["site_id"]) or LocalTimes(None, ())
        self.post = _Post(wordpress is not None, Offsets.of(wordpress or {}), times)
        if wordpress is not None:
            post, note = wordpress, ""
        else:
            created = thread["created_at"]
            post = {
                "post_id": "0", "title": thread["title"] or thread["url"] or thread["page_id"],
                "link": thread["url"], "post_name": _slug(thread["url"] or thread["page_id"]),
                "post_date": wall_clock(times.local(created, self.post.offsets)),
                "post_date_gmt": _wp_date(created), "status": "draft", "post_type": "post",
            }  # fmt: skip
            note = BORN_HERE_NOTE
        return (
            "<item>" + note + "<title>" + cdata(post.get("title", "")) + "</title>"
            + _tag("link", post.get("link", "")) + _tag("wp:post_id", post.get("post_id", "0"))
            + "<wp:post_date>" + cdata(post.get("post_date", "")) + "</wp:post_date>"
            + "<wp:post_date_gmt>" + cdata(post.get("post_date_gmt", "")) + "</wp:post_date_gmt>"
            + _tag("wp:comment_status", "closed" if thread["closed"] else "open")
            + "<wp:post_name>" + cdata(post.get("post_name", "")) + "</wp:post_name>"
            + _tag("wp:status", post.get("status", "publish"))
            + _tag("wp:post_type", post.get("post_type", "post")) + "\n"
        )  # fmt: skip

    def comments(self, context: ExportContext, rows: Iterable[Row]) -> Iterator[str]:
        for c in rows:
            if c["thread_id"] != self.open_thread:
                if self.open_thread is not None:
                    yield "</item>\n"
                self.open_thread = c["thread_id"]
                self.written.add(c["thread_id"])
                yield self._item_start(context.threads[c["thread_id"]])
            post = self.post
            assert post is not None  # set by _item_start
            parent = post.number(c["parent_import_key"], c["parent_id"]) if c["parent_id"] else 0
            local_date = post.times.local(c["created_at"], post.offsets)
            number = post.number(c["import_key"], c["id"])
            yield (
                f"<wp:comment><wp:comment_id>{number}</wp:comment_id>"
                + "<wp:comment_author>" + cdata(c["author_name"]) + "</wp:comment_author>"
                + _tag("wp:comment_author_email", c["author_email"])
                + _tag("wp:comment_author_url", c["author_url"])
                + _tag("wp:comment_author_IP", c["remote_ip"])
                + _tag("wp:comment_date", wall_clock(local_date))
                + _tag("wp:comment_date_gmt", _wp_date(c["created_at"]))
                + "<wp:comment_content>" + cdata(c["body_html"]) + "</wp:comment_content>"
                + f"<wp:comment_approved>{WP_STATUS[c['status']]}</wp:comment_approved>"
                + f"<wp:comment_type>comment</wp:comment_type><wp:comment_parent>{parent}"
                + "</wp:comment_parent><wp:comment_user_id>0</wp:comment_user_id>"
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


def _slug(address: str) -> str:
    """A born-here thread's post_name: the last part of its page's path ('hello' for
    https://blog.example/2024/hello/), as WordPress's permalinks have it."""
    parts = split_url(address) if "://" in address else None
    path = parts.path if parts is not None else address
    return path.rstrip("/").rpartition("/")[2][:200]


def _meta_tags(c: Row) -> str:
    meta = {"hc_post_as": c["author_provider"], "hc_avatar": c["author_avatar"],
            "widget_key": comment_key(c["import_key"], c["id"]) or ""}  # fmt: skip
    return "".join(
        "<wp:commentmeta>" + _tag("wp:meta_key", key) + _tag("wp:meta_value", value)
        + "</wp:commentmeta>"
        for key, value in meta.items() if value
    )  # fmt: skip
