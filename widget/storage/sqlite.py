"""The embedded backend: one SQLite file in WAL mode.

One writer connection takes every write, in batches: whatever writes queue up while a batch
commits go into the next transaction together (group commit), each inside its own savepoint so
that one failing write never undoes another. A write is acknowledged only after its COMMIT has
returned with `synchronous=FULL`, so an acknowledged comment survives a killed process.

Reads go through a small pool of read-only connections. Thread heads (version and counts) and
sites are kept in memory: this process makes every write to the file that the server itself
makes, so it updates them as it commits. Writes from other processes (the command line) are
noticed through `PRAGMA data_version` within about a second.

Faults fail closed. A file that is locked, full, read-only or damaged refuses the reads and
writes it cannot serve (StorageUnavailable, a 503). A file deleted, moved or replaced under
the server (or its -wal or -shm) is noticed before the next COMMIT, at the latest a second
later: from then on every read and write is refused, and what the server had committed is
saved where a restart finds it (see `_save_what_was_committed`).
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
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import aiosqlite

from widget.errors import Conflict, Forbidden, Invalid, NotFound, SetupError, StorageUnavailable

from .base import (
    ADMIN_COLUMNS,
    COMMENT_COLUMNS,
    COPY_COLUMNS,
    COPY_KEYS,
    ERASED,
    HEAD_COLUMNS,
    JOB_COLUMNS,
    NOT_ERASED,
    POST_LIKE,
    QUEUE_SEARCH,
    QUEUE_SELECT,
    READINESS_KEY,
    SHOWN_REPLY,
    SUBSCRIPTION_COLUMNS,
    USER_COLUMNS,
    VISIBLE_ROOT,
    Admin,
    AuthorHistory,
    Ban,
    Comment,
    CommentStatus,
    DryRun,
    EventSink,
    ExportBatch,
    GuestLikeLimit,
    ImportedLike,
    ImportedThread,
    ImportItem,
    ImportTally,
    MissedEvents,
    NewComment,
    NewJob,
    OutboxJob,
    PageRef,
    PageWindow,
    Profile,
    QueueItem,
    QueueQuery,
    RateLimit,
    RowBatch,
    SingleUse,
    Site,
    Subscription,
    ThreadEvent,
    ThreadEventKind,
    ThreadHead,
    ThreadPage,
    User,
    admin_from_row,
    comment_from_row,
    export_queries,
    export_row,
    first_publication,
    head_from_row,
    like_pattern,
    merged_origin,
    queue_item_from_row,
    status_change,
    subscription_from_row,
    user_from_row,
)
from .caching import HeadCache, SiteCache
from .migrations import migrations, refuse_newer_schema, split_statements
from .sqlite_files import OpenedFiles, place_copy

__all__ = ["SQLiteStorage"]

log = logging.getLogger(__name__)

T = TypeVar("T")
WriteOp = Callable[[aiosqlite.Connection], Awaitable[T]]
AfterCommit = Callable[[T], None]

MAX_BATCH = 256  # writes per transaction
READERS = 2
HEAD_CACHE_ENTRIES = 20_000
EXTERNAL_CHECK_S = 1.0  # how often to look for writes made by other processes
RATE_LIMIT_PRUNE_S = 300.0  # how often to drop rate-limit rows that no longer limit anyone
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


def _ts(moment: datetime) -> float:
    return moment.timestamp()


def _dt(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class _FilesChanged(Exception):
    """The database, its -wal or its -shm at the path is not the file the server opened."""


@dataclasses.dataclass(slots=True)
class _QueuedWrite:
    op: WriteOp[Any]
    future: asyncio.Future[Any]
    after_commit: AfterCommit[Any] | None


class SQLiteStorage:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._writer: aiosqlite.Connection | None = None
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all_readers: list[aiosqlite.Connection] = []
        self._queue: asyncio.Queue[_QueuedWrite | None] = asyncio.Queue()
        self._writer_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        # (site_id, page_id) -> head, or None for a page known to have no thread yet.
        self._heads = HeadCache(HEAD_CACHE_ENTRIES)
        self._sites = SiteCache()
        self._data_version = 0
        self._event_sink: EventSink | None = None
        self._files: OpenedFiles | None = None
        # What happened to the files at the path, once the writer has seen it: from then on
        # every read and write is refused, and what was committed is saved (`_saved`).
        self._lost: str | None = None
        self._saved = False
        self._save_failed = False  # said once in the log, then tried again quietly

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
        self._writer = writer = await self._connect()
        # Read to the end: a statement left open holds a snapshot that a write cannot follow.
        await _fetch(writer, "PRAGMA journal_mode = WAL")
        await self._migrate(writer)
        # A file that can be read but not written fails here, not at the first comment.
        async with _write_lock(writer):
            await _mark_ready(writer)
        self._data_version = await self._read_data_version()
        for _ in range(READERS):
            reader = await self._connect()
            self._all_readers.append(reader)
            await reader.execute("PRAGMA query_only = ON")
            self._readers.put_nowait(reader)
        self._files = OpenedFiles.at(self.path)  # the -wal and -shm exist once read through
        self._writer_task = asyncio.create_task(self._run_writer(), name="sqlite-writer")
        self._watch_task = asyncio.create_task(self._watch(), name="sqlite-watch")

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await conn.execute("PRAGMA synchronous = FULL")
            await conn.execute("PRAGMA foreign_keys = ON")
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

    async def _migrate(self, conn: aiosqlite.Connection) -> None:
        async with _write_lock(conn):
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
            )
        applied = await _applied_migrations(conn)
        refuse_newer_schema("sqlite", applied, str(self.path))
        for number, name, sql in migrations("sqlite"):
            if number in applied:
                continue
            # executescript would commit on its own; run the statements inside one transaction.
            async with _write_lock(conn):
                # Another process starting on the same file may have applied it since: look
                # again, now that this one holds the write lock.
                if number not in await _applied_migrations(conn):
                    for statement in split_statements(sql):
                        await conn.execute(statement)
                    await conn.execute(
                        "INSERT INTO schema_migrations (number, name, applied_at) VALUES (?, ?, ?)",
                        (number, name, time.time()),
                    )
                    log.info("applied migration %04d_%s", number, name)

    async def check_ready(self) -> None:
        async with self._reader() as conn:
            await _fetch(conn, "SELECT max(number) FROM schema_migrations")
        await self._write(_mark_ready)

    # -- the writer ---------------------------------------------------------------------------

    async def _write(self, op: WriteOp[T], after_commit: AfterCommit[T] | None = None) -> T:
        """Run `op` in the next write transaction; return its result once committed.

        `after_commit` runs with the result right after the COMMIT, in the writer, so caches
        follow the database even when the caller has gone away in the meantime.
        """
        if self._writer_task is None:
            raise RuntimeError("storage is not open")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_QueuedWrite(op, future, after_commit))
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
        conn, files = self._writer, self._files
        assert conn is not None and files is not None
        outcomes: list[tuple[_QueuedWrite, Any, BaseException | None]] = []
        try:
            await conn.execute("BEGIN IMMEDIATE")
            for write in batch:
                if write.future.cancelled():  # nobody waits, so nobody was told it happened
                    continue
                await conn.execute("SAVEPOINT write_op")
                try:
                    result = await write.op(conn)
                except Exception as exc:
                    # The file failed (locked, full, ...) or SQLite undid the whole transaction.
                    if _is_fault(exc) or not conn.in_transaction:
                        raise
                    await conn.execute("ROLLBACK TO write_op")
                    await conn.execute("RELEASE write_op")
                    outcomes.append((write, None, exc))
                else:
                    await conn.execute("RELEASE write_op")
                    outcomes.append((write, result, None))
            # Last moment to notice that this COMMIT would go to a file no restart will find.
            changed = files.what_changed()
            if changed is not None:
                raise _FilesChanged(changed)
            await conn.execute("COMMIT")
        except Exception as exc:
            if isinstance(exc, _FilesChanged):
                self._lost = str(exc)
                log.error("%s while widget had it open; refusing every read and write", exc)
            elif _is_fault(exc):
                log.error("write transaction failed (%s); %d writes refused", exc, len(batch))
            else:
                log.exception("write transaction failed; %d writes refused", len(batch))
            if conn.in_transaction:
                with contextlib.suppress(Exception):
                    await conn.execute("ROLLBACK")
            if self._lost is not None:
                await self._save_what_was_committed()
            _refuse(batch, exc)
            return
        for write, result, error in outcomes:
            if error is None and write.after_commit is not None:
                try:
                    write.after_commit(result)
                except Exception:
                    log.exception("after-commit step failed; forgetting cached state")
                    self._forget_cached()
            if write.future.done():
                continue
            if error is not None:
                write.future.set_exception(error)
            else:
                write.future.set_result(result)

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
            rows = await _fetch(conn, "PRAGMA wal_checkpoint(TRUNCATE)")
            if rows[0][0]:
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

    async def _read_data_version(self) -> int:
        assert self._writer is not None
        rows = await _fetch(self._writer, "PRAGMA data_version")
        return int(rows[0][0])

    async def _watch(self) -> None:
        """Housekeeping through the writer's queue, so it never runs inside a batch: notice
        writes by other processes (the command line), and drop spent rate-limit rows. Each
        round is also a write transaction, so files changed under the server are noticed
        within a second even when nobody writes."""
        last_prune = time.monotonic()
        while True:
            await asyncio.sleep(EXTERNAL_CHECK_S)
            try:
                await self._write(self._notice_external_writes)
                if time.monotonic() - last_prune > RATE_LIMIT_PRUNE_S:
                    last_prune = time.monotonic()
                    await self._write(_prune_rate_limits)
            except StorageUnavailable:
                continue  # logged by the writer; try again on the next round

    async def _notice_external_writes(self, conn: aiosqlite.Connection) -> None:
        """Forget cached heads and sites when another process has written to the file.

        `data_version` on the writer connection changes only for other connections' commits.
        """
        version = await self._read_data_version()
        if version != self._data_version:
            self._data_version = version
            self._forget_cached()

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

    def _forget_site(self, site_id: str) -> None:
        self._sites.forget(site_id)

    def _forget_cached(self) -> None:
        self._heads.clear()
        self._sites.forget()

    # -- reads --------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _reader(self) -> AsyncIterator[aiosqlite.Connection]:
        if self._lost is not None:
            raise StorageUnavailable()
        conn = await self._readers.get()
        try:
            yield conn
        except sqlite3.Error as exc:
            if not _is_fault(exc):
                raise
            log.error("read failed: %s", exc)
            raise StorageUnavailable() from exc
        finally:
            self._readers.put_nowait(conn)

    # -- caches -------------------------------------------------------------------------------

    # -- sites --------------------------------------------------------------------------------

    async def add_site(
        self, site_id: str, name: str, origins: Sequence[str], settings: Mapping[str, Any]
    ) -> Site:
        now = time.time()

        async def op(conn: aiosqlite.Connection) -> None:
            try:
                await conn.execute(
                    "INSERT INTO sites (id, name, settings, created_at) VALUES (?, ?, ?, ?)",
                    (site_id, name, json.dumps(dict(settings)), now),
                )
            except sqlite3.IntegrityError as exc:
                self._forget_site(site_id)  # made elsewhere: what is cached of it is stale
                raise Conflict(f"A site called {site_id!r} already exists.") from exc
            await conn.executemany(
                "INSERT OR IGNORE INTO site_origins (site_id, origin) VALUES (?, ?)",
                [(site_id, origin) for origin in origins],
            )

        await self._write(op, lambda _: self._forget_site(site_id))
        site = await self.get_site(site_id)
        assert site is not None
        return site

    async def get_site(self, site_id: str) -> Site | None:
        known, site = self._sites.lookup(site_id)
        if known:
            return site
        generation = self._sites.generation
        async with self._reader() as conn:
            site = await self._load_site(conn, site_id)
        self._sites.fill(site_id, site, generation)
        return site

    async def _load_site(self, conn: aiosqlite.Connection, site_id: str) -> Site | None:
        rows = await _fetch(conn, "SELECT * FROM sites WHERE id = ?", (site_id,))
        if not rows:
            return None
        origins = await _fetch(
            conn, "SELECT origin FROM site_origins WHERE site_id = ? ORDER BY origin", (site_id,)
        )
        row = rows[0]
        return Site(
            id=row["id"],
            name=row["name"],
            origins=tuple(o["origin"] for o in origins),
            settings=json.loads(row["settings"]),
            revision=row["revision"],
            created_at=_dt(row["created_at"]),
        )

    async def list_sites(self) -> list[Site]:
        async with self._reader() as conn:
            rows = await _fetch(conn, "SELECT id FROM sites ORDER BY id")
            sites = [await self._load_site(conn, row["id"]) for row in rows]
        return [site for site in sites if site is not None]

    async def update_site(
        self,
        site_id: str,
        *,
        name: str | None = None,
        origins: Sequence[str] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> Site:
        async def op(conn: aiosqlite.Connection) -> None:
            cursor = await conn.execute(
                "UPDATE sites SET revision = revision + 1,"
                " name = coalesce(?, name), settings = coalesce(?, settings) WHERE id = ?",
                (name, json.dumps(dict(settings)) if settings is not None else None, site_id),
            )
            if cursor.rowcount == 0:
                raise NotFound(f"There is no site called {site_id!r}.")
            if origins is not None:
                await conn.execute("DELETE FROM site_origins WHERE site_id = ?", (site_id,))
                await conn.executemany(
                    "INSERT OR IGNORE INTO site_origins (site_id, origin) VALUES (?, ?)",
                    [(site_id, origin) for origin in origins],
                )

        await self._write(op, lambda _: self._forget_site(site_id))
        site = await self.get_site(site_id)
        assert site is not None
        return site

    async def remove_site(self, site_id: str) -> bool:
        async def op(conn: aiosqlite.Connection) -> bool:
            cursor = await conn.execute("DELETE FROM sites WHERE id = ?", (site_id,))
            return cursor.rowcount > 0

        return await self._write(op, lambda _: self._forget_cached())

    # -- threads ------------------------------------------------------------------------------

    async def get_thread_head(self, site_id: str, page_id: str) -> ThreadHead | None:
        key = (site_id, page_id)
        known, head = self._heads.lookup(key)
        if known:
            return head
        generation = self._heads.generation
        async with self._reader() as conn:
            rows = await _fetch(
                conn,
                f"SELECT {HEAD_COLUMNS} FROM threads WHERE site_id = ? AND page_id = ?",
                (site_id, page_id),
            )
        head = head_from_row(rows[0]) if rows else None
        self._heads.fill(key, head, generation)
        return head

    async def get_thread_heads(
        self, site_id: str, page_ids: Sequence[str]
    ) -> dict[str, ThreadHead]:
        found: dict[str, ThreadHead] = {}
        missing = []
        for page_id in page_ids:
            known, head = self._heads.lookup((site_id, page_id))
            if not known:
                missing.append(page_id)
            elif head is not None:
                found[page_id] = head
        if missing:
            marks = ",".join("?" * len(missing))
            generation = self._heads.generation
            async with self._reader() as conn:
                rows = await _fetch(
                    conn,
                    f"SELECT {HEAD_COLUMNS} FROM threads"
                    f" WHERE site_id = ? AND page_id IN ({marks})",
                    (site_id, *missing),
                )
            loaded = {row["page_id"]: head_from_row(row) for row in rows}
            for page_id in missing:
                self._heads.fill((site_id, page_id), loaded.get(page_id), generation)
            found.update(loaded)
        return found

    async def get_thread(self, thread_id: int) -> ThreadHead | None:
        async with self._reader() as conn:
            rows = await _fetch(
                conn, f"SELECT {HEAD_COLUMNS} FROM threads WHERE id = ?", (thread_id,)
            )
        return head_from_row(rows[0]) if rows else None

    async def get_thread_page(
        self, thread_id: int, window: PageWindow
    ) -> tuple[ThreadHead, ThreadPage]:
        visible_root = "thread_id = ? AND parent_id IS NULL AND " + VISIBLE_ROOT
        async with self._reader() as conn:
            # One read transaction, so the head and the comments come from one snapshot.
            await conn.execute("BEGIN")
            try:
                head_rows = await _fetch(
                    conn, f"SELECT {HEAD_COLUMNS} FROM threads WHERE id = ?", (thread_id,)
                )
                if not head_rows:
                    raise NotFound("This thread does not exist.")
                if window.direction == "after":
                    cursor = window.cursor or 0
                    rows = await _fetch(
                        conn,
                        f"SELECT {COMMENT_COLUMNS} FROM comments"
                        f" WHERE {visible_root} AND id > ? ORDER BY id LIMIT ?",
                        (thread_id, cursor, window.size + 1),
                    )
                    more_after = len(rows) > window.size
                    roots = rows[: window.size]
                    more_before = cursor > 0 and await _exists(
                        conn, f"{visible_root} AND id <= ?", (thread_id, cursor)
                    )
                else:
                    cursor = window.cursor if window.cursor is not None else 2**62
                    rows = await _fetch(
                        conn,
                        f"SELECT {COMMENT_COLUMNS} FROM comments"
                        f" WHERE {visible_root} AND id < ? ORDER BY id DESC LIMIT ?",
                        (thread_id, cursor, window.size + 1),
                    )
                    more_before = len(rows) > window.size
                    roots = list(reversed(rows[: window.size]))
                    more_after = window.cursor is not None and await _exists(
                        conn, f"{visible_root} AND id >= ?", (thread_id, cursor)
                    )
                pinned: list[sqlite3.Row] = []
                if window.cursor is None:  # the default page shows the pinned on top
                    pinned = await _fetch(
                        conn,
                        f"SELECT {COMMENT_COLUMNS} FROM comments WHERE thread_id = ?"
                        f" AND pinned = 1 AND parent_id IS NULL AND {VISIBLE_ROOT} ORDER BY id",
                        (thread_id,),
                    )
                replies: list[sqlite3.Row] = []
                root_ids = {row["id"] for row in roots} | {row["id"] for row in pinned}
                if root_ids:
                    marks = ",".join("?" * len(root_ids))
                    replies = await _fetch(
                        conn,
                        f"SELECT {COMMENT_COLUMNS} FROM comments"
                        f" WHERE root_id IN ({marks}) AND {SHOWN_REPLY} ORDER BY id",
                        sorted(root_ids),
                    )
            finally:
                await conn.execute("COMMIT")
        page = ThreadPage(
            roots=[comment_from_row(row, _dt) for row in roots],
            replies=[comment_from_row(row, _dt) for row in replies],
            more_before=more_before,
            more_after=more_after,
            pinned=[comment_from_row(row, _dt) for row in pinned],
        )
        return head_from_row(head_rows[0]), page

    # -- comments -----------------------------------------------------------------------------

    async def get_comment(self, comment_id: int) -> Comment | None:
        async with self._reader() as conn:
            rows = await _fetch(
                conn, f"SELECT {COMMENT_COLUMNS} FROM comments WHERE id = ?", (comment_id,)
            )
        return comment_from_row(rows[0], _dt) if rows else None

    async def get_user_comments(self, thread_id: int, user_id: int) -> list[Comment]:
        async with self._reader() as conn:
            rows = await _fetch(
                conn,
                f"SELECT {COMMENT_COLUMNS} FROM comments WHERE user_id = ? AND thread_id = ?"
                " AND status <> 'deleted' ORDER BY id",
                (user_id, thread_id),
            )
        return [comment_from_row(row, _dt) for row in rows]

    async def add_comment(
        self, new: NewComment, rate_limit: RateLimit | Sequence[RateLimit] | None
    ) -> tuple[Comment, ThreadHead]:
        async def op(conn: aiosqlite.Connection) -> tuple[Comment, ThreadHead]:
            now = _ts(new.created_at)
            for limit in _limits(rate_limit):
                await _take_rate_token(conn, limit, now)
            if new.form_token is not None:
                await _spend(conn, new.form_token, now)
            thread_id = await _ensure_thread(conn, new.page, now)
            closed = await _fetch(conn, "SELECT closed FROM threads WHERE id = ?", (thread_id,))
            if closed[0]["closed"]:
                raise Forbidden("Comments are closed on this page.")
            root_id, depth = None, 1
            if new.parent_id is not None:
                parents = await _fetch(
                    conn,
                    "SELECT thread_id, root_id, depth, status FROM comments WHERE id = ?",
                    (new.parent_id,),
                )
                if not parents or parents[0]["thread_id"] != thread_id:
                    raise Invalid(
                        "The comment you are replying to is not on this page.",
                        {"parent": "That comment is not on this page."},
                    )
                if parents[0]["status"] != "approved":
                    raise Invalid(
                        "The comment you are replying to has been removed.",
                        {"parent": "That comment has been removed."},
                    )
                root_id = parents[0]["root_id"] or new.parent_id
                depth = parents[0]["depth"] + 1
            rows = await _fetch(
                conn,
                "INSERT INTO comments (thread_id, parent_id, root_id, depth, status, author_name,"
                " author_email, author_url, body_source, body_html, notify, remote_ip,"
                " created_at, user_id, author_avatar, author_provider, held_because, fingerprint)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                f" RETURNING {COMMENT_COLUMNS}",
                (
                    thread_id, new.parent_id, root_id, depth, new.status, new.author_name,
                    new.author_email, new.author_url, new.body_source, new.body_html,
                    int(new.notify), new.remote_ip, now, new.user_id, new.author_avatar,
                    new.author_provider, new.held_because, new.fingerprint,
                ),
            )  # fmt: skip
            comment = comment_from_row(rows[0], _dt)
            if comment.status != "spam":  # people to tell: subscribers, moderators, webhooks
                await _queue(conn, [("comment", {"comment": comment.id, "event": "created"})], now)
            if comment.status != "approved":  # held: the thread's readers see no change
                return comment, await _bump_thread(conn, thread_id, bump=False)
            # The newest comment's page title and URL win: pages get renamed.
            head = await _bump_thread(
                conn,
                thread_id,
                "comment_count = comment_count + 1,"
                " title = coalesce(nullif(?, ''), title), url = coalesce(nullif(?, ''), url)",
                (new.page.title, new.page.url),
            )
            return comment, head

        def committed(result: tuple[Comment, ThreadHead]) -> None:
            comment, head = result
            if comment.status == "approved":
                self._committed(head, "comment", comment.id, head.comment_count)

        return await self._write(op, committed)

    async def author_history(
        self, site_id: str, email: str, user_id: int | None, fingerprint: str, since: datetime
    ) -> AuthorHistory:
        async with self._reader() as conn:
            rows = await _fetch(
                conn,
                "SELECT EXISTS (SELECT 1 FROM comments c JOIN threads t ON t.id = c.thread_id"
                " WHERE t.site_id = ? AND c.status = 'approved'"
                " AND (c.user_id = ? OR (? <> '' AND lower(c.author_email) = lower(?))))"
                " AS approved, EXISTS (SELECT 1 FROM comments c JOIN threads t"
                " ON t.id = c.thread_id WHERE c.fingerprint = ? AND c.created_at >= ?"
                " AND t.site_id = ? AND c.status <> 'deleted') AS duplicate",
                (site_id, user_id, email, email, fingerprint, _ts(since), site_id),
            )
        return AuthorHistory(
            bool(rows[0]["approved"]), bool(rows[0]["duplicate"]) and bool(fingerprint)
        )

    async def list_bans(self, site_id: str) -> list[Ban]:
        cached = self._sites.lookup_bans(site_id)
        if cached is not None:
            return cached
        generation = self._sites.generation
        async with self._reader() as conn:
            rows = await _fetch(
                conn,
                "SELECT id, site_id, kind, value, note FROM bans"
                " WHERE site_id = ? OR site_id IS NULL ORDER BY id",
                (site_id,),
            )
        bans = [Ban(r["id"], r["site_id"], r["kind"], r["value"], r["note"]) for r in rows]
        self._sites.fill_bans(site_id, bans, generation)
        return bans

    async def add_ban(
        self, site_id: str | None, kind: str, value: str, note: str, at: datetime
    ) -> Ban:
        async def op(conn: aiosqlite.Connection) -> Ban:
            rows = await _fetch(
                conn,
                "INSERT INTO bans (site_id, kind, value, note, created_at) VALUES (?, ?, ?, ?, ?)"
                " RETURNING id, site_id, kind, value, note",
                (site_id, kind, value, note, _ts(at)),
            )
            row = rows[0]
            return Ban(row["id"], row["site_id"], row["kind"], row["value"], row["note"])

        return await self._write(op, lambda _: self._sites.forget())

    async def edit_comment(
        self,
        comment_id: int,
        *,
        body_source: str,
        body_html: str,
        author_name: str,
        author_url: str,
        edited_at: datetime,
    ) -> tuple[Comment, ThreadHead]:
        async def op(conn: aiosqlite.Connection) -> tuple[Comment, ThreadHead]:
            rows = await _fetch(
                conn,
                "UPDATE comments SET body_source = ?, body_html = ?, author_name = ?,"
                " author_url = ?, edited_at = ? WHERE id = ? AND status = 'approved'"
                f" RETURNING {COMMENT_COLUMNS}",
                (body_source, body_html, author_name, author_url, _ts(edited_at), comment_id),
            )
            if not rows:
                raise NotFound("This comment does not exist or has been removed.")
            comment = comment_from_row(rows[0], _dt)
            return comment, await _bump_thread(conn, comment.thread_id)

        def committed(result: tuple[Comment, ThreadHead]) -> None:
            comment, head = result
            self._committed(head, "edit", comment.id, head.comment_count)

        return await self._write(op, committed)

    async def delete_comment(self, comment_id: int) -> ThreadHead:
        async def op(conn: aiosqlite.Connection) -> ThreadHead:
            rows = await _fetch(
                conn,
                "UPDATE comments SET status = 'deleted' WHERE id = ? AND status = 'approved'"
                " RETURNING thread_id",
                (comment_id,),
            )
            if not rows:
                raise NotFound("This comment does not exist or has already been removed.")
            return await _bump_thread(
                conn, rows[0]["thread_id"], "comment_count = comment_count - 1"
            )

        return await self._write(
            op, lambda head: self._committed(head, "delete", comment_id, head.comment_count)
        )

    # -- moderation ---------------------------------------------------------------------------

    async def list_queue(self, query: QueueQuery) -> list[QueueItem]:
        where = [f"t.site_id IN ({','.join('?' * len(query.site_ids))})"]
        params: list[Any] = [*query.site_ids]
        if query.status is not None:
            where.append("c.status = ?")
            params.append(query.status)
        for text, columns in (
            (query.text, QUEUE_SEARCH["text"]),
            (query.author, QUEUE_SEARCH["author"]),
            (query.page, QUEUE_SEARCH["page"]),
        ):
            if text:
                where.append("(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in columns) + ")")
                params.extend([like_pattern(text)] * len(columns))
        if query.before_id is not None:
            where.append("c.id < ?")
            params.append(query.before_id)
        if query.thread_id is not None:
            where.append("c.thread_id = ?")
            params.append(query.thread_id)
        async with self._reader() as conn:
            rows = await _fetch(
                conn,
                f"{QUEUE_SELECT} WHERE {' AND '.join(where)} ORDER BY c.id DESC LIMIT ?",
                (*params, query.limit),
            )
        return [queue_item_from_row(row, _dt) for row in rows]

    async def count_by_status(self, site_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {site_id: {} for site_id in site_ids}
        if not site_ids:
            return counts
        async with self._reader() as conn:
            rows = await _fetch(
                conn,
                "SELECT t.site_id, c.status, count(*) AS n FROM comments c"
                " JOIN threads t ON t.id = c.thread_id"
                f" WHERE t.site_id IN ({','.join('?' * len(site_ids))})"
                " GROUP BY t.site_id, c.status",
                tuple(site_ids),
            )
        for row in rows:
            counts[row["site_id"]][row["status"]] = row["n"]
        return counts

    async def set_status(
        self, comment_ids: Sequence[int], status: CommentStatus, site_ids: Sequence[str]
    ) -> list[Comment]:
        async def op(conn: aiosqlite.Connection) -> list[tuple[Comment, ThreadHead | None]]:
            changed: list[tuple[Comment, ThreadHead | None]] = []
            for comment_id in comment_ids:
                rows = await _fetch(
                    conn,
                    "SELECT c.status FROM comments c JOIN threads t ON t.id = c.thread_id"
                    f" WHERE c.id = ? AND t.site_id IN ({','.join('?' * len(site_ids))})",
                    (comment_id, *site_ids),
                )
                if not rows or rows[0]["status"] == status:
                    continue
                updated = await _fetch(
                    conn,
                    f"UPDATE comments SET status = ? WHERE id = ? RETURNING {COMMENT_COLUMNS}",
                    (status, comment_id),
                )
                comment = comment_from_row(updated[0], _dt)
                if first_publication(rows[0]["status"], status):
                    await _queue(conn, [("comment", {"comment": comment_id, "event": "approved"})],
                                 time.time())  # fmt: skip
                delta = status_change(rows[0]["status"], status)
                head = None
                if delta:
                    head = await _bump_thread(
                        conn, comment.thread_id, "comment_count = comment_count + ?", (delta,)
                    )
                changed.append((comment, head))
            return changed

        def committed(changed: list[tuple[Comment, ThreadHead | None]]) -> None:
            for comment, head in changed:
                if head is not None:
                    kind: ThreadEventKind = "comment" if status == "approved" else "delete"
                    self._committed(head, kind, comment.id, head.comment_count)

        return [comment for comment, _ in await self._write(op, committed)]

    async def moderate_edit(
        self, comment_id: int, body_source: str, body_html: str, author_name: str,
        author_url: str, at: datetime,
    ) -> Comment:  # fmt: skip
        async def op(conn: aiosqlite.Connection) -> tuple[Comment, ThreadHead | None]:
            rows = await _fetch(
                conn,
                "UPDATE comments SET body_source = ?, body_html = ?, author_name = ?,"
                f" author_url = ?, edited_at = ? WHERE id = ? RETURNING {COMMENT_COLUMNS}",
                (body_source, body_html, author_name, author_url, _ts(at), comment_id),
            )
            if not rows:
                raise NotFound("This comment does not exist.")
            comment = comment_from_row(rows[0], _dt)
            if comment.status != "approved":  # not shown: the thread did not change
                return comment, None
            return comment, await _bump_thread(conn, comment.thread_id)

        def committed(result: tuple[Comment, ThreadHead | None]) -> None:
            comment, head = result
            if head is not None:
                self._committed(head, "edit", comment.id, head.comment_count)

        comment, _ = await self._write(op, committed)
        return comment

    async def set_pinned(self, comment_id: int, pinned: bool) -> Comment:
        async def op(conn: aiosqlite.Connection) -> tuple[Comment, ThreadHead]:
            rows = await _fetch(
                conn,
                "UPDATE comments SET pinned = ? WHERE id = ? AND parent_id IS NULL"
                f" RETURNING {COMMENT_COLUMNS}",
                (int(pinned), comment_id),
            )
            if not rows:
                raise Invalid("Only a top-level comment can be pinned.")
            comment = comment_from_row(rows[0], _dt)
            return comment, await _bump_thread(conn, comment.thread_id)

        def committed(result: tuple[Comment, ThreadHead]) -> None:
            comment, head = result
            self._committed(head, "edit", comment.id, head.comment_count)

        comment, _ = await self._write(op, committed)
        return comment

    async def set_closed(self, thread_id: int, closed: bool) -> ThreadHead:
        async def op(conn: aiosqlite.Connection) -> ThreadHead:
            if not await _fetch(conn, "SELECT 1 FROM threads WHERE id = ?", (thread_id,)):
                raise NotFound("This thread does not exist.")
            return await _bump_thread(conn, thread_id, "closed = ?", (int(closed),))

        return await self._write(
            op, lambda head: self._committed(head, "edit", 0, head.comment_count)
        )

    async def remove_ban(self, ban_id: int, site_ids: Sequence[str] | None) -> bool:
        async def op(conn: aiosqlite.Connection) -> bool:
            if site_ids is None:
                cursor = await conn.execute("DELETE FROM bans WHERE id = ?", (ban_id,))
            else:
                cursor = await conn.execute(
                    f"DELETE FROM bans WHERE id = ? AND site_id IN"
                    f" ({','.join('?' * len(site_ids))})",
                    (ban_id, *site_ids),
                )
            return cursor.rowcount > 0

        return await self._write(op, lambda _: self._sites.forget())

    # -- the outbox and subscriptions --------------------------------------------------------

    async def add_jobs(self, jobs: Sequence[NewJob], at: datetime) -> None:
        async def op(conn: aiosqlite.Connection) -> None:
            await _queue(conn, jobs, _ts(at))

        await self._write(op)

    async def claim_jobs(self, now: datetime, lease_s: float, limit: int) -> list[OutboxJob]:
        async def op(conn: aiosqlite.Connection) -> list[OutboxJob]:
            rows = await _fetch(
                conn,
                "UPDATE outbox SET locked_until = ? WHERE id IN (SELECT id FROM outbox"
                " WHERE failed_at IS NULL AND due_at <= ? AND coalesce(locked_until, 0) < ?"
                f" ORDER BY id LIMIT ?) RETURNING {JOB_COLUMNS}",
                (_ts(now) + lease_s, _ts(now), _ts(now), limit),
            )
            return sorted((_job(row) for row in rows), key=lambda job: job.id)

        return await self._write(op)

    async def finish_job(self, job_id: int, follow_ups: Sequence[NewJob], at: datetime) -> None:
        async def op(conn: aiosqlite.Connection) -> None:
            await conn.execute("DELETE FROM outbox WHERE id = ?", (job_id,))
            await _queue(conn, follow_ups, _ts(at))

        await self._write(op)

    async def retry_job(self, job_id: int, due_at: datetime | None, error: str) -> None:
        async def op(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, locked_until = NULL,"
                " due_at = coalesce(?, due_at), failed_at = CASE WHEN ? IS NULL THEN ? END"
                " WHERE id = ?",
                (error[:1000], _ts(due_at) if due_at else None, _ts(due_at) if due_at else None,
                 time.time(), job_id),
            )  # fmt: skip

        await self._write(op)

    async def outbox_counts(self) -> dict[str, int]:
        async with self._reader() as conn:
            rows = await _fetch(
                conn,
                "SELECT count(*) FILTER (WHERE failed_at IS NULL) AS queued,"
                " count(*) FILTER (WHERE failed_at IS NOT NULL) AS failed FROM outbox",
            )
        return {"queued": rows[0]["queued"], "failed": rows[0]["failed"]}

    async def subscribe(self, thread_id: int, email: str, at: datetime) -> Subscription:
        async def op(conn: aiosqlite.Connection) -> Subscription:
            rows = await _fetch(
                conn,
                "INSERT INTO subscriptions (thread_id, email, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (thread_id, email) DO UPDATE SET email = excluded.email"
                f" RETURNING {SUBSCRIPTION_COLUMNS}",
                (thread_id, email.lower(), _ts(at)),
            )
            return subscription_from_row(rows[0])

        return await self._write(op)

    async def get_subscription(self, subscription_id: int) -> Subscription | None:
        async with self._reader() as conn:
            rows = await _fetch(
                conn,
                f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = ?",
                (subscription_id,),
            )
        return subscription_from_row(rows[0]) if rows else None

    async def confirm_subscription(
        self, subscription_id: int, scope: Literal["thread", "replies"], at: datetime
    ) -> Subscription | None:
        async def op(conn: aiosqlite.Connection) -> Subscription | None:
            rows = await _fetch(
                conn,
                "UPDATE subscriptions SET scope = ?, confirmed_at = coalesce(confirmed_at, ?)"
                f" WHERE id = ? RETURNING {SUBSCRIPTION_COLUMNS}",
                (scope, _ts(at), subscription_id),
            )
            return subscription_from_row(rows[0]) if rows else None

        return await self._write(op)

    async def unsubscribe(self, subscription_id: int) -> bool:
        async def op(conn: aiosqlite.Connection) -> bool:
            cursor = await conn.execute(
                "DELETE FROM subscriptions WHERE id = ?", (subscription_id,)
            )
            return cursor.rowcount > 0

        return await self._write(op)

    async def thread_subscriptions(self, thread_id: int) -> list[Subscription]:
        async with self._reader() as conn:
            rows = await _fetch(
                conn,
                f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions"
                " WHERE thread_id = ? AND confirmed_at IS NOT NULL ORDER BY id",
                (thread_id,),
            )
        return [subscription_from_row(row) for row in rows]

    # -- a commenter's own data ---------------------------------------------------------------

    async def author_comments(self, email: str | None, user_id: int | None) -> list[QueueItem]:
        who, value = _author_match(email, user_id)
        async with self._reader() as conn:
            rows = await _fetch(
                conn,
                f"{QUEUE_SELECT} WHERE {who} AND {NOT_ERASED} ORDER BY c.id",
                (value,),
            )
        return [queue_item_from_row(row, _dt) for row in rows]

    async def erase_author(self, email: str | None, user_id: int | None) -> int:
        who, value = _author_match(email, user_id)

        async def op(conn: aiosqlite.Connection) -> tuple[int, list[tuple[int, ThreadHead]]]:
            rows = await _fetch(
                conn,
                f"SELECT c.id, c.thread_id, c.status FROM comments c WHERE {who} AND {NOT_ERASED}",
                (value,),
            )
            ids = [row["id"] for row in rows]
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                await conn.execute(
                    f"UPDATE comments SET {ERASED} WHERE id IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
            told: list[tuple[int, ThreadHead]] = []
            for row in rows:
                if row["status"] == "approved":
                    head = await _bump_thread(
                        conn, row["thread_id"], "comment_count = comment_count - 1"
                    )
                    told.append((row["id"], head))
            if email:
                await conn.execute("DELETE FROM subscriptions WHERE email = ?", (email.lower(),))
            if user_id is not None:
                await conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
            return len(ids), told

        def committed(result: tuple[int, list[tuple[int, ThreadHead]]]) -> None:
            for comment_id, head in result[1]:
                self._committed(head, "delete", comment_id, head.comment_count)

        erased, _ = await self._write(op, committed)
        return erased

    # -- admins -------------------------------------------------------------------------------

    async def add_admin(
        self, email: str, password_hash: str, sites: Sequence[str] | None, at: datetime
    ) -> Admin:
        async def op(conn: aiosqlite.Connection) -> Admin:
            try:
                rows = await _fetch(
                    conn,
                    "INSERT INTO admins (email, password_hash, sites, created_at)"
                    f" VALUES (?, ?, ?, ?) RETURNING {ADMIN_COLUMNS}",
                    (email, password_hash, _json_or_null(sites), _ts(at)),
                )
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"There is already an admin {email}.") from exc
            return admin_from_row(rows[0], _dt)

        return await self._write(op)

    async def update_admin(
        self, email: str, *, password_hash: str | None = None,
        sites: Sequence[str] | Literal["keep"] | None = "keep",
    ) -> Admin | None:  # fmt: skip
        async def op(conn: aiosqlite.Connection) -> Admin | None:
            if password_hash is not None:  # a new password ends every session
                await conn.execute(
                    "DELETE FROM admin_sessions WHERE admin_id ="
                    " (SELECT id FROM admins WHERE email = ?)",
                    (email,),
                )
                await conn.execute(
                    "UPDATE admins SET password_hash = ? WHERE email = ?", (password_hash, email)
                )
            if sites != "keep":
                await conn.execute(
                    "UPDATE admins SET sites = ? WHERE email = ?", (_json_or_null(sites), email)
                )
            rows = await _fetch(
                conn, f"SELECT {ADMIN_COLUMNS} FROM admins WHERE email = ?", (email,)
            )
            return admin_from_row(rows[0], _dt) if rows else None

        return await self._write(op)

    async def remove_admin(self, email: str) -> bool:
        async def op(conn: aiosqlite.Connection) -> bool:
            cursor = await conn.execute("DELETE FROM admins WHERE email = ?", (email,))
            return cursor.rowcount > 0

        return await self._write(op)

    async def list_admins(self) -> list[Admin]:
        async with self._reader() as conn:
            rows = await _fetch(conn, f"SELECT {ADMIN_COLUMNS} FROM admins ORDER BY email")
        return [admin_from_row(row, _dt) for row in rows]

    async def get_admin_login(self, email: str) -> tuple[Admin, str] | None:
        async with self._reader() as conn:
            rows = await _fetch(
                conn,
                f"SELECT {ADMIN_COLUMNS}, password_hash FROM admins WHERE email = ?",
                (email,),
            )
        return (admin_from_row(rows[0], _dt), rows[0]["password_hash"]) if rows else None

    async def add_admin_session(self, token_hash: str, admin_id: int, expires_at: datetime) -> None:
        async def op(conn: aiosqlite.Connection) -> None:
            await conn.execute("DELETE FROM admin_sessions WHERE expires_at < ?", (time.time(),))
            await conn.execute(
                "INSERT INTO admin_sessions (token_hash, admin_id, created_at, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (token_hash, admin_id, time.time(), _ts(expires_at)),
            )

        await self._write(op)

    async def get_session_admin(self, token_hash: str, now: datetime) -> Admin | None:
        columns = ", ".join("a." + c for c in ADMIN_COLUMNS.split(", "))
        async with self._reader() as conn:
            rows = await _fetch(
                conn,
                f"SELECT {columns} FROM admin_sessions s JOIN admins a ON a.id = s.admin_id"
                " WHERE s.token_hash = ? AND s.expires_at >= ?",
                (token_hash, _ts(now)),
            )
        return admin_from_row(rows[0], _dt) if rows else None

    async def delete_admin_session(self, token_hash: str) -> None:
        async def op(conn: aiosqlite.Connection) -> None:
            await conn.execute("DELETE FROM admin_sessions WHERE token_hash = ?", (token_hash,))

        await self._write(op)

    async def take_rate_limits(self, limits: Sequence[RateLimit], at: datetime) -> None:
        async def op(conn: aiosqlite.Connection) -> None:
            for limit in limits:
                await _take_rate_token(conn, limit, _ts(at))

        await self._write(op)

    # -- likes --------------------------------------------------------------------------------

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
        async def op(conn: aiosqlite.Connection) -> tuple[int, ThreadHead]:
            if rate_limit is not None:
                await _take_rate_token(conn, rate_limit, _ts(at))
            if comment_id == POST_LIKE:
                thread_id = await _ensure_thread(conn, page, _ts(at))
            else:
                target = await _fetch(
                    conn,
                    "SELECT c.thread_id FROM comments c JOIN threads t ON t.id = c.thread_id"
                    " WHERE c.id = ? AND t.site_id = ? AND t.page_id = ?"
                    " AND c.status = 'approved'",
                    (comment_id, page.site_id, page.page_id),
                )
                if not target:
                    raise NotFound("This comment is not on this page, or has been removed.")
                thread_id = target[0]["thread_id"]
            if liked:
                if guest_limit is not None:
                    await _check_guest_limit(conn, thread_id, comment_id, voter, guest_limit)
                cursor = await conn.execute(
                    "INSERT OR IGNORE INTO likes (thread_id, voter, comment_id, created_at,"
                    " network) VALUES (?, ?, ?, ?, ?)",
                    (
                        thread_id,
                        voter,
                        comment_id,
                        _ts(at),
                        guest_limit.network if guest_limit else "",
                    ),
                )
            else:
                cursor = await conn.execute(
                    "DELETE FROM likes WHERE thread_id = ? AND voter = ? AND comment_id = ?",
                    (thread_id, voter, comment_id),
                )
            change = (1 if liked else -1) if cursor.rowcount > 0 else 0
            if comment_id == POST_LIKE:
                head = await _bump_thread(
                    conn, thread_id, "like_count = like_count + ?", (change,), bump=change != 0
                )
                return head.like_count, head
            count_rows = await _fetch(
                conn,
                "UPDATE comments SET like_count = like_count + ? WHERE id = ? RETURNING like_count",
                (change, comment_id),
            )
            head = await _bump_thread(conn, thread_id, bump=change != 0)
            return count_rows[0]["like_count"], head

        def committed(result: tuple[int, ThreadHead]) -> None:
            count, head = result
            self._committed(head, "like", comment_id, count)

        return await self._write(op, committed)

    # -- users and sessions ---------------------------------------------------------------------

    async def upsert_user(self, profile: Profile, at: datetime) -> User:
        async def op(conn: aiosqlite.Connection) -> User:
            rows = await _fetch(
                conn,
                "INSERT INTO users (provider, subject, name, email, avatar_url, profile_url,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (provider, subject) DO UPDATE SET name = excluded.name,"
                " email = excluded.email, avatar_url = excluded.avatar_url,"
                f" profile_url = excluded.profile_url, updated_at = excluded.updated_at"
                f" RETURNING {USER_COLUMNS}",
                (profile.provider, profile.subject, profile.name, profile.email,
                 profile.avatar_url, profile.profile_url, _ts(at), _ts(at)),
            )  # fmt: skip
            return user_from_row(rows[0])

        return await self._write(op)

    async def get_user(self, user_id: int) -> User | None:
        async with self._reader() as conn:
            rows = await _fetch(conn, f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,))
        return user_from_row(rows[0]) if rows else None

    async def add_login_code(
        self, code_hash: str, challenge: str, user_id: int, expires_at: datetime
    ) -> None:
        async def op(conn: aiosqlite.Connection) -> None:
            await conn.execute("DELETE FROM login_codes WHERE expires_at < ?", (time.time(),))
            await conn.execute(
                "INSERT INTO login_codes (code_hash, challenge, user_id, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (code_hash, challenge, user_id, _ts(expires_at)),
            )

        await self._write(op)

    async def take_login_code(
        self, code_hash: str | None, challenge: str, now: datetime
    ) -> int | None:
        async def op(conn: aiosqlite.Connection) -> int | None:
            rows = await _fetch(
                conn,
                "DELETE FROM login_codes WHERE challenge = ? AND expires_at >= ?"
                " AND (? IS NULL OR code_hash = ?) RETURNING user_id",
                (challenge, _ts(now), code_hash, code_hash),
            )
            return int(rows[0]["user_id"]) if rows else None

        return await self._write(op)

    async def add_sign_in_failure(self, challenge: str, message: str, expires_at: datetime) -> None:
        async def op(conn: aiosqlite.Connection) -> None:
            await conn.execute("DELETE FROM sign_in_failures WHERE expires_at < ?", (time.time(),))
            await conn.execute(
                "INSERT INTO sign_in_failures (challenge, message, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (challenge) DO UPDATE SET message = excluded.message,"
                " expires_at = excluded.expires_at",
                (challenge, message, _ts(expires_at)),
            )

        await self._write(op)

    async def take_sign_in_failure(self, challenge: str, now: datetime) -> str | None:
        async def op(conn: aiosqlite.Connection) -> str | None:
            rows = await _fetch(
                conn,
                "DELETE FROM sign_in_failures WHERE challenge = ? AND expires_at >= ?"
                " RETURNING message",
                (challenge, _ts(now)),
            )
            return str(rows[0]["message"]) if rows else None

        return await self._write(op)

    async def add_session(self, token_hash: str, user_id: int, expires_at: datetime) -> None:
        async def op(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (token_hash, user_id, time.time(), _ts(expires_at)),
            )

        await self._write(op)

    async def get_session_user(self, token_hash: str, now: datetime) -> User | None:
        async with self._reader() as conn:
            rows = await _fetch(
                conn,
                f"SELECT {', '.join('u.' + c for c in USER_COLUMNS.split(', '))}"
                " FROM sessions s JOIN users u ON u.id = s.user_id"
                " WHERE s.token_hash = ? AND s.expires_at >= ?",
                (token_hash, _ts(now)),
            )
        return user_from_row(rows[0]) if rows else None

    async def delete_session(self, token_hash: str) -> None:
        async def op(conn: aiosqlite.Connection) -> None:
            await conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))
            await conn.execute("DELETE FROM sessions WHERE expires_at < ?", (time.time(),))

        await self._write(op)

    async def get_provider_app(self, provider: str, instance: str) -> tuple[str, str] | None:
        async with self._reader() as conn:
            return await _provider_app(conn, provider, instance)

    async def add_provider_app(
        self, provider: str, instance: str, client_id: str, client_secret: str
    ) -> tuple[str, str]:
        async def op(conn: aiosqlite.Connection) -> tuple[str, str]:
            await conn.execute(
                "INSERT INTO provider_apps (provider, instance, client_id, client_secret,"
                " created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (provider, instance, client_id, client_secret, time.time()),
            )
            app = await _provider_app(conn, provider, instance)
            assert app is not None
            return app

        return await self._write(op)

    async def dump(self) -> AsyncIterator[RowBatch]:
        async with self._reader() as conn:
            await conn.execute("BEGIN")  # one snapshot for every table
            try:
                for table, columns in COPY_COLUMNS.items():
                    cursor = await conn.execute(
                        f"SELECT {', '.join(columns)} FROM {table}"
                        f" ORDER BY {', '.join(COPY_KEYS[table])}"
                    )
                    while rows := await cursor.fetchmany(COPY_BATCH):
                        yield RowBatch(table, [_from_sqlite(columns, row) for row in rows])
                    await cursor.close()
            finally:
                await conn.execute("COMMIT")

    async def restore(self, batches: AsyncIterable[RowBatch]) -> dict[str, int]:
        async def op(conn: aiosqlite.Connection) -> dict[str, int]:
            if await _fetch(conn, "SELECT 1 FROM sites LIMIT 1"):
                raise Conflict("This database already holds sites; copy into an empty one.")
            counts = dict.fromkeys(COPY_COLUMNS, 0)
            async for batch in batches:
                columns = COPY_COLUMNS[batch.table]
                await conn.executemany(
                    f"INSERT INTO {batch.table} ({', '.join(columns)})"
                    f" VALUES ({', '.join('?' * len(columns))})",
                    [_to_sqlite(columns, row) for row in batch.rows],
                )
                counts[batch.table] += len(batch.rows)
            return counts

        return await self._write(op, lambda _: self._forget_cached())

    # -- moving in and out --------------------------------------------------------------------

    async def import_comments(
        self, site_id: str, items: AsyncIterable[ImportItem], *,
        dry_run: bool = False,
    ) -> ImportTally:  # fmt: skip
        async def op(conn: aiosqlite.Connection) -> tuple[list[ThreadHead], ImportTally]:
            tally = ImportTally()
            threads: dict[str, int] = {}
            approved: Counter[int] = Counter()  # new approved comments, by thread

            async def thread_of(page: PageRef, at: datetime) -> int:
                if page.page_id not in threads:
                    known = await _fetch(
                        conn, "SELECT id FROM threads WHERE site_id = ? AND page_id = ?",
                        (site_id, page.page_id),
                    )  # fmt: skip
                    tally.threads_created += not known
                    threads[page.page_id] = await _ensure_thread(conn, page, _ts(at))
                return threads[page.page_id]

            # `import_key <> ''` lets the partial index serve the lookup: the planner cannot
            # tell that a parameter is never ''. Without it each lookup scans the thread.
            async def keyed(thread_id: int, key: str) -> sqlite3.Row | None:
                rows = await _fetch(
                    conn,
                    "SELECT id, root_id, depth FROM comments"
                    " WHERE thread_id = ? AND import_key = ? AND import_key <> ''",
                    (thread_id, key),
                )
                return rows[0] if rows else None

            async for item in items:
                if isinstance(item, ImportedThread):
                    thread_id = await thread_of(item.page, item.created_at)
                    if item.closed:
                        await conn.execute(
                            "UPDATE threads SET closed = 1 WHERE id = ?", (thread_id,)
                        )
                    if item.origin:
                        (was,) = await _fetch(
                            conn, "SELECT origin FROM threads WHERE id = ?", (thread_id,)
                        )
                        await conn.execute(
                            "UPDATE threads SET origin = ? WHERE id = ?",
                            (merged_origin(was["origin"], item.origin), thread_id),
                        )
                    continue
                if isinstance(item, ImportedLike):
                    if item.page_id in threads:
                        tally.likes += await _import_like(conn, threads[item.page_id], item, keyed)
                    continue
                thread_id = await thread_of(item.page, item.created_at)
                user_id = await _imported_user(conn, item.user, item.created_at)
                rows = await _fetch(conn, IMPORT_COMMENT, {
                    "thread": thread_id, "key": item.key, "parent": item.parent_key,
                    "status": item.status, "name": item.author_name, "email": item.author_email,
                    "url": item.author_url, "source": item.body_source, "html": item.body_html,
                    "ip": item.remote_ip, "likes": item.like_count,
                    "created": _ts(item.created_at),
                    "edited": _ts(item.edited_at) if item.edited_at else None, "user": user_id,
                    "avatar": item.author_avatar, "provider": item.author_provider,
                    "pinned": int(item.pinned),
                })  # fmt: skip
                if not rows:
                    tally.duplicates.append(item.key)
                    continue
                if item.parent_key and rows[0]["parent_id"] is None:
                    tally.orphans.append(item.key)
                tally.imported += 1
                approved[thread_id] += item.status == "approved"
            heads = [
                await _bump_thread(conn, thread_id, "comment_count = comment_count + ?",
                                   (approved[thread_id],))
                for thread_id in threads.values()
            ]  # fmt: skip
            if dry_run:
                raise DryRun(tally)
            return heads, tally

        def committed(result: tuple[list[ThreadHead], ImportTally]) -> None:
            for head in result[0]:
                self._heads.committed(head)

        try:
            return (await self._write(op, committed))[1]
        except DryRun as done:
            return done.tally

    async def export(
        self, site_ids: Sequence[str], page_id: str | None
    ) -> AsyncIterator[ExportBatch]:
        queries = export_queries(len(site_ids), page_id is not None, lambda _: "?")
        scoped = [*site_ids, *([page_id] if page_id is not None else [])]
        async with self._reader() as conn:
            await conn.execute("BEGIN")  # one snapshot for every table
            try:
                for table, query in queries.items():
                    params = site_ids if table in ("sites", "site_origins") else scoped
                    cursor = await conn.execute(query, list(params))
                    while rows := await cursor.fetchmany(COPY_BATCH):
                        yield ExportBatch(table, [export_row(dict(row), _dt) for row in rows])
                    await cursor.close()
            finally:
                await conn.execute("COMMIT")

    async def get_voter_likes(self, thread_id: int, voter: str) -> set[int]:
        async with self._reader() as conn:
            rows = await _fetch(
                conn,
                "SELECT comment_id FROM likes WHERE thread_id = ? AND voter = ?",
                (thread_id, voter),
            )
        return {row["comment_id"] for row in rows}


# -- copying: SQLite's storage classes to and from plain Python values --------------------------

_TIMES = {"created_at", "edited_at", "updated_at", "expires_at", "confirmed_at", "due_at",
          "locked_until", "failed_at"}  # fmt: skip
_FLAGS = {"notify", "pinned", "closed"}
COPY_BATCH = 1000  # rows per batch


def _from_sqlite(columns: tuple[str, ...], row: sqlite3.Row) -> tuple[Any, ...]:
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


def _to_sqlite(columns: tuple[str, ...], row: tuple[Any, ...]) -> tuple[Any, ...]:
    values = []
    for column, value in zip(columns, row, strict=True):
        if column in _TIMES and value is not None:
            value = _ts(value)
        elif column in _FLAGS:
            value = int(value)
        elif column == "settings":
            value = json.dumps(value)
        values.append(value)
    return tuple(values)


async def _queue(conn: aiosqlite.Connection, jobs: Sequence[NewJob], now: float) -> None:
    await conn.executemany(
        "INSERT INTO outbox (kind, payload, due_at, created_at) VALUES (?, ?, ?, ?)",
        [(kind, json.dumps(dict(payload)), now, now) for kind, payload in jobs],
    )


def _job(row: sqlite3.Row) -> OutboxJob:
    return OutboxJob(
        row["id"], row["kind"], json.loads(row["payload"]), row["attempts"], _dt(row["created_at"])
    )


def _author_match(email: str | None, user_id: int | None) -> tuple[str, Any]:
    if user_id is not None:
        return "c.user_id = ?", user_id
    if not email:
        raise ValueError("an email address or a user id is needed")
    return "lower(c.author_email) = ?", email.lower()


def _json_or_null(values: Sequence[str] | None) -> str | None:
    return json.dumps(list(values)) if values is not None else None


def _is_fault(exc: BaseException) -> bool:
    """Whether `exc` says the file cannot serve right now (see _FAULTS)."""
    code = getattr(exc, "sqlite_errorcode", 0)
    return isinstance(exc, sqlite3.Error) and (code & 0xFF) in _FAULTS


def _refuse(batch: Sequence[_QueuedWrite], cause: BaseException | None) -> None:
    """Tell everyone waiting on `batch` that none of it was saved."""
    failure = StorageUnavailable.unsaved()
    failure.__cause__ = cause
    for write in batch:
        if not write.future.done():
            write.future.set_exception(failure)


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
async def _write_lock(conn: aiosqlite.Connection) -> AsyncIterator[None]:
    """A write transaction outside the writer, for start-up, when another process may be
    starting on the same file: BEGIN IMMEDIATE waits for the write lock (busy_timeout), where
    a statement that reads first and then writes fails at once if the other wrote between."""
    await conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        await conn.execute("ROLLBACK")
        raise
    await conn.execute("COMMIT")


async def _applied_migrations(conn: aiosqlite.Connection) -> set[int]:
    return {row["number"] for row in await _fetch(conn, "SELECT number FROM schema_migrations")}


async def _mark_ready(conn: aiosqlite.Connection) -> None:
    await conn.execute(
        "INSERT INTO rate_limits (key, due_at) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET due_at = excluded.due_at",
        (READINESS_KEY, time.time()),
    )


async def _prune_rate_limits(conn: aiosqlite.Connection) -> None:
    # A key whose due time has passed limits nobody: dropping it changes no decision.
    await conn.execute("DELETE FROM rate_limits WHERE due_at < ?", (time.time(),))


async def _provider_app(
    conn: aiosqlite.Connection, provider: str, instance: str
) -> tuple[str, str] | None:
    rows = await _fetch(
        conn,
        "SELECT client_id, client_secret FROM provider_apps WHERE provider = ? AND instance = ?",
        (provider, instance),
    )
    return (rows[0]["client_id"], rows[0]["client_secret"]) if rows else None


def _limits(rate_limit: RateLimit | Sequence[RateLimit] | None) -> Sequence[RateLimit]:
    if rate_limit is None:
        return ()
    return (rate_limit,) if isinstance(rate_limit, RateLimit) else rate_limit


async def _fetch(
    conn: aiosqlite.Connection, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
) -> list[sqlite3.Row]:
    return list(await conn.execute_fetchall(sql, params))


async def _ensure_thread(conn: aiosqlite.Connection, page: PageRef, now: float) -> int:
    """The id of the page's thread, created if the page has none yet."""
    rows = await _fetch(
        conn,
        "INSERT INTO threads (site_id, page_id, url, title, created_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (site_id, page_id) DO UPDATE SET site_id = excluded.site_id"
        " RETURNING id",
        (page.site_id, page.page_id, page.url, page.title, now),
    )
    return int(rows[0]["id"])


