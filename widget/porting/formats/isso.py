"""Isso: its SQLite database file, read as it is (https://isso-comments.de; schema in
isso/db/threads.py and isso/db/comments.py).

    threads(id, uri, title)                        uri: the page's path, "/blog/post/"
    comments(tid → threads.id, id, parent, created, modified, mode, remote_addr, text,
             author, email, website, likes, dislikes, voters, …)

`created` and `modified` are Unix seconds (floats, UTC); `text` is Markdown in which inline HTML
is markup: Isso renders it with HTML allowed and sanitises the result on display
(isso/utils/html.py), and its own Disqus and WordPress migrations store those systems' HTML
bodies in `text`. So it is read the same way, then through our allowlist. `mode` is 1 for
accepted, 2 for waiting in the moderation queue, 4 for deleted (Isso keeps a deleted comment
that has replies, with its text and author cleared). `remote_addr` is already anonymised by
Isso (192.168.1.0), so it is kept as it is.

The database is opened read-only (Isso may still be running on it) and read through a cursor,
a row at a time, so a large file never sits in memory.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from widget.porting.items import (
    IN_PROCESS,
    BadFile,
    Bodies,
    BodyTooComplex,
    Item,
    Skip,
    page_for,
    safe_website,
)
from widget.records import CommentStatus, ImportedComment

__all__ = ["read"]

STATUSES: dict[int, CommentStatus] = {1: "approved", 2: "pending", 4: "deleted"}

# A LEFT JOIN, so that a comment whose thread is gone is reported rather than silently lost.
QUERY = """
    SELECT c.id, c.tid, c.parent, c.created, c.modified, c.mode, c.remote_addr, c.text,
           c.author, c.email, c.website, c.likes, t.id, t.uri, t.title
    FROM comments c LEFT JOIN threads t ON t.id = c.tid
    ORDER BY c.id
"""

Row = tuple[object, ...]


def read(path: Path, site_id: str, bodies: Bodies = IN_PROCESS) -> Iterator[Item]:
    connection = _connect(path)
    with closing(connection):
        try:
            _check_schema(connection)
            # The cursor yields rows as SQLite finds them: nothing is fetched ahead.
            for row in connection.execute(QUERY):
                yield _comment(row, site_id, bodies)
        except sqlite3.Error as exc:
            # Corruption deep in the file shows only when that page is read.
            raise BadFile(f"The Isso database cannot be read: {exc}.") from exc


def _connect(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise BadFile(f"There is no file at {path}.")
    # as_uri() percent-encodes the path, so a "?" or "#" in a file name cannot end it early.
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        # Only this generator uses the connection, one step at a time, but a caller may step
        # it from more than one thread.
        return sqlite3.connect(uri, uri=True, check_same_thread=False)
    except sqlite3.Error as exc:
        raise BadFile(f"The Isso database cannot be opened: {exc}.") from exc


def _check_schema(connection: sqlite3.Connection) -> None:
    """BadFile unless both of Isso's tables are there, with the columns read here. SQLite only
    notices that a file is no database at all on the first query, which this is."""
    try:
        tables = {
            name: {column[1] for column in connection.execute(f"PRAGMA table_info({name})")}
            for name in ("threads", "comments")
        }
    except sqlite3.DatabaseError as exc:
        raise BadFile(f"This is not an Isso database: it is not an SQLite file ({exc}).") from exc
    needs = {
        "threads": {"id", "uri", "title"},
        "comments": {"id", "tid", "parent", "created", "modified", "mode", "remote_addr",
                     "text", "author", "email", "website", "likes"},
    }  # fmt: skip
    for table, columns in needs.items():
        if not tables[table]:
            raise BadFile(f"This is not an Isso database: it has no {table!r} table.")
        if missing := columns - tables[table]:
            raise BadFile(
                f"This is not an Isso database: its {table!r} table lacks the column(s)"
                f" {', '.join(sorted(missing))}."
            )


def _comment(row: Row, site_id: str, bodies: Bodies) -> Item:
    (comment_id, tid, parent, created, modified, mode, remote_addr, text, author, email,
     website, likes, thread_id, uri, title) = row  # fmt: skip
    key = f"isso:{comment_id}"
    if thread_id is None:
        return Skip(key, "unparsable", f"its thread (tid {tid}) is not in the threads table")
    status = STATUSES.get(mode) if isinstance(mode, int) else None
    if status is None:
        return Skip(key, "unparsable", f"mode {mode!r}: Isso uses 1, 2 or 4")
    try:
        created_at = _time(created)
        edited_at = _time(modified) if modified is not None else None
    except (TypeError, ValueError, OverflowError, OSError):
        return Skip(key, "unparsable", f"created {created!r} / modified {modified!r}: not Unix"
                                       " seconds")  # fmt: skip
    try:
        source, html = bodies.from_markdown_with_html(_text(text))
    except BodyTooComplex as exc:
        return Skip(key, "unparsable", str(exc))
    return ImportedComment(
        key=key, parent_key=f"isso:{parent}" if parent is not None else None,
        page=page_for(site_id, "", _text(uri), _text(title)),
        author_name=_text(author).strip() or "Anonymous", author_email=_text(email).strip(),
        author_url=safe_website(_text(website)), body_source=source, body_html=html,
        status=status, created_at=created_at, remote_ip=_text(remote_addr).strip(),
        like_count=max(likes, 0) if isinstance(likes, int) else 0, edited_at=edited_at,
    )  # fmt: skip


def _time(seconds: object) -> datetime:
    """Unix seconds; SQLite's loose typing may hand over a string, which float() takes too."""
    if not isinstance(seconds, int | float | str):
        raise TypeError(type(seconds).__name__)
    return datetime.fromtimestamp(float(seconds), UTC)


def _text(value: object) -> str:
    """A column as text: Isso leaves author, email, website (and a deleted comment's text)
    NULL when there is none."""
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
