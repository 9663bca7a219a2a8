"""What the queries share: the columns read into records and how rows become records, what a
dump carries, and the types of the event sink.

SQL stays inside widget/storage; the records themselves live in widget.records.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol, TypeVar

from widget.records import ThreadEvent

__all__ = [
    "COPY_COLUMNS",
    "LARGEST_IDS",
    "READINESS_KEY",
    "EventSink",
    "MissedEvents",
    "Outcome",
    "Refused",
    "RowBatch",
]


class Row(Protocol):
    """A database row read by column name (sqlite3.Row, asyncpg.Record)."""

    def __getitem__(self, key: str | int, /) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...  # the values, in the query's order

    def keys(self) -> Iterable[str]: ...


# -- rows into records: a record's fields are named as the columns it is read from -------------

R = TypeVar("R")

# Fields read through an expression rather than a column of their name ({t}: the table's alias).
# Never on a WITHOUT ROWID table: SQLite 3.40 answers 1 for `x IS NOT NULL` in the RETURNING of
# an upsert into one, x being NULL (FeedPoll reads polled_at itself for that reason).
_EXPRESSIONS = {
    "root_id": "coalesce({t}root_id, {t}id)",  # NULL in the table: a top-level comment
    "confirmed": "{t}confirmed_at IS NOT NULL",
}


@functools.cache
def columns(record_type: type, table: str = "") -> str:
    """The SELECT list that reads a record of `record_type` (its columns in `table`, an alias,
    when given)."""
    t = f"{table}." if table else ""
    return ", ".join(
        f"{_EXPRESSIONS[name].format(t=t)} AS {name}" if name in _EXPRESSIONS else t + name
        for name in (field.name for field in dataclasses.fields(record_type))
    )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value  # jsonb comes parsed


def _time(value: Any) -> Any:
    raise AssertionError("stands for the dialect's `when`")


def _reader(hint: Any) -> Callable[[Any], Any] | None:
    """How a stored value becomes a field of type `hint` (None: as it is)."""
    for option in typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,):
        kind = typing.get_origin(option) or option
        if kind is datetime:
            return _time
        if kind is bool:  # SQLite stores flags as 0 and 1
            return bool
        if kind is tuple:  # a JSON list in a text column
            return lambda value: tuple(json.loads(value))
        if kind is Mapping:
            return _json
        if kind is bytes:
            return bytes
    return None


@functools.cache
def _fields_read(
    record_type: type, given: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[tuple[str, Callable[[Any], Any]], ...]]:
    """The fields of `record_type` read from a row: those taken as they are, and those
    converted (with how)."""
    hints = typing.get_type_hints(record_type)
    read = [(f.name, _reader(hints[f.name])) for f in dataclasses.fields(record_type)]
    return (
        tuple(name for name, how in read if how is None and name not in given),
        tuple((name, how) for name, how in read if how is not None and name not in given),
    )


def record(
    record_type: type[R], row: Row | Mapping[str, Any], when: Callable[[Any], datetime],
    **given: Any,
) -> R:  # fmt: skip
    """A record from a row read with `columns(record_type)`; `when` turns the backend's times
    into datetimes. Fields in `given` are not read from the row."""
    as_they_are, converted = _fields_read(typing.cast(type, record_type), tuple(given))
    values = {name: row[name] for name in as_they_are}
    for name, how in converted:
        value = row[name]
        if value is not None:
            value = when(value) if how is _time else how(value)
        values[name] = value
    return record_type(**values, **given)


# What `dump` and `restore` carry, table by table in this order (parents before children), with
# plain Python values: str, int, bool, None, datetime (UTC) and, for sites.settings, a dict.
COPY_COLUMNS: dict[str, tuple[str, ...]] = {
    "sites": ("id", "name", "settings", "revision", "created_at"),
    "site_origins": ("site_id", "origin"),
    "users": ("id", "provider", "subject", "name", "email", "avatar_url", "profile_url",
              "created_at", "updated_at"),
    "threads": ("id", "site_id", "page_id", "url", "title", "version", "comment_count",
                "like_count", "created_at", "closed", "origin", "root_count"),
    "comments": ("id", "thread_id", "parent_id", "root_id", "depth", "status", "author_name",
                 "author_email", "author_url", "body_source", "body_html", "notify",
                 "remote_ip", "like_count", "created_at", "edited_at", "user_id",
                 "author_avatar", "author_provider", "pinned", "held_because", "fingerprint",
                 "import_key", "notify_posts", "lang"),
    "likes": ("thread_id", "voter", "comment_id", "created_at", "network"),
    "sessions": ("token_hash", "user_id", "created_at", "expires_at"),
    "bans": ("id", "site_id", "kind", "value", "note", "created_at"),
    "admins": ("id", "email", "password_hash", "sites", "created_at"),
    "subscriptions": ("id", "thread_id", "email", "scope", "created_at", "confirmed_at",
                      "lang"),
    "outbox": ("id", "kind", "payload", "attempts", "due_at", "locked_until", "last_error",
               "created_at", "failed_at"),
    "passkeys": ("id", "user_id", "credential_id", "public_key", "sign_count", "transports",
                 "name", "created_at", "last_used_at"),
    # Subscribers to new posts, and the posts already seen: a copy mails nobody the old ones.
    "post_subscriptions": ("id", "site_id", "email", "created_at", "confirmed_at"),
    "feed_entries": ("site_id", "entry_key", "seen_at"),
}  # fmt: skip


# The batch that ends a dump: (table, the largest id it has ever given), for each table whose ids
# are handed out and that has given one. A copy gives none of them again, not even those of
# the source's newest rows deleted before the copy (their numbers may be in links and tokens).
LARGEST_IDS = "largest ids"


@dataclasses.dataclass(frozen=True, slots=True)
class RowBatch:
    table: str  # a key of COPY_COLUMNS, or LARGEST_IDS
    rows: list[tuple[Any, ...]]  # values in COPY_COLUMNS[table] order


EventSink = Callable[[ThreadEvent], None]
# Called when changes may have gone by unheard (the listening connection was down): whoever
# shows them must reload instead of trusting what it has.
MissedEvents = Callable[[], None]

# The row that readiness checks write: rate_limits keys start with their purpose ("post:",
# "like:", "admin-login:", ...), so no client has this one; due at the moment of the check,
# it limits nobody and the next prune drops it.
READINESS_KEY = "widget:readiness"


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