async def _exists(conn: aiosqlite.Connection, where: str, params: Sequence[Any]) -> bool:
    rows = await _fetch(
        conn,
        f"SELECT 1 FROM comments WHERE {where} LIMIT 1",
        params,
    )
    return bool(rows)


async def _bump_thread(
    conn: aiosqlite.Connection,
    thread_id: int,
    changes: str = "",
    params: Sequence[Any] = (),
    *,
    bump: bool = True,
) -> ThreadHead:
    """Apply `changes` to a thread and, when `bump`, move its version on; return its head."""
    assignments = (
        ", ".join(part for part in ("version = version + 1" if bump else "", changes) if part)
        or "version = version"
    )
    rows = await _fetch(
        conn,
        f"UPDATE threads SET {assignments} WHERE id = ? RETURNING {HEAD_COLUMNS}",
        (*params, thread_id),
    )
    return head_from_row(rows[0])


async def _spend(conn: aiosqlite.Connection, token: SingleUse, now: float) -> None:
    """Record a single-use token's use, or raise Conflict when it was used before. Tokens past
    their expiry are refused before they get here, so their records go."""
    await conn.execute("DELETE FROM spent_form_tokens WHERE expires_at < ?", (now,))
    cursor = await conn.execute(
        "INSERT OR IGNORE INTO spent_form_tokens (token_id, expires_at) VALUES (?, ?)",
        (token.token_id, _ts(token.expires_at)),
    )
    if cursor.rowcount == 0:
        raise Conflict(token.used)


