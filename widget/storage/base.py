"""The Storage protocol and the records it trades in.

Every backend implements `Storage`; SQL stays inside the backend. Records are plain frozen
dataclasses so the domain and the templates never hold a database row.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol

from widget.errors import Forbidden, RateLimited

__all__ = [
    "COPY_COLUMNS",
    "COPY_KEYS",
    "POST_LIKE",
    "READINESS_KEY",
    "Admin",
    "AuthorHistory",
    "Ban",
    "Comment",
    "CommentStatus",
    "EventSink",
    "GuestLikeLimit",
    "MissedEvents",
    "NewComment",
    "NewJob",
    "OutboxJob",
    "PageRef",
    "PageWindow",
    "Profile",
    "QueueItem",
    "QueueQuery",
    "RateLimit",
    "RowBatch",
    "SingleUse",
    "Site",
    "Storage",
    "Subscription",
    "ThreadEvent",
    "ThreadEventKind",
    "ThreadHead",
    "ThreadPage",
    "User",
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


@dataclasses.dataclass(frozen=True, slots=True)
class PageRef:
    """A page of a site as the embed names it; threads are created for pages on first write."""

    site_id: str
    page_id: str
    url: str
    title: str


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
    form_token: SingleUse | None = None  # spent by this comment: it posts no other


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
    too_fast: str = "You are posting too fast"  # the message, before "; try again in …"

    def take(self, due_at: float | None, now: float) -> float:
        """The generic cell rate algorithm, one event: given the key's stored due time (None
        for a new key), the due time to store; raises RateLimited when there is no room.
        Events are spread `period_s / limit` apart, with a burst of up to `limit`."""
        interval = self.period_s / self.limit
        due = max(due_at if due_at is not None else now, now)
        wait = due + interval - now - self.period_s
        if wait > 0:
            raise RateLimited(
                f"{self.too_fast}; try again in {int(wait) + 1} seconds.",
                retry_after_s=wait,
            )
        return due + interval


@dataclasses.dataclass(frozen=True, slots=True)
class PageWindow:
    """Which top-level comments a page shows: the `size` nearest ids after or before `cursor`.

    `after` with cursor 0 is the start of the thread; `before` with cursor None is its end.
    """

    direction: Literal["after", "before"]
    cursor: int | None
    size: int


@dataclasses.dataclass(frozen=True, slots=True)
class ThreadPage:
    roots: Sequence[Comment]  # ascending by id
    replies: Sequence[Comment]  # every reply under those roots (and the pinned), by id
    more_before: bool  # visible roots exist with smaller ids
    more_after: bool  # visible roots exist with larger ids
    pinned: Sequence[Comment] = ()  # on the default page only: pinned visible roots, by id


# The columns every backend reads into a Comment or a ThreadHead.
COMMENT_COLUMNS = (
    "id, thread_id, parent_id, root_id, depth, status, author_name, author_email, author_url,"
    " body_source, body_html, notify, remote_ip, like_count, created_at, edited_at, user_id,"
    " author_avatar, author_provider, pinned, held_because"
)
USER_COLUMNS = "id, provider, subject, name, email, avatar_url, profile_url"
HEAD_COLUMNS = "id, site_id, page_id, url, title, version, comment_count, like_count, closed"
ADMIN_COLUMNS = "id, email, sites, created_at"
SUBSCRIPTION_COLUMNS = "id, thread_id, email, scope, confirmed_at"
JOB_COLUMNS = "id, kind, payload, attempts, created_at"
# What the moderation queue's search fields look in (c: the comment, t: its thread).
QUEUE_SEARCH = {
    "text": ("c.body_source",),
    "author": ("c.author_name", "c.author_email", "c.author_url", "c.remote_ip"),
    "page": ("t.page_id", "t.url", "t.title"),
}
# The same SQL on both backends: which comments a thread page reads. A root shows when approved,
# or when an approved reply hangs under it (it is then a placeholder that keeps the replies in
# place). A reply is read when approved or when it has replies of its own (it may be such a
# placeholder); placeholders with nothing visible under them are dropped when the tree is built.
VISIBLE_ROOT = (
    "(status = 'approved' OR EXISTS (SELECT 1 FROM comments r WHERE r.root_id = comments.id"
    " AND r.status = 'approved'))"
)
SHOWN_REPLY = (
    "(status = 'approved' OR EXISTS (SELECT 1 FROM comments r WHERE r.parent_id = comments.id))"
)


class Row(Protocol):
    """A database row read by column name (sqlite3.Row, asyncpg.Record)."""

    def __getitem__(self, column: str, /) -> Any: ...


def comment_from_row(row: Row, when: Callable[[Any], datetime]) -> Comment:
    """A Comment from a row of COMMENT_COLUMNS; `when` turns the backend's times into datetimes."""
    return Comment(
        id=row["id"],
        thread_id=row["thread_id"],
        parent_id=row["parent_id"],
        root_id=row["root_id"] or row["id"],
        depth=row["depth"],
        status=row["status"],
        author_name=row["author_name"],
        author_email=row["author_email"],
        author_url=row["author_url"],
        body_source=row["body_source"],
        body_html=row["body_html"],
        notify=bool(row["notify"]),
        remote_ip=row["remote_ip"],
        like_count=row["like_count"],
        created_at=when(row["created_at"]),
        edited_at=when(row["edited_at"]) if row["edited_at"] is not None else None,
        user_id=row["user_id"],
        author_avatar=row["author_avatar"],
        author_provider=row["author_provider"],
        pinned=bool(row["pinned"]),
        held_because=row["held_because"],
    )


