"""What the two backends share: a small connection adapter, the dialect bits that differ, and
the base every aggregate's queries (sites.py, threads.py, comments.py, moderation.py,
outbox.py, accounts.py, porting.py) are written against.

Queries are written once, with `?` placeholders and datetimes as parameters; each backend's
`Db` turns them into its own (`$n` for PostgreSQL, cached; seconds since the epoch for
SQLite) and reads times back with `Dialect.when`. A backend keeps only its connection
machinery: how a read gets a connection, how a write gets a transaction, and how a committed
change reaches the caches and the readers (`_tell`, `_sites_changed`).
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any, TypeVar

from widget.records import ThreadEventKind, ThreadHead

from .base import EventSink, MissedEvents, R, Row, RowBatch, record
from .caching import DueTimes, HeadCache, SiteCache

__all__ = ["Db", "Dialect", "SQLBackend", "any_of", "in_list", "marks"]

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class Dialect:
    """Where the backends' SQL and values truly differ."""

    name: str  # "sqlite" or "postgres"
    when: Callable[[Any], datetime]  # a stored time as an aware datetime
    json_in: Callable[[Any], Any]  # a JSON column's value as a parameter (jsonb takes objects)
    lock_rows: str  # locks the rows of `c` a SELECT read until commit ("" with one writer)
    skip_locked: str  # appended to a SELECT of jobs to claim
    time_type: str  # what a time is stored as, for CAST
    flag_type: str  # what a flag is stored as, for CAST
    # A row's values, its columns named, as plain values (aware datetimes, bools, dicts): for
    # dumps and exports.
    plain: Callable[[Sequence[str], Row], tuple[Any, ...]]
    contains: str  # `{column}` matches a like_pattern parameter, whatever the letters' case
    # A statement that makes writes naming the same key (its one parameter) take turns until
    # commit; None when there is one writer anyway.
    lock_key: str | None
    # `column IN (...)` for a list of values, with its parameters: one array for PostgreSQL
    # (one statement whatever the length), a placeholder each for SQLite.
    one_of: Callable[[str, Sequence[Any]], tuple[str, list[Any]]]


def marks(values: Sequence[Any]) -> str:
    """`?, ?, ?` for the values of an IN list (never empty: callers check)."""
    return ", ".join("?" * len(values))


def in_list(column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    return f"{column} IN ({marks(values)})", list(values)


def any_of(column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    return f"{column} = ANY(?)", [list(values)]


class Db(abc.ABC):
    """One connection (in a transaction, for a write): statements with `?` placeholders."""

    dialect: Dialect

    def __init__(self, conn: Any) -> None:
        self.conn = conn  # the driver's own connection
        self.now = datetime.now(UTC)  # storage's one clock: the time its writes stamp
        self._after: list[Callable[[], None]] = []

    @abc.abstractmethod
    async def fetch_all(self, sql: str, *params: Any) -> Sequence[Row]: ...

    async def fetch_one(self, sql: str, *params: Any) -> Row | None:
        rows = await self.fetch_all(sql, *params)
        return rows[0] if rows else None

    async def fetch_value(self, sql: str, *params: Any) -> Any:
        row = await self.fetch_one(sql, *params)
        return row[0] if row is not None else None

    def record(self, record_type: type[R], row: Row | Mapping[str, Any], **given: Any) -> R:
        return record(record_type, row, self.dialect.when, **given)

    async def fetch_record(self, record_type: type[R], sql: str, *params: Any) -> R | None:
        """The first row as a record (see base.record), None when there is none."""
        row = await self.fetch_one(sql, *params)
        return self.record(record_type, row) if row is not None else None

    async def fetch_records(self, record_type: type[R], sql: str, *params: Any) -> list[R]:
        rows = await self.fetch_all(sql, *params)
        names = list(rows[0].keys()) if rows else []
        # Read by name from a dict: sqlite3.Row looks a name up by going through its columns.
        return [self.record(record_type, dict(zip(names, row, strict=True))) for row in rows]

    @abc.abstractmethod
    async def execute(self, sql: str, *params: Any) -> int:
        """Run a statement; how many rows it changed."""

    @abc.abstractmethod
    async def execute_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    @abc.abstractmethod
    def stream(self, sql: str, *params: Any, batch: int) -> AsyncGenerator[list[Row]]:
        """A query's rows, `batch` at a time (inside a snapshot: `SQLBackend._snapshot`)."""

    def after_commit(self, step: Callable[[], None]) -> None:
        """Run `step` once this write has committed (never if it is undone)."""
        self._after.append(step)

    def committed(self) -> None:
        for step in self._after:
            step()


class SQLBackend(abc.ABC):
    """The connection machinery each backend provides to the queries written once."""

    dialect: Dialect
    _heads: HeadCache
    _sites: SiteCache
    # Rate limits' due times, kept by a backend whose process makes every write (None: read).
    _due_times: DueTimes | None

    @abc.abstractmethod
    def on_event(self, sink: EventSink, missed: MissedEvents | None = None) -> None: ...

    @abc.abstractmethod
    async def open(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def _load_rows(self, db: Db, batch: RowBatch) -> None:
        """Write a batch of a dump's rows as they are, ids included."""

    @abc.abstractmethod
    async def _loaded(self, db: Db, largest_ids: Mapping[str, int]) -> None:
        """Whatever a loaded dump needs before its transaction commits: new ids go past both
        the ids loaded and the largest each table of the source ever gave (`largest_ids`)."""

    @abc.abstractmethod
    async def _largest_ids(self, db: Db) -> list[tuple[str, int]]:
        """(table, the largest id it has ever given) for each table that has given one."""

    @abc.abstractmethod
    def _read(self) -> AbstractAsyncContextManager[Db]:
        """A connection for reads; statements outside a transaction."""

    @abc.abstractmethod
    def _snapshot(self) -> AbstractAsyncContextManager[Db]:
        """A connection whose reads all see one snapshot of the database."""

    @abc.abstractmethod
    async def _run(self, op: Callable[[Db], Awaitable[T]], *, waits: bool = False) -> T:
        """Run `op` in a write transaction of its own; its result once committed. An op that
        `waits` for more than its Db (another database's rows) says so: SQLite runs the
        others in its writer's thread, where nothing else can be awaited."""

    @abc.abstractmethod
    async def _tell(
        self, db: Db, head: ThreadHead, kind: ThreadEventKind, comment_id: int, count: int
    ) -> None:
        """A change to a thread, in this write: readers and caches hear of it on commit."""

    @abc.abstractmethod
    async def _sites_changed(self, db: Db, site_id: str | None) -> None:
        """A site (None: sites, bans or everything) changed in this write: caches forget it."""

    async def _read_record(self, record_type: type[R], sql: str, *params: Any) -> R | None:
        """One read of the first row as a record (Db.fetch_record)."""
        async with self._read() as db:
            return await db.fetch_record(record_type, sql, *params)

    async def _read_records(self, record_type: type[R], sql: str, *params: Any) -> list[R]:
        async with self._read() as db:
            return await db.fetch_records(record_type, sql, *params)

    _caching: bool  # whether the caches can be trusted right now

    def _forget_cached(self) -> None:
        self._heads.clear()
        self._sites.forget()
        if self._due_times is not None:
            self._due_times.clear()
