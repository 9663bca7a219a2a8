"""Storage backends behind one class; `storage_for_url` picks one from a database URL. The
records they trade in are in widget.records."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote

from .base import COPY_COLUMNS, LARGEST_IDS, Outcome, Refused, RowBatch
from .shared import Storage

if TYPE_CHECKING:
    from widget.config import Settings

__all__ = [
    "COPY_COLUMNS",
    "LARGEST_IDS",
    "Outcome",
    "Refused",
    "RowBatch",
    "Storage",
    "storage_for_settings",
    "storage_for_url",
]


def storage_for_url(url: str, *, pool_min: int = 1, pool_max: int = 10) -> Storage:
    """A closed backend for `url`; call `open()` before use.

    `sqlite:///` followed by the file's path: `sqlite:///widget.db` is relative to the working
    folder, `sqlite:////var/lib/widget/widget.db` is absolute. `postgresql://user@host/db`
    (any libpq URL) uses PostgreSQL with a pool of `pool_min` to `pool_max` connections.
    """
    if url.startswith("sqlite:///"):
        path = unquote(url.removeprefix("sqlite:///"))
        if not path:
            raise ValueError("a sqlite URL needs a file path, as in sqlite:///widget.db")
        from .sqlite import SQLiteStorage

        return SQLiteStorage(path)
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStorage

        return PostgresStorage(url, pool_min=pool_min, pool_max=pool_max)
    raise ValueError(
        f"unsupported database URL {url!r}: use sqlite:///path/to/widget.db"
        " or postgresql://user@host/database"
    )


def storage_for_settings(settings: Settings) -> Storage:
    return storage_for_url(
        settings.database_url,
        pool_min=settings.database_pool_min,
        pool_max=settings.database_pool_max,
    )
