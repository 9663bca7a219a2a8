"""The records that storage, the domain and the views trade in.

Plain frozen dataclasses, so the domain and the templates never hold a database row. They
belong to no backend: storage reads and writes them, everything else only imports them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from widget.errors import Forbidden, RateLimited
from widget.messages import said

__all__ = [
    "POST_LIKE",
    "Admin",
    "AuthorHistory",
    "Ban",
    "Comment",
    "CommentStatus",
    "DatabaseGauges",
    "ExportBatch",
    "FeedPoll",
    "GuestLikeLimit",
    "ImportItem",
    "ImportTally",
    "ImportedComment",
    "ImportedLike",
    "ImportedThread",
    "NewComment",
    "NewJob",
    "OutboxJob",
    "PageRef",
    "PageWindow",
    "Passkey",
    "PostSubscription",
    "Profile",
    "QueueItem",
    "QueueQuery",
    "RateLimit",
    "SingleUse",
    "Site",
    "Subscription",
    "ThreadEvent",
    "ThreadEventKind",
    "ThreadHead",
    "ThreadPage",
    "User",
    "origin_json",
]

CommentStatus = Literal["approved", "pending", "spam", "deleted"]


# Likes of the post itself are stored with this comment id.
POST_LIKE = 0


@dataclasses.dataclass(frozen=True, slots=True)
class Site:
    id: str
    name: str
    origins: tuple[str, ...]
    settings: Mapping[str, Any]  # per-site overrides of the defaults in widget.sites
    revision: int  # bumped on every change; part of fragment ETags
    created_at: datetime

    @property
    def stamp(self) -> tuple[str, float, int]:
        """Changes whenever anything about the site does, also when it is removed and added
        again under the same id (its revision then starts over, its creation time does not)."""
        return (self.id, self.created_at.timestamp(), self.revision)


@dataclasses.dataclass(frozen=True, slots=True)
class ThreadHead:
    """What a thread's readers need without its comments: version, counts, title."""

    id: int
    site_id: str
    page_id: str
    url: str
    title: str
    version: int  # bumped by every change visible in the thread's HTML
    comment_count: int  # approved comments, replies included
    like_count: int  # likes of the post itself
    closed: bool = False  # no new comments
    root_count: int = 0  # top-level comments its pages show: what page numbers come from


@dataclasses.dataclass(frozen=True, slots=True)
class Comment:
    id: int
    thread_id: int
    parent_id: int | None
    root_id: int  # the top-level comment this one hangs under (itself when top-level)
    depth: int  # 1 for top-level comments
    status: CommentStatus
    author_name: str
    author_email: str
    author_url: str
    body_source: str
    body_html: str
    notify: bool
    remote_ip: str
    like_count: int
    created_at: datetime
    edited_at: datetime | None
    user_id: int | None = None  # the signed-in author; None for a guest
    author_avatar: str = ""  # the provider's picture of a signed-in author
    author_provider: str = ""  # the provider a signed-in author used
    pinned: bool = False
    held_because: str = ""  # why it waits for a moderator (or was taken for spam)
    notify_posts: bool = False  # the author asked to be told of the site's new posts
    lang: str = ""  # the frame's language it was written in ('' when not known)


@dataclasses.dataclass(frozen=True, slots=True)
class Ban:
    id: int
    site_id: str | None  # None: every site
    kind: Literal["user", "email", "network"]
    value: str
    note: str


@dataclasses.dataclass(frozen=True, slots=True)
class AuthorHistory:
    """What moderation asks the database about a new comment's author and text."""

    has_approved_comment: bool  # on this site, by this email (or signed-in user)
    recent_duplicate: bool  # the same text posted on this site lately


@dataclasses.dataclass(frozen=True, slots=True)
class Profile:
    """What a provider says about the person signing in. `email` is a verified address or ''."""

    provider: str
    subject: str
    name: str
    email: str = ""
    avatar_url: str = ""
    profile_url: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class User:
    """One identity at one provider. An email address never links two users."""

    id: int
    provider: str
    subject: str
    name: str
    email: str
    avatar_url: str
    profile_url: str


@dataclasses.dataclass(frozen=True, slots=True)
class Passkey:
    """A WebAuthn credential of a user's, to sign in with (widget/auth/passkeys.py)."""

    id: int
    user_id: int
    credential_id: str  # base64url, as browsers send it
    public_key: bytes  # COSE
    sign_count: int  # as the authenticator last said; 0 for those that keep no counter
    transports: tuple[str, ...]
    name: str
    created_at: datetime
    last_used_at: datetime | None


@dataclasses.dataclass(frozen=True, slots=True)
class Admin:
    """A person who moderates: of every site (`sites` None) or of the sites listed."""

    id: int
    email: str  # lower-cased; what they sign in with
    sites: tuple[str, ...] | None
    created_at: datetime

    def may_manage(self, site_id: str) -> bool:
        return self.sites is None or site_id in self.sites


