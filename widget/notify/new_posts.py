"""New posts of a site's blog, emailed to those who asked: the feed poller.

Every instance runs one (with mail configured). Each tick it takes, through the storage, the
sites whose feed (the `feed_url` site setting) is due and that no other poller holds: a lease
per feed, so instances sharing a database never poll one feed at once. A poll is a conditional
GET (If-None-Match, If-Modified-Since) through the guarded client (widget/outbound.py), at most
MAX_FEED_BYTES within FETCH_TIMEOUT_S; a redirect is followed (at most MAX_REDIRECTS), each hop
checked again. feedparser reads RSS 2.0, Atom and their elders.

An entry is known by its id (Atom's id, RSS's guid), else its link. The first poll of an address
records its entries and mails nobody: a new subscriber must not get the back catalogue. After
that, each entry not seen before is one email per confirmed subscriber, queued in the outbox in
the transaction that records the entry (so nothing is lost, retries are the outbox's, and two
polls that overlap mail a post once). Feeds are other people's text: the emails carry the
post's title and summary as plain text, and its link only when it is on the site's origins or
the feed's. A feed that fails (unreachable, 4xx or 5xx, too large, not a feed, a redirect where
we may not go) is logged and kept on its row, and tried again at the next interval: it never
stops the poller.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import io
import logging
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from widget.auth.tokens import Purpose, TokenSigner
from widget.config import Settings
from widget.errors import StorageUnavailable
from widget.logs import redact
from widget.outbound import Outbound, request_error
from widget.records import FeedPoll, NewJob, PostSubscription, Site
from widget.sites import settings_of
from widget.storage import Storage
from widget.urls import origin_of, split_url

from .mail import MailTemplates, header_text, plain_text
from .outbox import finish_or_cancel

if TYPE_CHECKING:
    import httpx

__all__ = ["FeedEntry", "FeedError", "FeedPoller", "parse_feed"]

log = logging.getLogger(__name__)

MAX_FEED_BYTES = 2 * 1024 * 1024  # WordPress's /feed/ of 10 full posts is some 100 KB
FETCH_TIMEOUT_S = 20.0  # the whole exchange, redirects included
MAX_REDIRECTS = 3
LEASE_S = 300.0  # longer than any poll takes; a poller that dies lets its feeds go
TICK_S = 60.0  # how often a poller looks for feeds due (never more often than feed_poll_s)
MAX_ENTRIES = 200  # read of one feed, newest first as feeds list them
# New entries mailed from one poll: more than this at once is a feed that changed its ids
# (or an import), not news; the rest are recorded without mail.
MAX_MAILED_PER_POLL = 5
MAX_SUMMARY_CHARS = 1000


class FeedError(Exception):
    """The feed could not be read now: why, for the log and the site's poll row."""


@dataclasses.dataclass(frozen=True, slots=True)
class FeedEntry:
    key: str  # a digest of the entry's id, guid or link: what is remembered of it
    title: str
    link: str  # '' when it has none we link to
    summary: str  # plain text


@dataclasses.dataclass(frozen=True, slots=True)
class _Answer:
    entries: list[FeedEntry] | None  # None: not modified since the validators
    etag: str
    last_modified: str


def _entry_key(identity: str) -> str:
    # A digest: ids are anyone's text of any length, and only equality matters.
    return hashlib.sha256(identity.encode("utf-8", "replace")).hexdigest()


def _text_of(value: Any, detail: Any) -> str:
    """A feed's title or summary as plain text: feedparser hands HTML (sanitised) for
    the html and xhtml types, and text for the others."""
    text = str(value or "")
    kind = str(detail.get("type", "")) if isinstance(detail, Mapping) else ""
    return plain_text(text) if "html" in kind else " ".join(text.split())