# A comment with its thread's place, as the moderation queue and a commenter's export list them.
QUEUE_SELECT = (
    "SELECT " + ", ".join("c." + c for c in COMMENT_COLUMNS.split(", "))
    + ", t.site_id, t.page_id, t.url, t.title, t.closed AS t_closed"
    " FROM comments c JOIN threads t ON t.id = c.thread_id"
)  # fmt: skip


def queue_item_from_row(row: Row, when: Callable[[Any], datetime]) -> QueueItem:
    return QueueItem(comment_from_row(row, when), row["site_id"], row["page_id"], row["url"],
                     row["title"], bool(row["t_closed"]))  # fmt: skip


def admin_from_row(row: Row, when: Callable[[Any], datetime]) -> Admin:
    sites = row["sites"]
    return Admin(
        id=row["id"],
        email=row["email"],
        sites=tuple(json.loads(sites)) if sites is not None else None,
        created_at=when(row["created_at"]),
    )


def subscription_from_row(row: Row) -> Subscription:
    return Subscription(
        id=row["id"],
        thread_id=row["thread_id"],
        email=row["email"],
        scope=row["scope"],
        confirmed=row["confirmed_at"] is not None,
    )


# What erasing leaves of a comment: its place in the thread, nothing about its author.
ERASED = (
    "status = 'deleted', author_name = '', author_email = '', author_url = '',"
    " author_avatar = '', author_provider = '', body_source = '', body_html = '',"
    " remote_ip = '', held_because = '', fingerprint = '', user_id = NULL"
)
NOT_ERASED = "NOT (c.status = 'deleted' AND c.body_source = '' AND c.author_name = '')"


def first_publication(old: str, new: str) -> bool:
    """Whether a status change publishes a comment nobody was told of yet (a restored one was)."""
    return new == "approved" and old in ("pending", "spam")


def status_change(old: str, new: str) -> int:
    """How a thread's comment count moves when a comment goes from `old` to `new` status."""
    return (new == "approved") - (old == "approved")


