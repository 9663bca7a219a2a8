"""The PostgreSQL backend, for several app instances sharing one database.

A pool of asyncpg connections; every write is one transaction, acknowledged after its COMMIT.
Instances share everything through the database (rate-limit state included), so nothing is
cached in memory here: two instances must never disagree about a thread's version.

A database that cannot serve (restarting, unreachable, out of room or connections, a
read-only standby) makes the call raise StorageUnavailable, a 503: the pool reconnects on
its own once the server is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import itertools
import json
import logging
import re
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import asyncpg

from widget.errors import SetupError, StorageUnavailable
from widget.records import DatabaseGauges, ThreadEvent, ThreadEventKind, ThreadHead

from .accounts import PRUNE_EVERY_S, mark_ready, prune_expired
from .base import COPY_COLUMNS, EventSink, MissedEvents, Row, RowBatch
from .caching import HeadCache, SiteCache
from .migrations import migrate
from .shared import Storage
from .sql import Db, Dialect, any_of

__all__ = ["PostgresStorage"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# What says that the database cannot serve right now, not that a query is wrong.
_UNAVAILABLE = (
    OSError,  # refused, reset, unreachable, timed out
    asyncpg.InterfaceError,  # the connection or the pool is closed
    asyncpg.exceptions.InternalClientError,  # a connection left in disorder by a cut
    asyncpg.PostgresConnectionError,  # class 08: the connection is gone or failed
    asyncpg.exceptions.OperatorInterventionError,  # 57: shutting down, starting up, cancelled
    asyncpg.exceptions.InsufficientResourcesError,  # 53: disk full, memory, connections
    asyncpg.exceptions.PostgresSystemError,  # 58: I/O error
    asyncpg.exceptions.TransactionRollbackError,  # 40: deadlock, serialization failure
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # a standby, during a failover
    asyncpg.exceptions.LockNotAvailableError,  # lock_timeout
    asyncpg.exceptions.InvalidAuthorizationSpecificationError,  # 28: the login is refused
    asyncpg.exceptions.InvalidCatalogNameError,  # the database is gone
)
# Seconds to wait for PostgreSQL to answer a connection: one that never answers fails start-up
# (and requests) after this long, not after asyncpg's default of a minute.
CONNECT_TIMEOUT_S = 10.0
# Seconds to wait for the answer to one statement (BEGIN and COMMIT too), or for a connection
# of the pool: a server that has stopped answering (hung, frozen, cut off without a reset)
# costs a request this long and then a 503, instead of holding it, and the pool's connection,
# for as long as the server stays silent. Every statement widget sends is short (batches of
# COPY_BATCH rows); migrations, which may rewrite whole tables, run without it.
QUERY_TIMEOUT_S = 10.0


def _same(moment: datetime) -> datetime:
    return moment  # asyncpg already gives timestamptz as aware datetimes


EVENTS_CHANNEL = "widget_events"
SITES_CHANNEL = "widget_sites"


def channels_of(schema: str) -> tuple[str, str]:
    """The notification channels of the database's schema. NOTIFY is heard database-wide: two
    deployments that share a database, each in a schema of its own, must not hear each other
    (a reader would reload for a thread of the other site of the same name). `public` keeps
    the plain names, so instances of earlier releases still hear it during an upgrade."""
    if schema == "public":
        return EVENTS_CHANNEL, SITES_CHANNEL
    tag = hashlib.sha256(schema.encode()).hexdigest()[:16]  # channel names: 63 bytes at most
    return f"{EVENTS_CHANNEL}_{tag}", f"{SITES_CHANNEL}_{tag}"


LISTEN_RETRY_S = 1.0
LISTEN_PROBE_S = 30.0


_PLACEHOLDER = re.compile(r"\?")


@functools.lru_cache(maxsize=1024)
def _numbered(sql: str) -> str:
    """`?` placeholders as `$1`, `$2`, ... (no query here has a `?` in a literal)."""
    count = itertools.count(1)
    return _PLACEHOLDER.sub(lambda _: f"${next(count)}", sql)


POSTGRES = Dialect(
    name="postgres", when=_same, json_in=lambda value: value,
    lock_rows=" FOR UPDATE OF c", skip_locked=" FOR UPDATE SKIP LOCKED",
    lock_key="SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", one_of=any_of,
    contains="{column} ILIKE ?", time_type="timestamptz", flag_type="boolean",
    plain=lambda columns, row: tuple(row),
)  # fmt: skip


class PostgresDb(Db):
    """The adapter over one asyncpg connection."""

    dialect = POSTGRES
    conn: asyncpg.Connection

    async def fetch_all(self, sql: str, *params: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self.conn.fetch(_numbered(sql), *params)
        return rows

    async def fetch_one(self, sql: str, *params: Any) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self.conn.fetchrow(_numbered(sql), *params)
        return row

    async def execute(self, sql: str, *params: Any) -> int:
        status: str = await self.conn.execute(_numbered(sql), *params)
        last = status.rsplit(" ", 1)[-1]  # "UPDATE 3", "INSERT 0 1"; "SELECT 1" too
        return int(last) if last.isdigit() else 0

    async def execute_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.conn.executemany(_numbered(sql), rows)

    async def stream(self, sql: str, *params: Any, batch: int) -> AsyncGenerator[list[Row]]:
        rows: list[Row] = []
        async for record in self.conn.cursor(_numbered(sql), *params, prefetch=batch):
            rows.append(record)
            if len(rows) >= batch:
                yield rows
                rows = []
        if rows:
            yield rows


class PostgresStorage(Storage):
    def __init__(self, url: str, *, pool_min: int = 1, pool_max: int = 10) -> None:
        self.url = url
        self.pool_min = pool_min
        self.pool_max = pool_max
        self._pool: asyncpg.Pool | None = None
        self._housekeeping: asyncio.Task[None] | None = None
        self._listening: asyncio.Task[None] | None = None
        self._event_sink: EventSink | None = None
        self._missed: MissedEvents | None = None
        # Heads and sites are kept in memory only while this instance hears every change
        # (its LISTEN connection is up); otherwise every read goes to the database.
        self._heads = HeadCache()
        self._sites = SiteCache()
        self._caching = False
        # Other instances take from the same rate limits unheard: each check reads them.
        self._due_times = None
        self._events_channel, self._sites_channel = EVENTS_CHANNEL, SITES_CHANNEL

    # -- life cycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, migrate and write once; raises SetupError, naming the database and what
        to do, when it cannot be reached, logged into, or written."""
        try:
            # Migrating first, on a connection without QUERY_TIMEOUT_S (see there).
            conn = await asyncpg.connect(self.url, timeout=CONNECT_TIMEOUT_S)
            try:
                await _init_connection(conn)

                @asynccontextmanager
                async def locked(rebuilds: bool) -> AsyncIterator[Db]:
                    # One instance at a time (see migrate): the lock is held until commit.
                    # (Rebuilding tables is SQLite's way; PostgreSQL alters them in place.)
                    async with conn.transaction():
                        await conn.execute(
                            "SELECT pg_advisory_xact_lock(hashtext('widget.migrations'))"
                        )
                        yield PostgresDb(conn)

                await migrate(locked, _described(self.url))
                await mark_ready(PostgresDb(conn))
                schema = await conn.fetchval("SELECT current_schema()")
            finally:
                await conn.close()
            self._pool = await asyncpg.create_pool(
                self.url, min_size=self.pool_min, max_size=self.pool_max,
                init=_init_connection, timeout=CONNECT_TIMEOUT_S, command_timeout=QUERY_TIMEOUT_S,
            )  # fmt: skip
            self._events_channel, self._sites_channel = channels_of(str(schema))
            self._housekeeping = asyncio.create_task(self._prune_periodically(), name="pg-prune")
            listening = asyncio.get_running_loop().create_future()
            self._listening = asyncio.create_task(self._listen(listening), name="pg-listen")
            await listening  # events committed after open() returns reach this instance
        except BaseException as exc:
            await self.close()
            if isinstance(exc, (asyncpg.PostgresError, *_UNAVAILABLE)):
                raise SetupError(_cannot_use(self.url, exc)) from exc
            raise

    async def close(self) -> None:
        for task in (self._housekeeping, self._listening):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._housekeeping = self._listening = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def gauges(self) -> DatabaseGauges:
        pool = self._pool
        if pool is None:
            return DatabaseGauges(0, 0, 0, self.pool_max)
        idle = pool.get_idle_size()
        return DatabaseGauges(0, idle, pool.get_size() - idle, pool.get_max_size())

    def on_event(self, sink: EventSink, missed: MissedEvents | None = None) -> None:
        self._event_sink = sink
        self._missed = missed

    async def _listen(self, started: asyncio.Future[None]) -> None:
        """LISTEN on a connection of its own and hand every instance's changes to the sink.

        NOTIFY is sent inside each write's transaction, so it is delivered on COMMIT and only
        then. The same notifications keep this instance's caches true. If the connection
        drops, caching stops until it is back, and changes committed in between are never
        heard: so once it is back, `missed` tells whoever shows them to reload.
        """

        def deliver(connection: object, pid: int, channel: str, payload: str) -> None:
            try:
                if channel == self._sites_channel:
                    self._sites.forget(None if payload == "*" else payload)
                    self._heads.clear()  # a removed site's threads are gone too
                    return
                event = ThreadEvent.from_json(payload)
                self._heads.changed_elsewhere(event.site_id, event.page_id, event.version)
                if self._event_sink is not None:
                    self._event_sink(event)
            except Exception:
                log.exception("cannot deliver notification %r", payload)

        while True:
            try:
                conn = await asyncpg.connect(self.url, timeout=CONNECT_TIMEOUT_S)
                closed = asyncio.Event()
                conn.add_termination_listener(lambda _, closed=closed: closed.set())
                try:
                    await conn.add_listener(self._events_channel, deliver)
                    await conn.add_listener(self._sites_channel, deliver)
                    self._forget_cached()  # whatever was missed while not listening
                    self._caching = True
                    if not started.done():
                        started.set_result(None)
                    elif self._missed is not None:
                        log.warning("listening for changes again")
                        self._missed()
                    while not closed.is_set():
                        # A connection can also die silently: ask it something now and then.
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(closed.wait(), LISTEN_PROBE_S)
                        if not closed.is_set():
                            await conn.fetchval("SELECT 1")
                finally:
                    self._caching = False
                    self._forget_cached()
                    await conn.close()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not started.done():
                    started.set_exception(exc)
                    return
                log.warning("lost the events connection (%s); reconnecting", exc)
                await asyncio.sleep(LISTEN_RETRY_S)

    def _committed(self, head: ThreadHead) -> None:
        if self._caching:
            self._heads.committed(head)

    async def _prune_periodically(self) -> None:
        """Drop rate limits and spent form tokens that decide nothing any more (any instance
        may: it is idempotent)."""
        while True:
            await asyncio.sleep(PRUNE_EVERY_S)
            try:
                await self._run(prune_expired)
            except StorageUnavailable:
                continue

    # -- the adapter ----------------------------------------------------------------------------

    dialect = POSTGRES

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[PostgresDb]:
        if self._pool is None:
            raise RuntimeError("storage is not open")
        try:
            async with self._pool.acquire(timeout=QUERY_TIMEOUT_S) as conn:
                try:
                    yield PostgresDb(conn)
                except _UNAVAILABLE:
                    # Cut off mid-way, a connection can be left in a state asyncpg trips
                    # over later: the pool gets a new one instead.
                    with contextlib.suppress(asyncpg.InterfaceError):
                        conn.terminate()
                    raise
        except _UNAVAILABLE as exc:
            log.warning("database unavailable: %s", _reason(exc))
            raise StorageUnavailable() from exc

    @asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[PostgresDb]:
        async with (
            self._read() as db,
            db.conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            yield db

    async def _run(self, op: Callable[[Db], Awaitable[T]], *, waits: bool = False) -> T:
        try:
            async with self._read() as db, db.conn.transaction():
                result = await op(db)
        except StorageUnavailable as exc:
            raise StorageUnavailable.unsaved() from exc
        db.committed()
        return result

    async def _tell(
        self, db: Db, head: ThreadHead, kind: ThreadEventKind, comment_id: int, count: int
    ) -> None:
        # Sent inside the transaction: every instance hears it on COMMIT, and only then.
        event = ThreadEvent(head.site_id, head.page_id, kind, comment_id, head.version, count)
        await db.execute("SELECT pg_notify(?, ?)", self._events_channel, event.to_json())
        db.after_commit(lambda: self._committed(head))

    async def _sites_changed(self, db: Db, site_id: str | None) -> None:
        await db.execute("SELECT pg_notify(?, ?)", self._sites_channel, site_id or "*")
        db.after_commit(lambda: self._sites.forget(site_id))

    # -- loading a dump -----------------------------------------------------------------------

    async def _load_rows(self, db: Db, batch: RowBatch) -> None:
        if batch.table == "sites":  # jsonb goes through the connection's codec
            await db.execute_many(
                "INSERT INTO sites (id, name, settings, revision, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                batch.rows,
            )
        else:  # COPY writes identity columns as given, like OVERRIDING SYSTEM VALUE
            await db.conn.copy_records_to_table(
                batch.table, records=batch.rows, columns=list(COPY_COLUMNS[batch.table])
            )

    async def _loaded(self, db: Db, largest_ids: Mapping[str, int]) -> None:
        # New ids follow the copied ones and the largest the source gave, in every table whose
        # id is an identity column (a sequence starts at 1: never called, it gives 1 next).
        for table in await _identity_tables(db):
            given = largest_ids.get(table, 0)
            await db.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                " greatest(coalesce(max(id), 0), ?, 1), greatest(coalesce(max(id), 0), ?) > 0)"
                f" FROM {table}",
                given, given,
            )  # fmt: skip

    async def _largest_ids(self, db: Db) -> list[tuple[str, int]]:
        found = []
        for table in await _identity_tables(db):
            largest = await db.fetch_value(
                "SELECT pg_sequence_last_value(pg_get_serial_sequence(?, 'id')::regclass)", table
            )
            if largest:  # None: the sequence never gave a number
                found.append((table, int(largest)))
        return found


