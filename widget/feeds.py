"""Atom feeds (RFC 4287) of the latest published comments: of one thread, or of a whole site.

Only what the thread shows everyone is in them: approved comments, their names, websites and
HTML. Never an email address or a network address. Entries link to `/c/ID`, which leads to the
comment on its page (and only to a page of the site's own origins).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from widget.records import PageRef, QueueItem, QueueQuery, Site
from widget.storage import Storage

if TYPE_CHECKING:
    from xml.etree import ElementTree

__all__ = ["FEED_ENTRIES", "Feed", "atom", "site_feed", "thread_feed"]

FEED_ENTRIES = 50
ATOM = "http://www.w3.org/2005/Atom"


@dataclasses.dataclass(frozen=True, slots=True)
class Feed:
    url: str  # the feed's own address, and its permanent id
    title: str
    page_url: str  # the HTML page the feed follows: the thread, or the site
    site: Site
    items: Sequence[QueueItem]  # newest first
    updated: datetime  # when anything in it last changed (or the thread began)


async def site_feed(storage: Storage, site: Site, public_url: str) -> Feed:
    """The latest comments published anywhere on the site."""
    items = await storage.list_queue(QueueQuery((site.id,), status="approved", limit=FEED_ENTRIES))
    return Feed(
        f"{public_url}/feeds/{site.id}/comments.atom", f"Comments on {site.name}",
        site.origins[0] if site.origins else "", site, items, _newest(items, site.created_at),
    )  # fmt: skip


async def thread_feed(storage: Storage, site: Site, page: PageRef, public_url: str) -> Feed:
    """The latest comments of one page's thread: empty, and valid, before the first."""
    head = await storage.get_thread_head(site.id, page.page_id)
    items = (
        await storage.list_queue(
            QueueQuery((site.id,), status="approved", thread_id=head.id, limit=FEED_ENTRIES)
        )
        if head is not None
        else []
    )
    title = (head.title if head else "") or page.title or page.page_id
    return Feed(
        f"{public_url}/feeds/{site.id}/thread.atom?page={quote(page.page_id, safe='/')}",
        f"Comments on “{title}”", head.url if head else "", site, items,
        _newest(items, site.created_at),
    )  # fmt: skip


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _add(parent: ElementTree.Element, tag: str, text: str = "", **attributes: str) -> None:
    from xml.etree.ElementTree import SubElement

    child = SubElement(parent, tag, attributes)
    child.text = text or None


def atom(feed: Feed, public_url: str) -> bytes:
    """The feed as an Atom document: every text escaped by the XML writer."""
    # Loaded with the first feed: half a megabyte that a server nobody follows need not hold.
    from xml.etree import ElementTree

    root = ElementTree.Element("feed", {"xmlns": ATOM})
    _add(root, "id", feed.url)
    _add(root, "title", feed.title)
    _add(root, "updated", _stamp(feed.updated))
    _add(root, "link", rel="self", type="application/atom+xml", href=feed.url)
    if feed.page_url:
        _add(root, "link", rel="alternate", type="text/html", href=feed.page_url)
    _add(root, "generator", "widget", uri=public_url)
    for item in feed.items:
        comment = item.comment
        entry = ElementTree.SubElement(root, "entry")
        link = f"{public_url}/c/{comment.id}"
        _add(entry, "id", link)
        _add(entry, "title", f"{comment.author_name} on “{item.title or item.page_id}”")
        author = ElementTree.SubElement(entry, "author")
        _add(author, "name", comment.author_name or "Anonymous")
        if comment.author_url:
            _add(author, "uri", comment.author_url)
        _add(entry, "published", _stamp(comment.created_at))
        _add(entry, "updated", _stamp(comment.edited_at or comment.created_at))
        _add(entry, "link", rel="alternate", type="text/html", href=link)
        _add(entry, "content", comment.body_html, type="html")
    body: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def _newest(items: Sequence[QueueItem], otherwise: datetime) -> datetime:
    """The feed's `updated`: its newest change, or `otherwise` for a feed with no entries."""
    return max((i.comment.edited_at or i.comment.created_at for i in items), default=otherwise)