@dataclasses.dataclass(frozen=True, slots=True)
class QueueQuery:
    """Which comments a moderator is looking at, newest first, `limit` at a time."""

    site_ids: tuple[str, ...]  # never empty: what the admin may see, narrowed by the filter
    status: CommentStatus | None = None  # None: every status
    text: str = ""  # in the body
    author: str = ""  # in the name, email, website or IP address
    page: str = ""  # in the page id, URL or title
    before_id: int | None = None  # keyset cursor: only comments with smaller ids
    thread_id: int | None = None  # one thread's comments only
    limit: int = 50


@dataclasses.dataclass(frozen=True, slots=True)
class QueueItem:
    """A comment as a moderator sees it, with the page it is on."""

    comment: Comment
    site_id: str
    page_id: str
    url: str
    title: str
    thread_closed: bool


@dataclasses.dataclass(frozen=True, slots=True)
class OutboxJob:
    """Work to do after a commit: tell people of a comment, send an email, call a webhook."""

    id: int
    kind: Literal["comment", "email", "webhook"]
    payload: Mapping[str, Any]
    attempts: int  # failed attempts so far
    created_at: datetime


# What is due after a commit, as (kind, payload).
NewJob = tuple[Literal["comment", "email", "webhook"], Mapping[str, Any]]


@dataclasses.dataclass(frozen=True, slots=True)
class Subscription:
    """An email address following a thread: every new comment, or replies to its own."""

    id: int
    thread_id: int
    email: str
    scope: Literal["thread", "replies"]
    confirmed: bool
    lang: str = ""  # the language its emails are written in ('' : English)


@dataclasses.dataclass(frozen=True, slots=True)
class PostSubscription:
    """An email address told of a site's new posts (the posts of its feed)."""

    id: int
    site_id: str
    email: str
    confirmed: bool


@dataclasses.dataclass(frozen=True, slots=True)
class FeedPoll:
    """A site's feed, taken by one poller for a while: where it is, and what the last answer
    said for a conditional GET. `feed_url` is the address those were learnt from ('' before the
    first poll): when the site's setting differs, the feed is new."""

    site_id: str
    feed_url: str
    etag: str
    last_modified: str
    polled_at: datetime | None  # the last poll that read this feed_url's entries

    @property
    def polled(self) -> bool:
        """Whether an earlier poll read the feed's entries (so new ones are new posts)."""
        return self.polled_at is not None


@dataclasses.dataclass(frozen=True, slots=True)
class PageRef:
    """A page of a site as the embed names it; threads are created for pages on first write."""

    site_id: str
    page_id: str
    url: str
    title: str  # as the embed sent it
    # The site has the server read titles from pages (its fetch_titles setting): `title` only
    # stands in for a new thread's until the page's own is read, and never replaces it.
    fetch_title: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class NewComment:
    page: PageRef
    parent_id: int | None  # already resolved by the domain's depth rule
    author_name: str
    author_email: str
    author_url: str
    body_source: str
    body_html: str
    notify: bool
    remote_ip: str
    created_at: datetime
    user_id: int | None = None
    author_avatar: str = ""
    author_provider: str = ""
    status: CommentStatus = "approved"
    held_because: str = ""
    fingerprint: str = ""  # of the normalized body, for duplicate checks
    notify_posts: bool = False
    form_token: SingleUse | None = None  # spent by this comment: it posts no other
    lang: str = ""  # the frame's language: its author's emails are written in it
    # Queue the job that tells people of it (moderators, subscribers, the site's webhook):
    # False when nobody could be told (no mail sent by this server, no webhook on the site).
    tell: bool = True


@dataclasses.dataclass(frozen=True, slots=True)
class SingleUse:
    """A token good for one write: its id is kept, with that write, until `expires_at`, when
    the token is no good anyway. `used` is the message when it comes again."""

    token_id: str
    expires_at: datetime
    used: str


@dataclasses.dataclass(frozen=True, slots=True)
class GuestLikeLimit:
    """At most `limit` guest likes of one comment (or post) count from one network, whatever
    voter ids it sends. `network` stands for it: a keyed digest, not its address."""

    network: str
    limit: int
    too_many: str

    def check(self, likes_from_network: int) -> None:
        """Raises Forbidden when the network's likes of this comment leave no room."""
        if likes_from_network >= self.limit:
            raise Forbidden(self.too_many)