async def _check_guest_limit(
    conn: aiosqlite.Connection, thread_id: int, comment_id: int, voter: str, limit: GuestLikeLimit
) -> None:
    """A new guest like must find room among its network's likes of the comment (the one
    writer makes the count and the insert that follows it one step)."""
    rows = await _fetch(
        conn,
        "SELECT EXISTS (SELECT 1 FROM likes WHERE thread_id = :thread AND voter = :voter"
        " AND comment_id = :comment) AS again, (SELECT count(*) FROM likes"
        " WHERE thread_id = :thread AND comment_id = :comment AND network = :network) AS taken",
        {"thread": thread_id, "voter": voter, "comment": comment_id, "network": limit.network},
    )
    if not rows[0]["again"]:
        limit.check(rows[0]["taken"])


async def _take_rate_token(conn: aiosqlite.Connection, limit: RateLimit, now: float) -> None:
    """RateLimit.take against the stored state (the one writer serialises it)."""
    rows = await _fetch(conn, "SELECT due_at FROM rate_limits WHERE key = ?", (limit.key,))
    await conn.execute(
        "INSERT INTO rate_limits (key, due_at) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET due_at = excluded.due_at",
        (limit.key, limit.take(rows[0]["due_at"] if rows else None, now)),
    )


KeyLookup = Callable[[int, str], Awaitable["sqlite3.Row | None"]]