def like_pattern(text: str) -> str:
    """`%text%` for LIKE ... ESCAPE '\\', with the text's own wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def user_from_row(row: Row) -> User:
    return User(
        id=row["id"],
        provider=row["provider"],
        subject=row["subject"],
        name=row["name"],
        email=row["email"],
        avatar_url=row["avatar_url"],
        profile_url=row["profile_url"],
    )


def head_from_row(row: Row) -> ThreadHead:
    return ThreadHead(
        id=row["id"],
        site_id=row["site_id"],
        page_id=row["page_id"],
        url=row["url"],
        title=row["title"],
        version=row["version"],
        comment_count=row["comment_count"],
        like_count=row["like_count"],
        closed=bool(row["closed"]),
    )


# What `dump` and `restore` carry, table by table in this order (parents before children), with
# plain Python values: str, int, bool, None, datetime (UTC) and, for sites.settings, a dict.
COPY_COLUMNS: dict[str, tuple[str, ...]] = {
    "sites": ("id", "name", "settings", "revision", "created_at"),
    "site_origins": ("site_id", "origin"),
    "users": ("id", "provider", "subject", "name", "email", "avatar_url", "profile_url",
              "created_at", "updated_at"),
    "threads": ("id", "site_id", "page_id", "url", "title", "version", "comment_count",
                "like_count", "created_at", "closed", "origin"),
    "comments": ("id", "thread_id", "parent_id", "root_id", "depth", "status", "author_name",
                 "author_email", "author_url", "body_source", "body_html", "notify",
                 "remote_ip", "like_count", "created_at", "edited_at", "user_id",
                 "author_avatar", "author_provider", "pinned", "held_because", "fingerprint",
                 "import_key"),
    "likes": ("thread_id", "voter", "comment_id", "created_at", "network"),
    "sessions": ("token_hash", "user_id", "created_at", "expires_at"),
    "bans": ("id", "site_id", "kind", "value", "note", "created_at"),
    "admins": ("id", "email", "password_hash", "sites", "created_at"),
    "subscriptions": ("id", "thread_id", "email", "scope", "created_at", "confirmed_at"),
    "outbox": ("id", "kind", "payload", "attempts", "due_at", "locked_until", "last_error",
               "created_at", "failed_at"),
}  # fmt: skip
# Each table's key, in which order its rows are copied (comments by id: parents first).
COPY_KEYS: dict[str, tuple[str, ...]] = {
    "sites": ("id",),
    "site_origins": ("site_id", "origin"),
    "users": ("id",),
    "sessions": ("token_hash",),
    "bans": ("id",),
    "admins": ("id",),
    "threads": ("id",),
    "comments": ("id",),
    "likes": ("thread_id", "voter", "comment_id"),
    "subscriptions": ("id",),
    "outbox": ("id",),
}


@dataclasses.dataclass(frozen=True, slots=True)
class RowBatch:
    table: str  # a key of COPY_COLUMNS
    rows: list[tuple[Any, ...]]  # values in COPY_COLUMNS[table] order


# -- moving in and out: imports and exports ---------------------------------------------------


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


class DryRun(Exception):
    """Raised inside an import's transaction to roll it back and still report what it did."""

    def __init__(self, tally: ImportTally) -> None:
        super().__init__("dry run")
        self.tally = tally


EXPORT_COMMENT_COLUMNS = (
    "c.id, c.thread_id, c.parent_id, c.status, c.author_name, c.author_email, c.author_url,"
    " c.body_source, c.body_html, c.remote_ip, c.like_count, c.created_at, c.edited_at,"
    " c.user_id, c.author_avatar, c.author_provider, c.pinned, c.import_key,"
    " p.import_key AS parent_import_key"
)


def export_queries(site_count: int, by_page: bool, mark: Callable[[int], str]) -> dict[str, str]:
    """The queries an export reads, table by table, for some sites (and maybe one page);
    `mark(n)` is the backend's n-th (1-based) parameter placeholder."""
    sites = ", ".join(mark(n) for n in range(1, site_count + 1))
    scope = f"t.site_id IN ({sites})" + (
        f" AND t.page_id = {mark(site_count + 1)}" if by_page else ""
    )
    in_scope = f"JOIN threads t ON t.id = c.thread_id WHERE {scope}"
    return {
        "sites": "SELECT id, name, settings, created_at FROM sites"
        f" WHERE id IN ({sites}) ORDER BY id",
        "site_origins": f"SELECT site_id, origin FROM site_origins WHERE site_id IN ({sites})"
        " ORDER BY site_id, origin",
        "threads": "SELECT t.id, t.site_id, t.page_id, t.url, t.title, t.closed, t.like_count,"
        f" t.created_at, t.origin FROM threads t WHERE {scope} ORDER BY t.id",
        # Users who wrote a comment, or liked something, in scope (a like's voter is
        # "user:ID" for a signed-in reader).
        "users": "SELECT id, provider, subject, name, email, avatar_url, profile_url, created_at"
        " FROM users WHERE id IN (SELECT people.user_id FROM threads t JOIN ("
        "SELECT thread_id, user_id FROM comments WHERE user_id IS NOT NULL UNION ALL"
        " SELECT thread_id, CAST(substr(voter, 6) AS BIGINT) FROM likes"
        f" WHERE voter LIKE 'user:%') AS people ON people.thread_id = t.id WHERE {scope})"
        " ORDER BY id",
        "comments": f"SELECT {EXPORT_COMMENT_COLUMNS} FROM comments c"
        f" LEFT JOIN comments p ON p.id = c.parent_id {in_scope} ORDER BY c.thread_id, c.id",
        "likes": "SELECT l.thread_id, l.voter, l.comment_id, l.created_at, c.import_key"
        " FROM likes l JOIN threads t ON t.id = l.thread_id"
        f" LEFT JOIN comments c ON c.id = l.comment_id WHERE {scope}"
        " ORDER BY l.thread_id, l.comment_id, l.voter",
    }  # fmt: skip