async def _identity_tables(db: Db) -> list[str]:
    rows = await db.fetch_all(
        "SELECT table_name FROM information_schema.columns WHERE column_name = 'id'"
        " AND is_identity = 'YES' AND table_schema = current_schema()"
    )
    return [row["table_name"] for row in rows]


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) and not str(exc):  # a timeout says nothing of itself
        return "no answer in time: a server overloaded, hung or cut off?"
    return str(exc) or type(exc).__name__


def _described(url: str) -> str:
    """The database `url` names, for a person: no password."""
    parts = urlsplit(url)
    user = unquote(parts.username or "") or "the default user"
    try:
        port = parts.port or 5432
    except ValueError:
        port = 5432
    host = f"{parts.hostname}:{port}" if parts.hostname else "the local socket"
    name = unquote(parts.path.lstrip("/")) or "the user's own database"
    return f"PostgreSQL database {name!r} at {host} (user {user})"


def _cannot_use(url: str, exc: BaseException) -> str:
    """Why widget cannot serve from the database at start, and what to do."""
    database, reason = _described(url), _reason(exc)
    if isinstance(exc, asyncpg.exceptions.InvalidAuthorizationSpecificationError):
        return (
            f"{database} refused the login ({reason}): check the user name and password in"
            " WIDGET_DATABASE_URL, and that pg_hba.conf lets this machine in."
        )
    if isinstance(exc, asyncpg.exceptions.InvalidCatalogNameError):
        return (
            f"{database} cannot be opened ({reason}): create it (createdb), or correct"
            " WIDGET_DATABASE_URL."
        )
    if isinstance(exc, asyncpg.exceptions.InsufficientPrivilegeError):
        return (
            f"not allowed to create or write tables in {database} ({reason}): make that"
            " user the database's owner, or grant it the rights."
        )
    if isinstance(exc, asyncpg.exceptions.ReadOnlySQLTransactionError):
        return f"{database} is read-only ({reason}): point WIDGET_DATABASE_URL at the primary."
    if isinstance(exc, asyncpg.exceptions.QueryCanceledError):
        return (
            f"{database} cancelled a statement widget runs at start ({reason}): a"
            " statement_timeout set for the database or its user is too short for it. Raise"
            " it (ALTER DATABASE … SET statement_timeout, or ALTER ROLE …), then start again."
        )
    if isinstance(exc, asyncpg.exceptions.TooManyConnectionsError):
        return (
            f"{database} takes no more connections ({reason}): close the connections others"
            " keep idle, raise max_connections (or the user's CONNECTION LIMIT), or make"
            " WIDGET_DATABASE_POOL_MAX smaller; then start again."
        )
    if isinstance(exc, _UNAVAILABLE):
        return (
            f"cannot reach {database} ({reason}): check that PostgreSQL is running and"
            " accepts connections there, and that WIDGET_DATABASE_URL names it rightly."
        )
    return f"cannot prepare {database} ({reason})."
