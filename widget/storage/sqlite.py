"""The embedded backend: one SQLite file in WAL mode.

One writer connection takes every write, in batches: whatever writes queue up while a batch
commits go into the next transaction together (group commit), each inside its own savepoint so
that one failing write never undoes another. A write is acknowledged only after its COMMIT has
returned with `synchronous=FULL`, so an acknowledged comment survives a killed process. A batch
runs whole in the writer connection's own thread, from BEGIN to COMMIT: its writes' statements
run one after the other there, rather than each making a round trip to the event loop.

Reads go through a small pool of read-only connections. Thread heads (version and counts) and
sites are kept in memory: this process makes every write to the file that the server itself
makes, so it updates them as it commits. Writes from other processes (the command line) are
noticed through `PRAGMA data_version` within about a second.

Faults fail closed. A file that is locked, full, read-only or damaged refuses the reads and
writes it cannot serve (StorageUnavailable, a 503). A file deleted, moved or replaced under
the server (or its -wal or -shm) is noticed before the next COMMIT, at the latest a second
later: from then on every read and write is refused, answers kept in memory included (there
is no cache_stamp), and what the server had committed is saved where a restart finds it (see
`_save_what_was_committed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import json
import logging
import os
import sqlite3
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Mapping,
    Sequence,
)
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from widget.errors import SetupError, StorageUnavailable
from widget.records import DatabaseGauges, ThreadEvent, ThreadEventKind, ThreadHead

from .accounts import PRUNE_EVERY_S, mark_ready, prune_expired
from .base import COPY_COLUMNS, EventSink, MissedEvents, Row, RowBatch
from .caching import DueTimes, HeadCache, SiteCache
from .migrations import migrate
from .shared import Storage
from .sql import Db, Dialect, in_list, marks
from .sqlite_files import OpenedFiles, place_copy

__all__ = ["SQLiteStorage"]

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_BATCH = 256  # writes per transaction
READERS = 2
# Each reader's own page cache, in KiB (SQLite's default is 2,000). The file's pages are in the
# system's cache anyway, and what readers serve most is kept above them (thread heads, pages'
# HTML, counts): at 512 the server's peak under bench/memory.py's load is ~2 MB lower (51.6 ->
# 49.2 MB) at no measurable cost in CPU a comment. The writer keeps the default: at 512 or 1,024
# KiB for it too, posting took ~10 % more CPU.
READER_CACHE_KIB = 512
EXTERNAL_CHECK_S = 1.0  # how often to look for writes made by other processes
RATE_LIMIT_KEYS_KEPT = 10_000  # addresses and commenters seen lately (~150 bytes each)
BUSY_TIMEOUT_MS = 5_000

# Primary result codes that say the file cannot serve right now, not that a statement is wrong:
# busy or locked, out of memory, read-only, I/O error, damaged, full, cannot be opened, not a
# database at all.
_FAULTS = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
        sqlite3.SQLITE_NOTADB,
    }
)


def _dt(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class _FilesChanged(Exception):
    """The database, its -wal or its -shm at the path is not the file the server opened."""


@dataclasses.dataclass(slots=True)
class _QueuedWrite:
    op: Callable[[Db], Awaitable[Any]]
    future: asyncio.Future[Any]
    waits: bool  # awaits more than its Db: its batch runs on the event loop


# What became of one write of a batch: its adapter (with its after-commit steps), and its
# result or the error that undid it.
_Outcome = tuple[_QueuedWrite, Db, Any, BaseException | None]


def _params(values: Sequence[Any]) -> list[Any]:
    return [value.timestamp() if isinstance(value, datetime) else value for value in values]


SQLITE = Dialect(
    name="sqlite", when=_dt, json_in=json.dumps, lock_rows="", skip_locked="", lock_key=None,
    one_of=in_list, time_type="REAL", flag_type="INTEGER",
    plain=lambda columns, row: _from_sqlite(columns, row),
    contains="{column} LIKE ? ESCAPE '\\'",
)  # fmt: skip


class SQLiteDb(Db):
    """The adapter over one connection: each statement runs in the connection's own thread,
    a round trip from the event loop, or at once for a write batch that runs whole in the
    writer's thread (`_run_to_end`). Datetimes go in as seconds."""

    dialect = SQLITE
    conn: sqlite3.Connection

    def __init__(self, agent: aiosqlite.Connection, *, in_thread: bool = False) -> None:
        super().__init__(agent._conn)
        self._agent = agent
        self._in_thread = in_thread

    async def _call(self, step: Callable[[], T]) -> T:
        if self._in_thread:
            return step()
        return await self._agent._execute(step)  # type: ignore[no-any-return,no-untyped-call]

    async def fetch_all(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        return await self._call(lambda: self.conn.execute(sql, _params(params)).fetchall())

    async def execute(self, sql: str, *params: Any) -> int:
        return await self._call(lambda: self.conn.execute(sql, _params(params)).rowcount)

    async def execute_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._call(lambda: self.conn.executemany(sql, [_params(row) for row in rows]))

    async def stream(self, sql: str, *params: Any, batch: int) -> AsyncGenerator[list[Row]]:
        cursor = await self._call(lambda: self.conn.execute(sql, _params(params)))
        try:
            while rows := await self._call(lambda: cursor.fetchmany(batch)):
                yield list(rows)
        finally:
            await self._call(cursor.close)


def _run_to_end(write: Awaitable[T]) -> T:
    """The result of a coroutine that awaits nothing but an in-thread `SQLiteDb`."""
    assert isinstance(write, Coroutine)
    try:
        write.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    write.close()
    raise RuntimeError("a write waited for something other than its database connection")


class SQLiteStorage(Storage):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._writer: aiosqlite.Connection | None = None
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all_readers: list[aiosqlite.Connection] = []
        self._queue: asyncio.Queue[_QueuedWrite | None] = asyncio.Queue()
        self._writer_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        # (site_id, page_id) -> head, or None for a page known to have no thread yet.
        self._heads = HeadCache()
        self._sites = SiteCache()
        # This process takes every event from the rate limits: checks need not read them.
        self._due_times: DueTimes = DueTimes(RATE_LIMIT_KEYS_KEPT)
        self._data_version = 0
        self._event_sink: EventSink | None = None
        self._files: OpenedFiles | None = None
        # What happened to the files at the path, once the writer has seen it: from then on
        # every read and write is refused, and what was committed is saved (`_saved`).
        self._lost: str | None = None
        self._saved = False
        self._save_failed = False  # said once in the log, then tried again quietly
        self._caching = True  # every write to the file goes through this process or is noticed

    # -- life cycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the file (created and migrated as needed) and write to it once; raises
        SetupError, naming the file and what to do, when it cannot be read or written."""
        try:
            await self._open()
        except BaseException as exc:
            # Every connection runs a thread: one left behind keeps the process from exiting.
            await self.close()
            if isinstance(exc, sqlite3.Error | OSError):
                raise SetupError(_cannot_use(self.path, exc)) from exc
            raise

    async def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Fail here if the file cannot even be opened: an aiosqlite connection that fails to
        # open leaves its thread to report it to an event loop that is gone by then.
        await asyncio.to_thread(lambda: sqlite3.connect(self.path).close())
        self._writer = await self._connect("PRAGMA journal_mode = WAL")
        writer = self._writer

        async def start(db: SQLiteDb) -> int:
            await migrate(
                lambda rebuilds: _migration_lock(db, rebuilds, str(self.path)), str(self.path)
            )
            async with _write_lock(db):
                # A file that can be read but not written fails here, not at the first comment.
                await mark_ready(db)
            return int(await db.fetch_value("PRAGMA data_version"))

        # Run whole in the writer's thread, as a batch of writes is: one round trip, not one
        # a statement (a dozen at each start).
        self._data_version = await writer._execute(  # type: ignore[no-untyped-call]
            lambda: _run_to_end(start(SQLiteDb(writer, in_thread=True)))
        )
        for _ in range(READERS):
            reader = await self._connect(
                "PRAGMA query_only = ON", f"PRAGMA cache_size = -{READER_CACHE_KIB}"
            )
            self._all_readers.append(reader)
            self._readers.put_nowait(reader)
        self._files = OpenedFiles.at(self.path)  # the -wal and -shm exist once read through
        self._writer_task = asyncio.create_task(self._run_writer(), name="sqlite-writer")
        self._watch_task = asyncio.create_task(self._watch(), name="sqlite-watch")

    async def _connect(self, *pragmas: str) -> aiosqlite.Connection:
        """A connection with every connection's settings and then `pragmas`, all set in one
        round trip to its thread (each round trip costs a wake-up of the event loop: a
        server's start made two dozen of them, a good part of a test's setup)."""
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        statements = (
            f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
            "PRAGMA synchronous = FULL",
            "PRAGMA foreign_keys = ON",
            *pragmas,
        )

        def configure() -> None:
            for statement in statements:
                _run_waiting(conn._conn, statement)

        try:
            conn.row_factory = sqlite3.Row
            await conn._execute(configure)  # type: ignore[no-untyped-call]
        except BaseException:
            await conn.close()
            raise
        return conn

    async def close(self) -> None:
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch_task
            self._watch_task = None
        if self._writer_task is not None:
            await self._queue.put(None)
            await self._writer_task
            self._writer_task = None
        for reader in self._all_readers:
            await reader.close()
        self._all_readers.clear()
        if self._writer is not None:
            await self._writer.close()
            self._writer = None

    # -- the writer ---------------------------------------------------------------------------

    async def _run(self, op: Callable[[Db], Awaitable[T]], *, waits: bool = False) -> T:
        """Run `op` in the next write transaction; return its result once committed.

        Unless it `waits` for more than its `Db` (rows streamed from another database, say),
        `op` runs in the writer's thread (see `_run_to_end`). Its after-commit steps run right
        after the COMMIT, on the event loop, so caches follow the database even when the
        caller has gone away in the meantime.
        """
        if self._writer_task is None:
            raise RuntimeError("storage is not open")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_QueuedWrite(op, future, waits))
        return await future

    async def _run_writer(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                queued = self._queue.get_nowait()
                if queued is None:
                    await self._commit_batch(batch)
                    return
                batch.append(queued)
            await self._commit_batch(batch)

    async def _commit_batch(self, batch: list[_QueuedWrite]) -> None:
        if self._lost is not None:
            await self._save_what_was_committed()
            _refuse(batch, None)
            return
        conn = self._writer
        assert conn is not None
        try:
            if any(write.waits for write in batch):  # its op awaits more than its Db
                outcomes = await self._batch(batch, in_thread=False)
            else:
                # One round trip to the connection's thread for the whole transaction.
                # (aiosqlite runs each of its own calls this way, through the same queue.)
                outcomes = await conn._execute(  # type: ignore[no-untyped-call]
                    lambda: _run_to_end(self._batch(batch, in_thread=True))
                )
        except Exception as exc:
            hint = ""
            if isinstance(exc, _FilesChanged):
                self._lost = str(exc)
                # Nor is anything answered from memory any more: thread heads and sites, and
                # the answers kept while cache_stamp() stays the same (documents, counts).
                self._caching = False
                self._forget_cached()
                log.error("%s while widget had it open; refusing every read and write", exc)
            elif _is_fault(exc):
                hint = _cannot_write_now(self.path, exc)
                log.error("write transaction failed: %s %d writes refused", hint, len(batch))
            else:
                log.exception("write transaction failed; %d writes refused", len(batch))
            if self._lost is not None:
                await self._save_what_was_committed()
            _refuse(batch, exc, hint)
            return
        for write, db, result, error in outcomes:
            if error is None:
                try:
                    db.committed()
                except Exception:
                    log.exception("after-commit step failed; forgetting cached state")
                    self._forget_cached()
            if write.future.done():
                continue
            if error is not None:
                write.future.set_exception(error)
            else:
                write.future.set_result(result)

    async def _batch(self, batch: list[_QueuedWrite], in_thread: bool) -> list[_Outcome]:
        """BEGIN IMMEDIATE, each write in a savepoint of its own, COMMIT. Raises (after a
        ROLLBACK) when the transaction as a whole failed; a write that failed alone is undone
        alone and reported in its outcome. `in_thread`: run whole in the writer connection's
        thread (`_run_to_end`), else each statement is a round trip from the event loop."""
        assert self._writer is not None and self._files is not None
        conn = SQLiteDb(self._writer, in_thread=in_thread)
        outcomes: list[_Outcome] = []
        try:
            await conn.execute("BEGIN IMMEDIATE")
            for write in batch:
                if write.future.cancelled():  # nobody waits, so nobody was told it happened
                    continue
                await conn.execute("SAVEPOINT write_op")
                db = SQLiteDb(self._writer, in_thread=in_thread)
                try:
                    result = await write.op(db)
                except Exception as exc:
                    # The file failed (locked, full, ...) or SQLite undid the whole transaction.
                    if _is_fault(exc) or not conn.conn.in_transaction:
                        raise
                    await conn.execute("ROLLBACK TO write_op")
                    await conn.execute("RELEASE write_op")
                    outcomes.append((write, db, None, exc))
                else:
                    await conn.execute("RELEASE write_op")
                    outcomes.append((write, db, result, None))
            # Last moment to notice that this COMMIT would go to a file no restart will find.
            changed = self._files.what_changed()
            if changed is not None:
                raise _FilesChanged(changed)
            await conn.execute("COMMIT")
        except BaseException:
            if conn.conn.in_transaction:
                with contextlib.suppress(Exception):
                    await conn.execute("ROLLBACK")
            raise
        return outcomes

    async def _save_what_was_committed(self) -> None:
        """Once the files have changed under the server: put every committed write where a
        restart will find it, trying again on each round of the writer until it works.

        A checkpoint moves the -wal's commits into the database file the server has open
        (the -wal may be what was deleted) and empties the -wal. If that file is no longer at
        the path (deleted, or moved and maybe replaced), a copy of it goes to the path, or
        beside whatever is there now.
        """
        if self._saved:
            return
        conn, files = self._writer, self._files
        assert conn is not None and files is not None
        try:
            rows = await conn.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
            if next(iter(rows))[0]:
                raise sqlite3.OperationalError("readers kept the checkpoint from finishing")
            kept = self.path
            if files.database_is_elsewhere():
                copy = self.path.with_name(f".{self.path.name}.saving-{os.getpid()}")
                copy.unlink(missing_ok=True)  # what an earlier try left unfinished
                self.path.parent.mkdir(parents=True, exist_ok=True)
                await conn.execute("VACUUM INTO ?", (str(copy),))
                kept = place_copy(copy, self.path)
        except (sqlite3.Error, OSError) as exc:
            if not self._save_failed:
                self._save_failed = True
                log.error(
                    "cannot save what was committed to %s (%s); only this process (pid %d)"
                    " holds it now: keep it running while you fix that, it tries again"
                    " every second",
                    self.path, exc, os.getpid(),
                )  # fmt: skip
            return
        self._saved = True
        if kept == self.path:
            log.error("every committed write is in %s; restart widget to serve again", kept)
        else:
            log.error(
                "%s is not the database widget had open; what widget had is saved in %s."
                " Keep one of them at %s, then restart widget",
                self.path, kept, self.path,
            )  # fmt: skip

    async def _watch(self) -> None:
        """Housekeeping through the writer's queue, so it never runs inside a batch: notice
        writes by other processes (the command line), and drop spent rate-limit rows. Each
        round is also a write transaction, so files changed under the server are noticed
        within a second even when nobody writes."""
        last_prune = time.monotonic()
        while True:
            await asyncio.sleep(EXTERNAL_CHECK_S)
            try:
                await self._run(self._notice_external_writes)
                if time.monotonic() - last_prune > PRUNE_EVERY_S:
                    last_prune = time.monotonic()
                    await self._run(prune_expired)
            except StorageUnavailable:
                continue  # logged by the writer; try again on the next round

    async def _notice_external_writes(self, db: Db) -> None:
        """Forget cached heads and sites when another process has written to the file.

        `data_version` on the writer connection changes only for other connections' commits.
        """
        version = int(await db.fetch_value("PRAGMA data_version"))
        if version != self._data_version:
            self._data_version = version
            db.after_commit(self._forget_cached)

    def gauges(self) -> DatabaseGauges:
        idle = self._readers.qsize()
        return DatabaseGauges(
            write_queue=self._queue.qsize(),
            connections_idle=idle,
            connections_busy=len(self._all_readers) - idle,
            connections_max=len(self._all_readers),
        )

    def on_event(self, sink: EventSink, missed: MissedEvents | None = None) -> None:
        # This process's own writer makes every change it reports: none can go unheard.
        self._event_sink = sink

    def _committed(
        self, head: ThreadHead, kind: ThreadEventKind, comment_id: int, count: int
    ) -> None:
        """After a commit that changed a thread: cache its head and tell the readers."""
        self._heads.committed(head)
        if self._event_sink is not None:
            event = ThreadEvent(head.site_id, head.page_id, kind, comment_id, head.version, count)
            self._event_sink(event)

    # -- reads --------------------------------------------------------------------------------

    dialect = SQLITE

    @contextlib.asynccontextmanager
    async def _read(self) -> AsyncIterator[SQLiteDb]:
        if self._lost is not None:
            raise StorageUnavailable()
        conn = await self._readers.get()
        try:
            yield SQLiteDb(conn)
        except sqlite3.Error as exc:
            if not _is_fault(exc):
                raise
            log.error("read failed: %s", exc)
            raise StorageUnavailable() from exc
        finally:
            self._readers.put_nowait(conn)

    @contextlib.asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[SQLiteDb]:
        async with self._read() as db:
            await db.execute("BEGIN")
            try:
                yield db
            finally:
                await db.execute("COMMIT")

    # -- the writer's news --------------------------------------------------------------------

    async def _tell(
        self, db: Db, head: ThreadHead, kind: ThreadEventKind, comment_id: int, count: int
    ) -> None:
        db.after_commit(lambda: self._committed(head, kind, comment_id, count))

    async def _sites_changed(self, db: Db, site_id: str | None) -> None:
        db.after_commit(lambda: self._sites.forget(site_id))

    # -- loading a dump -----------------------------------------------------------------------

    async def _load_rows(self, db: Db, batch: RowBatch) -> None:
        columns = COPY_COLUMNS[batch.table]
        await db.execute_many(
            f"INSERT INTO {batch.table} ({', '.join(columns)}) VALUES ({marks(columns)})",
            # The adapter turns times into seconds; flags are integers already (bool is int).
            [[json.dumps(v) if c == "settings" else v for c, v in zip(columns, row, strict=True)]
             for row in batch.rows],
        )  # fmt: skip

    async def _loaded(self, db: Db, largest_ids: Mapping[str, int]) -> None:
        # sqlite_sequence has followed the ids loaded; the source may have given larger ones.
        for table, largest in largest_ids.items():
            await db.execute(
                "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", largest, table
            )
            await db.execute(
                "INSERT INTO sqlite_sequence (name, seq) SELECT ?, ?"
                " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?)",
                table, largest, table,
            )  # fmt: skip

    async def _largest_ids(self, db: Db) -> list[tuple[str, int]]:
        rows = await db.fetch_all("SELECT name, seq FROM sqlite_sequence WHERE seq > 0")
        return [(row["name"], row["seq"]) for row in rows]


# -- copying: SQLite's storage classes to and from plain Python values --------------------------

_TIMES = {"created_at", "edited_at", "updated_at", "expires_at", "confirmed_at", "due_at",
          "locked_until", "failed_at", "last_used_at", "seen_at"}  # fmt: skip
_FLAGS = {"notify", "pinned", "closed", "notify_posts"}


def _from_sqlite(columns: Sequence[str], row: Row) -> tuple[Any, ...]:
    values = []
    for column, value in zip(columns, row, strict=True):
        if column in _TIMES and value is not None:
            value = _dt(value)
        elif column in _FLAGS:
            value = bool(value)
        elif column == "settings":
            value = json.loads(value)
        values.append(value)
    return tuple(values)


def _run_waiting(conn: sqlite3.Connection, statement: str) -> None:
    """Run `statement` to the end (a statement left open holds a snapshot that a write cannot
    follow), waiting up to BUSY_TIMEOUT_MS while another connection holds the file. SQLite
    waits by itself (busy_timeout) for all but one: switching a file to WAL fails at once
    while another connection is in a write transaction on it, as a process starting beside
    this one on a new data folder is for a moment (a server started with `widget site add`
    gave up so in CI; four processes opening one new file here, about one round in 20)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute(statement).fetchall()
            return
        except sqlite3.OperationalError as exc:
            busy = getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() > deadline:
                raise
        time.sleep(0.01)


def _is_fault(exc: BaseException) -> bool:
    """Whether `exc` says the file cannot serve right now (see _FAULTS)."""
    code = getattr(exc, "sqlite_errorcode", 0)
    return isinstance(exc, sqlite3.Error) and (code & 0xFF) in _FAULTS


def _refuse(batch: Sequence[_QueuedWrite], cause: BaseException | None, hint: str = "") -> None:
    """Tell everyone waiting on `batch` that none of it was saved."""
    failure = StorageUnavailable.unsaved()
    failure.__cause__ = cause
    failure.operator_hint = hint
    for write in batch:
        if not write.future.done():
            write.future.set_exception(failure)


def _cannot_write_now(path: Path, exc: BaseException) -> str:
    """Why a write transaction failed on a file that serves otherwise, and what to do: for
    the log, and for a command that was writing."""
    path = path.absolute()
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code == sqlite3.SQLITE_FULL:
        return f"The disk holding {path} is full ({exc}): free some space there. Nothing was saved."
    if code == sqlite3.SQLITE_READONLY:
        return (
            f"{path} cannot be written ({exc}): it must be writable by the user widget runs as,"
            " on a disk mounted read-write. Nothing was saved."
        )
    return f"{path} cannot be written now ({exc}): try again in a moment. Nothing was saved."


def _cannot_use(path: Path, exc: sqlite3.Error | OSError) -> str:
    """Why widget cannot serve from the file, and what to do: for whoever starts it."""
    path = path.absolute()
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    if code in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
        return (
            f"{path} is not a widget database, or it is damaged ({reason}). Restore it from"
            " a backup, or move it away to start with an empty database."
        )
    if code == sqlite3.SQLITE_FULL or getattr(exc, "errno", None) == errno.ENOSPC:
        return f"The disk holding {path} is full ({reason}): free some space, then start again."
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return (
            f"{path} is locked by another program ({reason}): let it finish or stop it, then"
            " start widget again."
        )
    return (
        f"cannot write to {path} ({reason}). The folder {path.parent} and the files in"
        " it must be writable by the user widget runs as, on a disk mounted read-write: fix"
        " that, or point WIDGET_DATA_DIR (or WIDGET_DATABASE_URL) at a place that is."
    )


@contextlib.asynccontextmanager
async def _migration_lock(db: SQLiteDb, rebuilds: bool, database: str) -> AsyncIterator[SQLiteDb]:
    """`_write_lock` for a migration. One that rebuilds tables (migrations.REBUILDS_TABLES)
    runs as SQLite's docs say: foreign keys off around the transaction (dropping a table
    would otherwise delete the rows naming its rows), and `PRAGMA foreign_key_check` before
    COMMIT: a row it left naming one that is not there (and did not before) undoes it all."""
    if not rebuilds:
        async with _write_lock(db):
            yield db
        return
    await db.execute("PRAGMA foreign_keys = OFF")  # a no-op inside a transaction
    try:
        async with _write_lock(db):
            before = await _dangling_references(db)
            yield db
            left = await _dangling_references(db) - before
            if left:
                table, row, parent = sorted(left, key=str)[0]
                which = f"row {row} of {table}" if row is not None else f"a row of {table}"
                raise SetupError(
                    f"Upgrading {database} would leave rows naming rows that are not there"
                    f" ({len(left)}; the first: {which} names a row of {parent} that is not"
                    " there); nothing was changed. Please report this, with the version of"
                    " widget."
                )
    finally:
        await db.execute("PRAGMA foreign_keys = ON")


async def _dangling_references(db: SQLiteDb) -> set[tuple[str, int | None, str]]:
    """(table, rowid, referenced table) of each row whose foreign key names no row (the rowid
    is None in a WITHOUT ROWID table)."""
    rows = await db.fetch_all("PRAGMA foreign_key_check")
    return {(row[0], row[1], row[2]) for row in rows}


@contextlib.asynccontextmanager
async def _write_lock(db: SQLiteDb) -> AsyncIterator[SQLiteDb]:
    """A write transaction outside the writer, for start-up, when another process may be
    starting on the same file: BEGIN IMMEDIATE waits for the write lock (busy_timeout), where
    a statement that reads first and then writes fails at once if the other wrote between."""
    await db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        # SQLite undoes the transaction itself on some errors (a full disk, say): a ROLLBACK
        # then fails, and its "no transaction is active" would hide why.
        if db.conn.in_transaction:
            await db.execute("ROLLBACK")
        raise
    await db.execute("COMMIT")