def _shortened(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    return text[:max_chars].rsplit(" ", 1)[0].rstrip() + "…"


def parse_feed(body: bytes, content_type: str = "") -> list[FeedEntry]:
    """The entries of an RSS or Atom document, newest first as the feed lists them; raises
    FeedError for what is not a feed. Links are kept as given (absolute, or made so)."""
    import feedparser  # lazily: only servers with a feed to read pay for it

    # A stream, never bytes: given a string, feedparser takes one that looks like a file name
    # or a URL for one, and would open it.
    parsed = feedparser.parse(
        io.BytesIO(body), response_headers={"content-type": content_type or "application/xml"}
    )
    if not parsed.get("version"):
        reason = parsed.get("bozo_exception")
        raise FeedError(
            "the answer is not an RSS or Atom feed" + (f" ({reason})" if reason else "")
        )
    entries = []
    for raw in parsed.entries[:MAX_ENTRIES]:
        identity = str(raw.get("id") or raw.get("link") or "").strip()
        if not identity:
            continue  # nothing to know it by next time
        summary = _text_of(raw.get("summary"), raw.get("summary_detail"))
        entries.append(
            FeedEntry(
                key=_entry_key(identity),
                title=_text_of(raw.get("title"), raw.get("title_detail")) or "(untitled)",
                link=str(raw.get("link") or "").strip(),
                summary=_shortened(summary, MAX_SUMMARY_CHARS),
            )
        )
    return entries


class FeedPoller:
    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        outbound: Outbound,
        signer: TokenSigner,
        templates: MailTemplates,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.outbound = outbound
        self.signer = signer
        self.templates = templates
        self._host = urlsplit(settings.public_url).hostname or "localhost"
        self.fetch_timeout_s = FETCH_TIMEOUT_S
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="feed-poller")

    async def stop(self) -> None:
        """Let the poll in hand finish (for a few seconds at most), then stop."""
        if self._task is None:
            return
        self._stopping.set()
        await finish_or_cancel(self._task)
        self._task = None
        self._stopping.clear()  # stopped now: a poll asked for by hand runs whole

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.poll_due()
            except StorageUnavailable:
                pass  # the storage has said why; the next tick tries again
            except Exception:
                log.exception("feed poller: unexpected error; carrying on")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(TICK_S, self.settings.feed_poll_s)):
                    await self._stopping.wait()

    async def poll_due(self, now: datetime | None = None) -> int:
        """Poll the feeds that are due and free; how many were polled."""
        polled = 0
        for site in await self.storage.list_sites():
            if self._stopping.is_set():
                break
            if not settings_of(site).feed_url:
                continue
            poll = await self.storage.claim_feed_poll(site.id, now or datetime.now(UTC), LEASE_S)
            if poll is None:
                continue
            polled += 1
            try:
                await self.poll(site, poll)
            except StorageUnavailable:
                raise
            except Exception:  # one site's surprise must not stop the others' polls
                log.exception("feed of site %s: unexpected error; trying again later", site.id)
                await self.storage.feed_poll_failed(
                    site.id, "unexpected error (see the server's log)", self._next_due()
                )
        return polled

    def _next_due(self) -> datetime:
        # Jitter, so that servers started together do not poll (and blogs are not hit) in step.
        spread = random.uniform(0.9, 1.1)  # noqa: S311 (not a secret)
        return datetime.now(UTC) + timedelta(seconds=self.settings.feed_poll_s * spread)

    async def poll(self, site: Site, poll: FeedPoll) -> int:
        """Read the site's feed (taken by this poller) and queue the emails of its new posts;
        how many posts were new. Failures are logged and recorded, never raised."""
        url = settings_of(site).feed_url
        same_feed = poll.feed_url == url
        validators = (poll.etag, poll.last_modified) if same_feed else ("", "")
        try:
            answer = await self._fetch(url, validators)
        except FeedError as exc:
            reason = redact(str(exc))
            log.warning("feed of site %s not read; trying again later: %s", site.id, reason)
            await self.storage.feed_poll_failed(site.id, reason, self._next_due())
            return 0
        now = datetime.now(UTC)
        if answer.entries is None:  # 304: nothing new
            await self.storage.record_feed_poll(site.id, url, validators, [], now, self._next_due())
            return 0
        first = not (poll.polled and same_feed)
        entries = await self._entries_with_mail(site, url, answer.entries, mail=not first)
        new = await self.storage.record_feed_poll(
            site.id, url, (answer.etag, answer.last_modified), entries, now, self._next_due()
        )
        if first:
            log.info("feed of site %s read for the first time: %d entries, none mailed",
                     site.id, new)  # fmt: skip
        elif new:
            log.info("feed of site %s: %d new posts", site.id, new)
        return 0 if first else new

    async def _fetch(self, url: str, validators: tuple[str, str]) -> _Answer:
        headers = {
            "User-Agent": "widget-feed (new posts by email)",
            "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9,"
            " text/xml;q=0.9, */*;q=0.1",
        }
        etag, last_modified = validators
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            async with self.outbound.client(
                self.fetch_timeout_s, allow_private_networks=True, max_answer_bytes=MAX_FEED_BYTES
            ) as http:
                response = await http.get(url, headers=headers)
                for _ in range(MAX_REDIRECTS):
                    if not response.has_redirect_location:
                        break
                    url = _redirect_target(url, response)
                    response = await http.get(url, headers=headers)
        except request_error() as exc:
            raise FeedError(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code == 304:
            return _Answer(None, etag, last_modified)
        if response.has_redirect_location:
            raise FeedError(f"more than {MAX_REDIRECTS} redirects")
        if response.status_code != 200:
            raise FeedError(f"the feed answered {response.status_code}")
        entries = await asyncio.to_thread(
            parse_feed, response.content, response.headers.get("content-type", "")
        )
        return _Answer(
            entries,
            _validator(response.headers.get("etag", "")),
            _validator(response.headers.get("last-modified", "")),
        )

    async def _entries_with_mail(
        self, site: Site, feed_url: str, entries: Sequence[FeedEntry], *, mail: bool
    ) -> list[tuple[str, list[NewJob]]]:
        """Each entry's key, with the emails it leads to when it is new (oldest first, so
        that mailboxes list them in the order they were published)."""
        seen = await self.storage.seen_feed_entries(site.id, [e.key for e in entries])
        fresh = [entry for entry in entries if entry.key not in seen]
        subscribers = (
            await self.storage.subscribers(PostSubscription, site.id) if mail and fresh else []
        )
        if len(fresh) > MAX_MAILED_PER_POLL and subscribers:
            log.warning("feed of site %s: %d new entries at once; mailing the newest %d",
                        site.id, len(fresh), MAX_MAILED_PER_POLL)  # fmt: skip
        mailed = {entry.key for entry in fresh[:MAX_MAILED_PER_POLL]}
        origins = {*site.origins, _origin(feed_url)}
        recorded: list[tuple[str, list[NewJob]]] = []
        for entry in reversed(fresh):
            jobs: list[NewJob] = []
            if entry.key in mailed:
                jobs = [self._mail(site, entry, s, origins) for s in subscribers]
            recorded.append((entry.key, jobs))
        return recorded

    def _mail(
        self, site: Site, entry: FeedEntry, subscription: PostSubscription, origins: set[str]
    ) -> NewJob:
        name = header_text(site.name or site.id, 80)
        unsubscribe = (
            self.settings.public_url
            + "/notify/posts/unsubscribe?token="
            + self.signer.sign(Purpose.POSTS_UNSUBSCRIBE, {"p": subscription.id})
        )
        link = entry.link if _origin(entry.link) in origins else ""
        values = {
            "title": header_text(entry.title, 200),
            "site": name,
            "post_title": header_text(entry.title, 200),
            "summary": entry.summary,
            "post_link": link,
            "unsubscribe_link": unsubscribe,
        }
        headers = {
            # RFC 8058: one click in the mail client unsubscribes, by a POST to this URL.
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            # RFC 2919: new posts are a list of their own, beside the site's comments.
            "List-Id": f"{name} new posts <posts.{site.id}.{self._host}>",
        }
        mail = self.templates.mail(
            "new_post", subscription.email, f"New on {name}: {values['title']}", values,
            headers, name,
        )  # fmt: skip
        return ("email", mail.to_payload())


def _validator(value: str) -> str:
    """An ETag or Last-Modified to send back; '' for one we could not send as it came (a
    request's headers are ASCII, and a cut one would never match)."""
    flat = header_text(value, 1000)
    return flat if flat.isascii() and flat == value.strip() and len(flat) <= 200 else ""


def _redirect_target(url: str, response: httpx.Response) -> str:
    target = urljoin(url, str(response.headers.get("location", "")))
    parts = split_url(target)
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise FeedError(f"the feed redirects to {target!r}, which is not an http(s) address")
    return target


def _origin(url: str) -> str:
    parts = split_url(url)
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        return ""
    return origin_of(parts)
