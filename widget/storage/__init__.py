"""Storage backends behind one protocol; `storage_for_url` picks one from a database URL."""

from __future__ import annotations

from urllib.parse import unquote

from .base import (
    POST_LIKE,
    Comment,
    CommentStatus,
    NewComment,
    PageRef,
    PageWindow,
    RateLimit,
    Site,
    Storage,
    ThreadHead,
    ThreadPage,
)

__all__ = [
    "POST_LIKE",
    "Comment",
    "CommentStatus",
    "NewComment",
    "PageRef",
    "PageWindow",
    "RateLimit",
    "Site",
    "Storage",
    "ThreadHead",
    "ThreadPage",
    "storage_for_url",
]


def storage_for_url(url: str) -> Storage:
    """A closed backend for `url`; call `open()` before use.

    `sqlite:///` followed by the file's path: `sqlite:///widget.db` is relative to the working
    folder, `sqlite:////var/lib/widget/widget.db` is absolute.
    """
    if url.startswith("sqlite:///"):
        path = unquote(url.removeprefix("sqlite:///"))
        if not path:
            raise ValueError("a sqlite URL needs a file path, as in sqlite:///widget.db")
        from .sqlite import SQLiteStorage

        return SQLiteStorage(path)
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///path/to/widget.db")