def export_row(row: Mapping[str, Any], when: Callable[[Any], datetime]) -> dict[str, Any]:
    """A row of an export query as plain values: aware datetimes, booleans, parsed JSON."""
    out = dict(row)
    for key in ("created_at", "edited_at"):
        if out.get(key) is not None:
            out[key] = when(out[key])
    for key in ("closed", "pinned"):
        if key in out:
            out[key] = bool(out[key])
    if isinstance(out.get("settings"), str):
        out["settings"] = json.loads(out["settings"])
    return out


def merged_origin(old: str, new: str) -> str:
    """A thread's origin after an import brought `new`: each source's entry replaced whole."""
    merged = {**(json.loads(old) if old else {}), **json.loads(new)}
    return json.dumps(merged, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


@dataclasses.dataclass(frozen=True, slots=True)
class ExportBatch:
    """Rows of one table of an export, as dicts (times as aware datetimes)."""

    table: str  # sites, site_origins, threads, users, comments, likes: in that order
    rows: list[dict[str, Any]]


ThreadEventKind = Literal["comment", "edit", "delete", "like"]


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


EventSink = Callable[[ThreadEvent], None]
# Called when changes may have gone by unheard (the listening connection was down): whoever
# shows them must reload instead of trusting what it has.
MissedEvents = Callable[[], None]

# The row that readiness checks write: rate_limits keys start with their purpose ("post:",
# "like:", "admin-login:", ...), so no client has this one; due at the moment of the check,
# it limits nobody and the next prune drops it.
READINESS_KEY = "widget:readiness"


class Storage(Protocol):
    """What the domain needs from a database. Writes are durable when the call returns.

    Every committed change to a thread is also handed, once committed, to the event sink set
    with `on_event`; with a database shared by several instances, every instance's sink hears
    every instance's changes, and `missed` is called whenever some may have gone unheard.

    A database that cannot be reached, is locked, full, read-only or gone raises
    StorageUnavailable from any method (never acknowledging a write it could not keep);
    `open` raises SetupError, naming the database and what to do, when it cannot be used.
    """

    def on_event(self, sink: EventSink, missed: MissedEvents | None = None) -> None: ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def check_ready(self) -> None:
        """Read, and write one row (READINESS_KEY in rate_limits): raises StorageUnavailable
        unless both work right now."""

    # Sites
    async def add_site(
        self, site_id: str, name: str, origins: Sequence[str], settings: Mapping[str, Any]
    ) -> Site: ...

    async def get_site(self, site_id: str) -> Site | None: ...

    async def list_sites(self) -> list[Site]: ...

    async def update_site(
        self,
        site_id: str,
        *,
        name: str | None = None,
        origins: Sequence[str] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> Site: ...

    async def remove_site(self, site_id: str) -> bool: ...

    # Threads
    async def get_thread_head(self, site_id: str, page_id: str) -> ThreadHead | None: ...

    async def get_thread_heads(
        self, site_id: str, page_ids: Sequence[str]
    ) -> dict[str, ThreadHead]: ...

    async def get_thread(self, thread_id: int) -> ThreadHead | None: ...

    async def get_thread_page(
        self, thread_id: int, window: PageWindow
    ) -> tuple[ThreadHead, ThreadPage]: ...

    # Comments
    async def get_comment(self, comment_id: int) -> Comment | None: ...

    async def add_comment(
        self, new: NewComment, rate_limit: RateLimit | Sequence[RateLimit] | None
    ) -> tuple[Comment, ThreadHead]:
        """Store a comment with the status moderation gave it. Only an approved one changes the
        thread (its count, version and title) and is told to readers. Raises Forbidden when
        the thread is closed, RateLimited when any of the limits has no room, Conflict when
        its `form_token` has posted a comment before (and records it when not)."""
        ...

    async def author_history(
        self, site_id: str, email: str, user_id: int | None, fingerprint: str, since: datetime
    ) -> AuthorHistory: ...

    async def list_bans(self, site_id: str) -> list[Ban]:
        """The bans that apply on a site: its own and those for every site."""
        ...

    async def add_ban(
        self, site_id: str | None, kind: str, value: str, note: str, at: datetime
    ) -> Ban: ...

    async def get_user_comments(self, thread_id: int, user_id: int) -> list[Comment]:
        """A signed-in user's comments in one thread: published or held, not deleted."""
        ...

    async def edit_comment(
        self,
        comment_id: int,
        *,
        body_source: str,
        body_html: str,
        author_name: str,
        author_url: str,
        edited_at: datetime,
    ) -> tuple[Comment, ThreadHead]: ...

    async def delete_comment(self, comment_id: int) -> ThreadHead: ...

    # Likes
    async def set_like(
        self,
        page: PageRef,
        comment_id: int,
        voter: str,
        liked: bool,
        rate_limit: RateLimit | None,
        at: datetime,
        guest_limit: GuestLikeLimit | None = None,
    ) -> tuple[int, ThreadHead]:
        """Like (or take back the like of) a comment, or the post when `comment_id` is POST_LIKE.

        Idempotent: liking twice counts once. Liking the post of a page without comments
        creates its thread. Returns the like count and the thread's head. A guest's like
        comes with a `guest_limit`: it is stored with the network, and refused (Forbidden)
        when that network's likes of the comment leave no room.
        """
        ...

    async def get_voter_likes(self, thread_id: int, voter: str) -> set[int]: ...

    # Users and their sessions
    async def upsert_user(self, profile: Profile, at: datetime) -> User:
        """The user for (provider, subject), created or brought up to date from `profile`."""
        ...

    async def get_user(self, user_id: int) -> User | None: ...

    async def add_login_code(
        self, code_hash: str, challenge: str, user_id: int, expires_at: datetime
    ) -> None: ...

    async def take_login_code(
        self, code_hash: str | None, challenge: str, now: datetime
    ) -> int | None:
        """Use a login code once: the user id of the unexpired code with this challenge (and
        this hash, when given), which is deleted; None when there is none."""
        ...

    async def add_sign_in_failure(self, challenge: str, message: str, expires_at: datetime) -> None:
        """Record why the sign-in of `challenge` failed (replacing an earlier reason)."""
        ...

    async def take_sign_in_failure(self, challenge: str, now: datetime) -> str | None:
        """The unexpired failure of `challenge`, once (it is deleted); None when there is none."""
        ...

    async def add_session(self, token_hash: str, user_id: int, expires_at: datetime) -> None: ...

    async def get_session_user(self, token_hash: str, now: datetime) -> User | None: ...

    async def delete_session(self, token_hash: str) -> None: ...

    async def get_provider_app(self, provider: str, instance: str) -> tuple[str, str] | None:
        """(client id, client secret) registered with a provider's instance (Mastodon)."""
        ...

    async def add_provider_app(
        self, provider: str, instance: str, client_id: str, client_secret: str
    ) -> tuple[str, str]:
        """Keep an app registration; when one exists already (another instance was quicker),
        that one is kept and returned."""
        ...

    # Moderation
    async def list_queue(self, query: QueueQuery) -> list[QueueItem]: ...

    async def count_by_status(self, site_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Comments per site and status (statuses without comments left out)."""
        ...

    async def set_status(
        self, comment_ids: Sequence[int], status: CommentStatus, site_ids: Sequence[str]
    ) -> list[Comment]:
        """Move comments (of these sites only) to `status`, keeping thread counts and versions
        true and telling readers; the comments that changed, as they are now."""
        ...

    async def moderate_edit(
        self,
        comment_id: int,
        body_source: str,
        body_html: str,
        author_name: str,
        author_url: str,
        at: datetime,
    ) -> Comment:
        """A moderator's edit, of a comment in any status."""
        ...  # fmt: skip

    async def set_pinned(self, comment_id: int, pinned: bool) -> Comment:
        """Pin a top-level comment to the top of its thread's first page (or unpin it)."""
        ...

    async def set_closed(self, thread_id: int, closed: bool) -> ThreadHead: ...

    async def remove_ban(self, ban_id: int, site_ids: Sequence[str] | None) -> bool:
        """Lift a ban of one of `site_ids` (None: any ban, those of every site included)."""
        ...

    # Admin accounts and their sessions
    async def add_admin(
        self, email: str, password_hash: str, sites: Sequence[str] | None, at: datetime
    ) -> Admin:
        """Raises Conflict when an admin has this email address."""
        ...

    async def update_admin(
        self, email: str, *, password_hash: str | None = None,
        sites: Sequence[str] | Literal["keep"] | None = "keep",
    ) -> Admin | None: ...  # fmt: skip

    async def remove_admin(self, email: str) -> bool: ...

    async def list_admins(self) -> list[Admin]: ...

    async def get_admin_login(self, email: str) -> tuple[Admin, str] | None:
        """The admin with this email and their password hash."""
        ...

    async def add_admin_session(
        self, token_hash: str, admin_id: int, expires_at: datetime
    ) -> None: ...

    async def get_session_admin(self, token_hash: str, now: datetime) -> Admin | None: ...

    async def delete_admin_session(self, token_hash: str) -> None: ...

    async def take_rate_limits(self, limits: Sequence[RateLimit], at: datetime) -> None:
        """Count one event against each limit; raises RateLimited (counting none) when any
        has no room."""
        ...

    # The outbox. A new comment (unless spam) and a comment approved for the first time each
    # add a "comment" job in the same transaction, so nobody is told of what was not stored,
    # and nothing stored goes untold.
    async def add_jobs(self, jobs: Sequence[NewJob], at: datetime) -> None: ...

    async def claim_jobs(self, now: datetime, lease_s: float, limit: int) -> list[OutboxJob]:
        """Due jobs, each taken for `lease_s` seconds (a worker that dies lets them go)."""
        ...

    async def finish_job(self, job_id: int, follow_ups: Sequence[NewJob], at: datetime) -> None:
        """Drop a done job and queue what it led to, in one transaction."""
        ...

    async def retry_job(self, job_id: int, due_at: datetime | None, error: str) -> None:
        """Try again at `due_at`; None gives up (the job is kept, marked failed)."""
        ...

    async def outbox_counts(self) -> dict[str, int]:
        """Jobs waiting ("queued") and given up ("failed")."""
        ...

    # Follow-up subscriptions
    async def subscribe(self, thread_id: int, email: str, at: datetime) -> Subscription:
        """The address's subscription to the thread, created unconfirmed if it has none."""
        ...

    async def get_subscription(self, subscription_id: int) -> Subscription | None: ...

    async def confirm_subscription(
        self, subscription_id: int, scope: Literal["thread", "replies"], at: datetime
    ) -> Subscription | None: ...

    async def unsubscribe(self, subscription_id: int) -> bool: ...

    async def thread_subscriptions(self, thread_id: int) -> list[Subscription]:
        """The confirmed subscriptions of a thread."""
        ...

    # A commenter's own data
    async def author_comments(self, email: str | None, user_id: int | None) -> list[QueueItem]:
        """Every comment written by a signed-in user (`user_id`) or under an email address,
        oldest first, except those already erased."""
        ...

    async def erase_author(self, email: str | None, user_id: int | None) -> int:
        """Erase what a person wrote: each comment keeps only its place in its thread (a
        removed placeholder), their subscriptions end, and a user's account is deleted.
        Returns how many comments were erased."""
        ...

    # Moving in and out
    async def import_comments(
        self,
        site_id: str,
        items: AsyncIterable[ImportItem],
        *,
        dry_run: bool = False,
    ) -> ImportTally:
        """Add comments (parents before replies) and likes to a site in ONE transaction: all
        or nothing. A key already in its thread is skipped; a reply whose parent is in neither
        the database nor the items goes to the top level. Nobody is notified."""
        ...

    def export(self, site_ids: Sequence[str], page_id: str | None) -> AsyncIterator[ExportBatch]:
        """Everything of some sites (or of one page of one site), from one snapshot, table by
        table (ExportBatch.table), in batches: memory stays flat whatever the size."""
        ...

    # Copying a whole database (from SQLite to PostgreSQL, say)
    def dump(self) -> AsyncIterator[RowBatch]:
        """Every row worth keeping, from one consistent snapshot, in batches."""
        ...

    async def restore(self, batches: AsyncIterable[RowBatch]) -> dict[str, int]:
        """Load a dump into this (empty) database in one transaction, keeping every id.
        Raises Conflict when the database already holds sites. Returns rows per table."""
        ...
