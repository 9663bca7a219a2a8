"""What the queries share: the columns read into records and how rows become records, what a
dump carries, and the types of the event sink.

SQL stays inside widget/storage; the records themselves live in widget.records.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, Protocol

from widget.records import (
    Admin,
    Comment,
    ImportTally,
    QueueItem,
    Subscription,
    ThreadEvent,
    ThreadHead,
    User,
)

__all__ = [
    "COPY_COLUMNS",
    "COPY_KEYS",
    "READINESS_KEY",
    "DryRun",
    "EventSink",
    "MissedEvents",
    "Outcome",
    "Refused",
    "RowBatch",
]

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

    def __getitem__(self, key: str | int, /) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...  # the values, in the query's order

    def keys(self) -> Iterable[str]: ...


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
    "passkeys": ("id", "user_id", "credential_id", "public_key", "sign_count", "transports",
                 "name", "created_at", "last_used_at"),
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
    "passkeys": ("id",),
}


@dataclasses.dataclass(frozen=True, slots=True)
class RowBatch:
    table: str  # a key of COPY_COLUMNS
    rows: list[tuple[Any, ...]]  # values in COPY_COLUMNS[table] order


# -- moving in and out: imports and exports ---------------------------------------------------


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


def export_row(row: Row, when: Callable[[Any], datetime]) -> dict[str, Any]:
    """A row of an export query as plain values: aware datetimes, booleans, parsed JSON."""
    out = dict(zip(row.keys(), row, strict=True))  # a row iterates over its values
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


EventSink = Callable[[ThreadEvent], None]
# Called when changes may have gone by unheard (the listening connection was down): whoever
# shows them must reload instead of trusting what it has.
MissedEvents = Callable[[], None]

# The row that readiness checks write: rate_limits keys start with their purpose ("post:",
# "like:", "admin-login:", ...), so no client has this one; due at the moment of the check,
# it limits nobody and the next prune drops it.
READINESS_KEY = "widget:readiness"


@dataclasses.dataclass(frozen=True, slots=True)
class DatabaseGauges:
    """How busy the database is, read at scrape time (/metrics)."""

    write_queue: int  # SQLite: writes waiting for the one writer (PostgreSQL: 0, it has none)
    connections_idle: int  # SQLite: readers; PostgreSQL: the pool's connections
    connections_busy: int
    connections_max: int


class Outcome(enum.Enum):
    """Why storage did not do what it was asked: the domain words it for people."""

    SITE_EXISTS = "site exists"  # subject: the site id
    NO_SITE = "no site"  # subject: the site id
    NO_THREAD = "no thread"
    THREAD_CLOSED = "thread closed"
    PARENT_ELSEWHERE = "parent not in this thread"  # or not there at all
    PARENT_REMOVED = "parent removed"  # not approved (held, spam or deleted)
    NO_COMMENT = "no comment"
    COMMENT_GONE = "comment gone"  # not there, or (for an author's change) not approved
    NOT_LIKEABLE = "not likeable"  # not on the page named, or not approved
    NOT_TOP_LEVEL = "not top level"
    ADMIN_EXISTS = "admin exists"  # subject: the email address
    NOT_EMPTY = "database not empty"  # a restore needs an empty database
    NO_PASSKEY = "no passkey"
    PASSKEY_EXISTS = "passkey exists"  # its credential id is kept already
    PASSKEY_COUNTER_BEHIND = "passkey counter behind"  # a copied credential signed


class Refused(Exception):
    """Storage refused a write or found nothing to read, for `outcome`; nothing was changed."""

    def __init__(self, outcome: Outcome, subject: str = "", *, again: bool = False) -> None:
        super().__init__(f"{outcome.value}: {subject}" if subject else outcome.value)
        self.outcome = outcome
        self.subject = subject
        self.again = again  # for COMMENT_GONE: the comment was removed already