@dataclasses.dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `limit` events per `period_s` seconds for `key` (smoothly, not per window)."""

    key: str
    limit: int
    period_s: float
    too_fast: str = said("error_posting_too_fast")  # the message, before "; try again in …"

    def take(self, due_at: float | None, now: float) -> float:
        """The generic cell rate algorithm, one event: given the key's stored due time (None
        for a new key), the due time to store; raises RateLimited when there is no room.
        Events are spread `period_s / limit` apart, with a burst of up to `limit`."""
        interval = self.period_s / self.limit
        due = max(due_at if due_at is not None else now, now)
        wait = due + interval - now - self.period_s
        if wait > 0:
            seconds = int(wait) + 1
            message = (
                said("error_try_again_in_a_second", what=self.too_fast)
                if seconds == 1  # not "1 seconds"
                else said("error_try_again_in", what=self.too_fast, seconds=seconds)
            )
            raise RateLimited(message, retry_after_s=wait)
        return due + interval


@dataclasses.dataclass(frozen=True, slots=True)
class PageWindow:
    """Which top-level comments a page shows: the `size` nearest ids after or before `cursor`,
    past the first `skip` of them.

    `after` with cursor 0 is the start of the thread; `before` with cursor None is its end.
    `skip` serves numbered pages (page 7 of the newest-first thread skips six pages from the
    end); it costs reading what is skipped, so the page a thread opens on skips nothing.
    """

    direction: Literal["after", "before"]
    cursor: int | None
    size: int
    skip: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class ThreadPage:
    roots: Sequence[Comment]  # ascending by id
    replies: Sequence[Comment]  # every reply under those roots (and the pinned), by id
    more_before: bool  # visible roots exist with smaller ids
    more_after: bool  # visible roots exist with larger ids
    pinned: Sequence[Comment] = ()  # on the default page only: pinned visible roots, by id


@dataclasses.dataclass(frozen=True, slots=True)
class ImportedComment:
    """A comment from another system (or from our own export), named by the key it had there.
    Its parent, if any, is named by key too and comes before it."""

    key: str
    parent_key: str | None
    page: PageRef
    author_name: str
    author_email: str
    author_url: str
    body_source: str
    body_html: str  # already sanitised
    status: CommentStatus
    created_at: datetime
    remote_ip: str = ""
    like_count: int = 0
    author_provider: str = ""
    author_avatar: str = ""
    user: Profile | None = None  # a signed-in author, as (provider, subject)
    edited_at: datetime | None = None
    pinned: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class ImportedThread:
    """A page from our own export: created as it was (even without comments), closed or not."""

    page: PageRef
    created_at: datetime
    closed: bool = False
    # Where it came from (a JSON object, widget/porting/origins.py); merged, key by key, into
    # what the thread already has, so a WordPress and a Disqus import can both leave theirs.
    origin: str = ""

    def merged_origin(self, stored: str) -> str:
        """The thread's origin once this one is merged into the `stored` one: each source's
        entry replaced whole."""
        return origin_json({**(json.loads(stored) if stored else {}), **json.loads(self.origin)})


def origin_json(origin: Mapping[str, Mapping[str, Any]]) -> str:
    """An imported thread's origin as the `threads.origin` column keeps it ('' for none)."""
    if not origin:
        return ""
    return json.dumps(origin, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


@dataclasses.dataclass(frozen=True, slots=True)
class ImportedLike:
    """A like from our own export: of a comment (by key) or of the page itself (None)."""

    page_id: str
    comment_key: str | None
    voter: str  # a browser's voter id; ignored when `user` is given
    created_at: datetime
    user: Profile | None = None  # a signed-in voter, as (provider, subject)


ImportItem = ImportedThread | ImportedComment | ImportedLike


@dataclasses.dataclass(slots=True)
class ImportTally:
    """What an import wrote: comments, likes and threads added; keys already there (skipped);
    keys whose parent was missing (attached at top level)."""

    imported: int = 0
    likes: int = 0
    threads_created: int = 0
    duplicates: list[str] = dataclasses.field(default_factory=list)
    orphans: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True, slots=True)
class DatabaseGauges:
    """How busy the database is, read at scrape time (/metrics)."""

    write_queue: int  # SQLite: writes waiting for the one writer (PostgreSQL: 0, it has none)
    connections_idle: int  # SQLite: readers; PostgreSQL: the pool's connections
    connections_busy: int
    connections_max: int


@dataclasses.dataclass(frozen=True, slots=True)
class ExportBatch:
    """Rows of one table of an export, as dicts (times as aware datetimes)."""

    table: str  # sites, site_origins, threads, users, comments, likes: in that order
    rows: list[dict[str, Any]]


# "title": the title read from the page replaced the one stored (frames show their host's).
ThreadEventKind = Literal["comment", "edit", "delete", "like", "title"]


@dataclasses.dataclass(frozen=True, slots=True)
class ThreadEvent:
    """A committed change that readers of a thread see: the live updates' unit."""

    site_id: str
    page_id: str
    kind: ThreadEventKind
    comment_id: int  # POST_LIKE for a like of the post itself
    version: int  # the thread's version after the change
    count: int  # likes after a like; the thread's comment count otherwise

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ThreadEvent:
        return cls(**json.loads(text))
