"""Numbered schema migrations, one folder of SQL files per backend: NNNN_what.sql.

A database records the numbers applied to it in `schema_migrations`; `migrate` applies the
rest in order, each in a transaction that a starting backend holds alone.

A SQLite migration whose first line is REBUILDS_TABLES changes tables the only way SQLite
can change most things: a new table, the rows copied, the old one dropped, the new one renamed
(https://www.sqlite.org/lang_altertable.html, "Making Other Kinds Of Table Schema Changes").
The backend runs it with foreign keys off (else dropping a table deletes every row that names
one of its rows, ON DELETE CASCADE), which can only be switched outside a transaction, and
checks before its COMMIT that it left no row naming one that is not there.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING

from widget.errors import SetupError

if TYPE_CHECKING:
    from widget.storage.sql import Db

__all__ = ["REBUILDS_TABLES", "Locked", "migrate", "migrations", "refuse_newer_schema"]

log = logging.getLogger(__name__)

REBUILDS_TABLES = "-- Rebuilds tables"  # a migration's first line: see the module's docstring

# Opens a write transaction that one starting backend holds alone; True: for a migration that
# rebuilds tables (REBUILDS_TABLES).
Locked = Callable[[bool], AbstractAsyncContextManager["Db"]]


async def migrate(locked: Locked, database: str) -> None:
    """Apply what `database` lacks, each migration in a write transaction of its own that
    `locked(rebuilds)` opens and holds alone: instances starting together must not apply one
    twice. Raises SetupError when its schema is newer than this code."""
    async with locked(False) as db:
        await db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (number integer PRIMARY KEY,"
            f" name text NOT NULL, applied_at {db.dialect.time_type} NOT NULL)"
        )
        applied = await _applied(db)
    refuse_newer_schema(db.dialect.name, applied, database)
    for number, name, sql in migrations(db.dialect.name):
        if number in applied:
            continue
        async with locked(sql.startswith(REBUILDS_TABLES)) as db:
            # Another instance starting on the same database may have applied it since.
            if number not in await _applied(db):
                for statement in split_statements(sql):
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_migrations (number, name, applied_at) VALUES (?, ?, ?)",
                    number, name, datetime.now(UTC),
                )  # fmt: skip
                log.info("applied migration %04d_%s", number, name)


async def _applied(db: Db) -> set[int]:
    return {row["number"] for row in await db.fetch_all("SELECT number FROM schema_migrations")}


@functools.cache  # the files come with the release: read once per process, not at each open
def migrations(backend: str) -> tuple[tuple[int, str, str], ...]:
    """(number, name, SQL) of every migration file of `backend`, in order."""
    found = []
    for entry in (resources.files(__name__) / backend).iterdir():
        if entry.name.endswith(".sql"):
            number, _, name = entry.name.removesuffix(".sql").partition("_")
            found.append((int(number), name, entry.read_text(encoding="utf-8")))
    return tuple(sorted(found))


def refuse_newer_schema(backend: str, applied: Iterable[int], database: str) -> None:
    """Raise SetupError when `database` carries migrations this version does not know: a newer
    widget has changed its schema, and this one would read and write it wrongly."""
    known = max(number for number, _, _ in migrations(backend))
    newest = max(applied, default=0)
    if newest > known:
        raise SetupError(
            f"{database} has been upgraded by a newer version of widget (its schema is at"
            f" migration {newest:04d}; this version knows up to {known:04d}). Run that newer"
            " version, or restore a backup made before the upgrade."
        )


def split_statements(script: str) -> list[str]:
    """The statements of a migration file (our files hold no ';' inside literals)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]