# One imported comment in one statement: its parent found by key (or none: top level), and
# nothing written when its key is already in the thread (no row returned).
IMPORT_COMMENT = (
    "INSERT INTO comments (thread_id, parent_id, root_id, depth, status, author_name,"
    " author_email, author_url, body_source, body_html, remote_ip, like_count, created_at,"
    " edited_at, user_id, author_avatar, author_provider, pinned, import_key)"
    " SELECT :thread, p.id, coalesce(p.root_id, p.id), coalesce(p.depth + 1, 1), :status,"
    " :name, :email, :url, :source, :html, :ip, :likes, :created, :edited, :user, :avatar,"
    " :provider, :pinned, :key FROM (SELECT 1) AS one LEFT JOIN comments p"
    " ON p.thread_id = :thread AND p.import_key = :parent AND p.import_key <> ''"
    " WHERE NOT EXISTS (SELECT 1 FROM comments d WHERE d.thread_id = :thread"
    " AND d.import_key = :key AND d.import_key <> '') RETURNING parent_id"
)


async def _import_like(
    conn: aiosqlite.Connection, thread_id: int, like: ImportedLike, keyed: KeyLookup
) -> int:
    """Store one imported like; 1 if it was new. Likes of comments keep the counts imported
    with them; a like of the page adds to the page's count."""
    comment_id = POST_LIKE
    if like.comment_key is not None:
        target = await keyed(thread_id, like.comment_key)
        if target is None:
            return 0
        comment_id = target["id"]
    voter = like.voter
    if like.user is not None:
        voter = f"user:{await _imported_user(conn, like.user, like.created_at)}"
    elif voter.startswith("user:"):
        return 0  # "user:N" would name whoever is user N in this database
    cursor = await conn.execute(
        "INSERT INTO likes (thread_id, voter, comment_id, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (thread_id, voter, comment_id, _ts(like.created_at)),
    )
    added = cursor.rowcount
    if added and comment_id == POST_LIKE:
        await conn.execute(
            "UPDATE threads SET like_count = like_count + 1 WHERE id = ?", (thread_id,)
        )
    return int(added)


async def _imported_user(
    conn: aiosqlite.Connection, profile: Profile | None, at: datetime
) -> int | None:
    """The id of an imported comment's signed-in author, added if unknown (a later sign-in
    with the same provider identity finds their comments theirs)."""
    if profile is None:
        return None
    rows = await _fetch(
        conn,
        "INSERT INTO users (provider, subject, name, email, avatar_url, profile_url, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (provider, subject)"
        " DO UPDATE SET provider = excluded.provider RETURNING id",
        (profile.provider, profile.subject, profile.name, profile.email, profile.avatar_url,
         profile.profile_url, _ts(at), _ts(at)),
    )  # fmt: skip
    return int(rows[0]["id"])
