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
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar
from urllib.parse import unquote, urlsplit

import asyncpg

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
from .migrations import migrations, refuse_newer_schema

__all__ = ["PostgresStorage"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_VISIBLE_ROOT = "thread_id = $1 AND parent_id IS NULL AND " + VISIBLE_ROOT
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
RATE_LIMIT_PRUNE_S = 300.0
# Seconds to wait for PostgreSQL to answer a connection: one that never answers fails start-up
# (and requests) after this long, not after asyncpg's default of a minute.
CONNECT_TIMEOUT_S = 10.0


def _same(moment: datetime) -> datetime:
    return moment  # asyncpg already gives timestamptz as aware datetimes


EVENTS_CHANNEL = "widget_events"
SITES_CHANNEL = "widget_sites"
HEAD_CACHE_ENTRIES = 20_000
COPY_BATCH = 1000  # rows per batch when dumping
LISTEN_RETRY_S = 1.0
LISTEN_PROBE_S = 30.0


class PostgresStorage:
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
        self._heads = HeadCache(HEAD_CACHE_ENTRIES)
        self._sites = SiteCache()
        self._caching = False

    # -- life cycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, migrate and write once; raises SetupError, naming the database and what
        to do, when it cannot be reached, logged into, or written."""
        try:
            self._pool = await asyncpg.create_pool(
                self.url, min_size=self.pool_min, max_size=self.pool_max,
                init=_init_connection, timeout=CONNECT_TIMEOUT_S,
            )  # fmt: skip
            async with self._pool.acquire() as conn:
                await _migrate(conn, _described(self.url))
                await _mark_ready(conn)
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
                if channel == SITES_CHANNEL:
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
                    await conn.add_listener(EVENTS_CHANNEL, deliver)
                    await conn.add_listener(SITES_CHANNEL, deliver)
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

    def _forget_cached(self) -> None:
        self._heads.clear()
        self._sites.forget()

    def _committed(self, head: ThreadHead) -> None:
        if self._caching:
            self._heads.committed(head)

    async def _prune_periodically(self) -> None:
        """Drop rate-limit rows that limit nobody any more (any instance may: it is idempotent)."""
        while True:
            await asyncio.sleep(RATE_LIMIT_PRUNE_S)
            try:
                await self._write(_prune_rate_limits)
            except StorageUnavailable:
                continue

    async def check_ready(self) -> None:
        async with self._connection() as conn:
            await conn.fetchval("SELECT max(number) FROM schema_migrations")
        await self._write(_mark_ready)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        if self._pool is None:
            raise RuntimeError("storage is not open")
        try:
            async with self._pool.acquire() as conn:
                try:
                    yield conn
                except _UNAVAILABLE:
                    # Cut off mid-way, a connection can be left in a state asyncpg trips
                    # over later: the pool gets a new one instead.
                    with contextlib.suppress(asyncpg.InterfaceError):
                        conn.terminate()
                    raise
        except _UNAVAILABLE as exc:
            log.warning("database unavailable: %s", _reason(exc))
            raise StorageUnavailable() from exc

    async def _write(self, op: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Run `op` in its own transaction; its result once committed."""
        try:
            async with self._connection() as conn, conn.transaction():
                return await op(conn)
        except StorageUnavailable as exc:
            raise StorageUnavailable.unsaved() from exc

    # -- sites --------------------------------------------------------------------------------

    async def add_site(
        self, site_id: str, name: str, origins: Sequence[str], settings: Mapping[str, Any]
    ) -> Site:
        async def op(conn: asyncpg.Connection) -> None:
            try:
                await conn.execute(
                    "INSERT INTO sites (id, name, settings, created_at) VALUES ($1, $2, $3, $4)",
                    site_id, name, dict(settings), datetime.now(UTC),
                )  # fmt: skip
            except asyncpg.UniqueViolationError as exc:
                self._sites.forget(site_id)  # made elsewhere: what is cached of it is stale
                raise Conflict(f"A site called {site_id!r} already exists.") from exc
            await _set_origins(conn, site_id, origins)
            await _notify_site(conn, site_id)

        await self._write(op)
        self._sites.forget(site_id)
        site = await self.get_site(site_id)
        assert site is not None
        return site

    async def get_site(self, site_id: str) -> Site | None:
        if self._caching:
            known, site = self._sites.lookup(site_id)
            if known:
                return site
        generation = self._sites.generation
        async with self._connection() as conn:
            site = await _load_site(conn, site_id)
        if self._caching:
            self._sites.fill(site_id, site, generation)
        return site

    async def list_sites(self) -> list[Site]:
        async with self._connection() as conn:
            ids = [row["id"] for row in await conn.fetch("SELECT id FROM sites ORDER BY id")]
            sites = [await _load_site(conn, site_id) for site_id in ids]
        return [site for site in sites if site is not None]

    async def update_site(
        self,
        site_id: str,
        *,
        name: str | None = None,
        origins: Sequence[str] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> Site:
        async def op(conn: asyncpg.Connection) -> None:
            found = await conn.fetchval(
                "UPDATE sites SET revision = revision + 1, name = coalesce($1, name),"
                " settings = coalesce($2::jsonb, settings) WHERE id = $3 RETURNING id",
                name, dict(settings) if settings is not None else None, site_id,
            )  # fmt: skip
            if found is None:
                raise NotFound(f"There is no site called {site_id!r}.")
            if origins is not None:
                await conn.execute("DELETE FROM site_origins WHERE site_id = $1", site_id)
                await _set_origins(conn, site_id, origins)
            await _notify_site(conn, site_id)

        await self._write(op)
        self._sites.forget(site_id)
        site = await self.get_site(site_id)
        assert site is not None
        return site

    async def remove_site(self, site_id: str) -> bool:
        async def op(conn: asyncpg.Connection) -> bool:
            removed = await conn.fetchval("DELETE FROM sites WHERE id = $1 RETURNING id", site_id)
            await _notify_site(conn, site_id)
            return removed is not None

        removed = await self._write(op)
        self._forget_cached()
        return removed

    # -- threads ------------------------------------------------------------------------------

    async def get_thread_head(self, site_id: str, page_id: str) -> ThreadHead | None:
        return (await self.get_thread_heads(site_id, [page_id])).get(page_id)

    async def get_thread_heads(
        self, site_id: str, page_ids: Sequence[str]
    ) -> dict[str, ThreadHead]:
        found: dict[str, ThreadHead] = {}
        missing = list(page_ids)
        if self._caching:
            missing = []
            for page_id in page_ids:
                known, head = self._heads.lookup((site_id, page_id))
                if not known:
                    missing.append(page_id)
                elif head is not None:
                    found[page_id] = head
        if missing:
            generation = self._heads.generation
            async with self._connection() as conn:
                rows = await conn.fetch(
                    f"SELECT {HEAD_COLUMNS} FROM threads"
                    " WHERE site_id = $1 AND page_id = ANY($2)",
                    site_id, missing,
                )  # fmt: skip
            loaded = {row["page_id"]: head_from_row(row) for row in rows}
            if self._caching:
                for page_id in missing:
                    self._heads.fill((site_id, page_id), loaded.get(page_id), generation)
            found.update(loaded)
        return found

    async def get_thread(self, thread_id: int) -> ThreadHead | None:
        async with self._connection() as conn:
            row = await conn.fetchrow(
                f"SELECT {HEAD_COLUMNS} FROM threads WHERE id = $1", thread_id
            )
        return head_from_row(row) if row else None

    async def get_thread_page(
        self, thread_id: int, window: PageWindow
    ) -> tuple[ThreadHead, ThreadPage]:
        # One snapshot for the head and the comments.
        async with (
            self._connection() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            head_row = await conn.fetchrow(
                f"SELECT {HEAD_COLUMNS} FROM threads WHERE id = $1", thread_id
            )
            if head_row is None:
                raise NotFound("This thread does not exist.")
            if window.direction == "after":
                cursor = window.cursor or 0
                rows = await conn.fetch(
                    f"SELECT {COMMENT_COLUMNS} FROM comments WHERE {_VISIBLE_ROOT}"
                    " AND id > $2 ORDER BY id LIMIT $3",
                    thread_id, cursor, window.size + 1,
                )  # fmt: skip
                more_after = len(rows) > window.size
                roots = list(rows[: window.size])
                more_before = cursor > 0 and await _exists(
                    conn, f"{_VISIBLE_ROOT} AND id <= $2", thread_id, cursor
                )
            else:
                cursor = window.cursor if window.cursor is not None else 2**62
                rows = await conn.fetch(
                    f"SELECT {COMMENT_COLUMNS} FROM comments WHERE {_VISIBLE_ROOT}"
                    " AND id < $2 ORDER BY id DESC LIMIT $3",
                    thread_id, cursor, window.size + 1,
                )  # fmt: skip
                more_before = len(rows) > window.size
                roots = list(reversed(rows[: window.size]))
                more_after = window.cursor is not None and await _exists(
                    conn, f"{_VISIBLE_ROOT} AND id >= $2", thread_id, cursor
                )
            pinned = []
            if window.cursor is None:  # the default page shows the pinned on top
                pinned = await conn.fetch(
                    f"SELECT {COMMENT_COLUMNS} FROM comments WHERE {_VISIBLE_ROOT} AND pinned"
                    " ORDER BY id",
                    thread_id,
                )
            replies = []
            root_ids = {row["id"] for row in roots} | {row["id"] for row in pinned}
            if root_ids:
                replies = await conn.fetch(
                    f"SELECT {COMMENT_COLUMNS} FROM comments WHERE root_id = ANY($1)"
                    f" AND {SHOWN_REPLY} ORDER BY id",
                    sorted(root_ids),
                )
        page = ThreadPage(
            roots=[comment_from_row(row, _same) for row in roots],
            replies=[comment_from_row(row, _same) for row in replies],
            more_before=more_before,
            more_after=more_after,
            pinned=[comment_from_row(row, _same) for row in pinned],
        )
        return head_from_row(head_row), page

    # -- comments -----------------------------------------------------------------------------

    async def get_comment(self, comment_id: int) -> Comment | None:
        async with self._connection() as conn:
            row = await conn.fetchrow(
                f"SELECT {COMMENT_COLUMNS} FROM comments WHERE id = $1", comment_id
            )
        return comment_from_row(row, _same) if row else None

    async def get_user_comments(self, thread_id: int, user_id: int) -> list[Comment]:
        async with self._connection() as conn:
            rows = await conn.fetch(
                f"SELECT {COMMENT_COLUMNS} FROM comments WHERE user_id = $1 AND thread_id = $2"
                " AND status <> 'deleted' ORDER BY id",
                user_id, thread_id,
            )  # fmt: skip
        return [comment_from_row(row, _same) for row in rows]

    async def add_comment(
        self, new: NewComment, rate_limit: RateLimit | Sequence[RateLimit] | None
    ) -> tuple[Comment, ThreadHead]:
        async def op(conn: asyncpg.Connection) -> tuple[Comment, ThreadHead]:
            limits = () if rate_limit is None else (
                (rate_limit,) if isinstance(rate_limit, RateLimit) else rate_limit
            )  # fmt: skip
            for limit in limits:
                await _take_rate_token(conn, limit, new.created_at.timestamp())
            if new.form_token is not None:
                await _spend(conn, new.form_token, new.created_at)
            thread_id = await _ensure_thread(conn, new.page, new.created_at)
            if await conn.fetchval("SELECT closed FROM threads WHERE id = $1", thread_id):
                raise Forbidden("Comments are closed on this page.")
            root_id, depth = None, 1
            if new.parent_id is not None:
                parent = await conn.fetchrow(
                    "SELECT thread_id, root_id, depth, status FROM comments WHERE id = $1",
                    new.parent_id,
                )
                if parent is None or parent["thread_id"] != thread_id:
                    raise Invalid(
                        "The comment you are replying to is not on this page.",
                        {"parent": "That comment is not on this page."},
                    )
                if parent["status"] != "approved":
                    raise Invalid(
                        "The comment you are replying to has been removed.",
                        {"parent": "That comment has been removed."},
                    )
                root_id = parent["root_id"] or new.parent_id
                depth = parent["depth"] + 1
            row = await conn.fetchrow(
                "INSERT INTO comments (thread_id, parent_id, root_id, depth, status, author_name,"
                " author_email, author_url, body_source, body_html, notify, remote_ip,"
                " created_at, user_id, author_avatar, author_provider, held_because, fingerprint)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,"
                f" $17, $18) RETURNING {COMMENT_COLUMNS}",
                thread_id, new.parent_id, root_id, depth, new.status, new.author_name,
                new.author_email, new.author_url, new.body_source, new.body_html, new.notify,
                new.remote_ip, new.created_at, new.user_id, new.author_avatar,
                new.author_provider, new.held_because, new.fingerprint,
            )  # fmt: skip
            comment = comment_from_row(row, _same)
            if comment.status != "spam":  # people to tell: subscribers, moderators, webhooks
                await _queue(
                    conn, [("comment", {"comment": comment.id, "event": "created"})],
                    new.created_at,
                )  # fmt: skip
            if comment.status != "approved":  # held: the thread's readers see no change
                return comment, await _bump_thread(conn, thread_id, bump=False)
            # The newest comment's page title and URL win: pages get renamed.
            head = await _bump_thread(
                conn,
                thread_id,
                "comment_count = comment_count + 1,"
                " title = coalesce(nullif($2, ''), title), url = coalesce(nullif($3, ''), url)",
                new.page.title,
                new.page.url,
            )
            await _notify(conn, head, "comment", comment.id, head.comment_count)
            return comment, head

        comment, head = await self._write(op)
        self._committed(head)
        return comment, head

    async def author_history(
        self, site_id: str, email: str, user_id: int | None, fingerprint: str, since: datetime
    ) -> AuthorHistory:
        async with self._connection() as conn:
            row = await conn.fetchrow(
                "SELECT EXISTS (SELECT 1 FROM comments c JOIN threads t ON t.id = c.thread_id"
                " WHERE t.site_id = $1 AND c.status = 'approved'"
                " AND (c.user_id = $2 OR ($3 <> '' AND lower(c.author_email) = lower($3))))"
                " AS approved, EXISTS (SELECT 1 FROM comments c JOIN threads t"
                " ON t.id = c.thread_id WHERE c.fingerprint = $4 AND c.created_at >= $5"
                " AND t.site_id = $1 AND c.status <> 'deleted') AS duplicate",
                site_id, user_id, email, fingerprint, since,
            )  # fmt: skip
        return AuthorHistory(row["approved"], row["duplicate"] and bool(fingerprint))

    async def list_bans(self, site_id: str) -> list[Ban]:
        cached = self._sites.lookup_bans(site_id) if self._caching else None
        if cached is not None:
            return cached
        generation = self._sites.generation
        async with self._connection() as conn:
            rows = await conn.fetch(
                "SELECT id, site_id, kind, value, note FROM bans"
                " WHERE site_id = $1 OR site_id IS NULL ORDER BY id",
                site_id,
            )
        bans = [Ban(r["id"], r["site_id"], r["kind"], r["value"], r["note"]) for r in rows]
        if self._caching:
            self._sites.fill_bans(site_id, bans, generation)
        return bans

    async def add_ban(
        self, site_id: str | None, kind: str, value: str, note: str, at: datetime
    ) -> Ban:
        async def op(conn: asyncpg.Connection) -> Ban:
            row = await conn.fetchrow(
                "INSERT INTO bans (site_id, kind, value, note, created_at)"
                " VALUES ($1, $2, $3, $4, $5) RETURNING id, site_id, kind, value, note",
                site_id, kind, value, note, at,
            )  # fmt: skip
            await _notify_site(conn, "*")  # every instance forgets the bans it knew
            return Ban(row["id"], row["site_id"], row["kind"], row["value"], row["note"])

        ban = await self._write(op)
        self._sites.forget()
        return ban

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
        async def op(conn: asyncpg.Connection) -> tuple[Comment, ThreadHead]:
            row = await conn.fetchrow(
                "UPDATE comments SET body_source = $1, body_html = $2, author_name = $3,"
                " author_url = $4, edited_at = $5 WHERE id = $6 AND status = 'approved'"
                f" RETURNING {COMMENT_COLUMNS}",
                body_source, body_html, author_name, author_url, edited_at, comment_id,
            )  # fmt: skip
            if row is None:
                raise NotFound("This comment does not exist or has been removed.")
            comment = comment_from_row(row, _same)
            head = await _bump_thread(conn, comment.thread_id)
            await _notify(conn, head, "edit", comment.id, head.comment_count)
            return comment, head

        comment, head = await self._write(op)
        self._committed(head)
        return comment, head

    async def delete_comment(self, comment_id: int) -> ThreadHead:
        async def op(conn: asyncpg.Connection) -> ThreadHead:
            thread_id = await conn.fetchval(
                "UPDATE comments SET status = 'deleted' WHERE id = $1 AND status = 'approved'"
                " RETURNING thread_id",
                comment_id,
            )
            if thread_id is None:
                raise NotFound("This comment does not exist or has already been removed.")
            head = await _bump_thread(conn, thread_id, "comment_count = comment_count - 1")
            await _notify(conn, head, "delete", comment_id, head.comment_count)
            return head

        head = await self._write(op)
        self._committed(head)
        return head

    # -- moderation ---------------------------------------------------------------------------

    async def list_queue(self, query: QueueQuery) -> list[QueueItem]:
        params: list[Any] = [list(query.site_ids)]
        where = ["t.site_id = ANY($1)"]
        if query.status is not None:
            params.append(query.status)
            where.append(f"c.status = ${len(params)}")
        for text, columns in (
            (query.text, QUEUE_SEARCH["text"]),
            (query.author, QUEUE_SEARCH["author"]),
            (query.page, QUEUE_SEARCH["page"]),
        ):
            if text:
                params.append(like_pattern(text))
                n = len(params)
                where.append("(" + " OR ".join(f"{c} ILIKE ${n}" for c in columns) + ")")
        if query.before_id is not None:
            params.append(query.before_id)
            where.append(f"c.id < ${len(params)}")
        if query.thread_id is not None:
            params.append(query.thread_id)
            where.append(f"c.thread_id = ${len(params)}")
        params.append(query.limit)
        async with self._connection() as conn:
            rows = await conn.fetch(
                f"{QUEUE_SELECT} WHERE {' AND '.join(where)}"
                f" ORDER BY c.id DESC LIMIT ${len(params)}",
                *params,
            )
        return [queue_item_from_row(row, _same) for row in rows]

    async def count_by_status(self, site_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {site_id: {} for site_id in site_ids}
        async with self._connection() as conn:
            rows = await conn.fetch(
                "SELECT t.site_id, c.status, count(*) AS n FROM comments c"
                " JOIN threads t ON t.id = c.thread_id WHERE t.site_id = ANY($1)"
                " GROUP BY t.site_id, c.status",
                list(site_ids),
            )
        for row in rows:
            counts[row["site_id"]][row["status"]] = row["n"]
        return counts

    async def set_status(
        self, comment_ids: Sequence[int], status: CommentStatus, site_ids: Sequence[str]
    ) -> list[Comment]:
        async def op(conn: asyncpg.Connection) -> list[tuple[Comment, ThreadHead | None]]:
            changed: list[tuple[Comment, ThreadHead | None]] = []
            for comment_id in comment_ids:
                old = await conn.fetchval(
                    "SELECT c.status FROM comments c JOIN threads t ON t.id = c.thread_id"
                    " WHERE c.id = $1 AND t.site_id = ANY($2) FOR UPDATE OF c",
                    comment_id, list(site_ids),
                )  # fmt: skip
                if old is None or old == status:
                    continue
                row = await conn.fetchrow(
                    f"UPDATE comments SET status = $1 WHERE id = $2 RETURNING {COMMENT_COLUMNS}",
                    status, comment_id,
                )  # fmt: skip
                comment = comment_from_row(row, _same)
                if first_publication(old, status):
                    await _queue(
                        conn, [("comment", {"comment": comment_id, "event": "approved"})],
                        datetime.now(UTC),
                    )  # fmt: skip
                delta = status_change(old, status)
                head = None
                if delta:
                    head = await _bump_thread(
                        conn, comment.thread_id, "comment_count = comment_count + $2", delta
                    )
                    kind: ThreadEventKind = "comment" if status == "approved" else "delete"
                    await _notify(conn, head, kind, comment.id, head.comment_count)
                changed.append((comment, head))
            return changed

        changed = await self._write(op)
        for _, head in changed:
            if head is not None:
                self._committed(head)
        return [comment for comment, _ in changed]

    async def moderate_edit(
        self, comment_id: int, body_source: str, body_html: str, author_name: str,
        author_url: str, at: datetime,
    ) -> Comment:  # fmt: skip
        async def op(conn: asyncpg.Connection) -> tuple[Comment, ThreadHead | None]:
            row = await conn.fetchrow(
                "UPDATE comments SET body_source = $1, body_html = $2, author_name = $3,"
                f" author_url = $4, edited_at = $5 WHERE id = $6 RETURNING {COMMENT_COLUMNS}",
                body_source, body_html, author_name, author_url, at, comment_id,
            )  # fmt: skip
            if row is None:
                raise NotFound("This comment does not exist.")
            comment = comment_from_row(row, _same)
            if comment.status != "approved":  # not shown: the thread did not change
                return comment, None
            head = await _bump_thread(conn, comment.thread_id)
            await _notify(conn, head, "edit", comment.id, head.comment_count)
            return comment, head

        comment, head = await self._write(op)
        if head is not None:
            self._committed(head)
        return comment

    async def set_pinned(self, comment_id: int, pinned: bool) -> Comment:
        async def op(conn: asyncpg.Connection) -> tuple[Comment, ThreadHead]:
            row = await conn.fetchrow(
                "UPDATE comments SET pinned = $1 WHERE id = $2 AND parent_id IS NULL"
                f" RETURNING {COMMENT_COLUMNS}",
                pinned, comment_id,
            )  # fmt: skip
            if row is None:
                raise Invalid("Only a top-level comment can be pinned.")
            comment = comment_from_row(row, _same)
            head = await _bump_thread(conn, comment.thread_id)
            await _notify(conn, head, "edit", comment.id, head.comment_count)
            return comment, head

        comment, head = await self._write(op)
        self._committed(head)
        return comment

    async def set_closed(self, thread_id: int, closed: bool) -> ThreadHead:
        async def op(conn: asyncpg.Connection) -> ThreadHead:
            if not await conn.fetchval("SELECT 1 FROM threads WHERE id = $1", thread_id):
                raise NotFound("This thread does not exist.")
            head = await _bump_thread(conn, thread_id, "closed = $2", closed)
            await _notify(conn, head, "edit", 0, head.comment_count)
            return head

        head = await self._write(op)
        self._committed(head)
        return head

    async def remove_ban(self, ban_id: int, site_ids: Sequence[str] | None) -> bool:
        async def op(conn: asyncpg.Connection) -> bool:
            if site_ids is None:
                removed = await conn.fetchval("DELETE FROM bans WHERE id = $1 RETURNING id", ban_id)
            else:
                removed = await conn.fetchval(
                    "DELETE FROM bans WHERE id = $1 AND site_id = ANY($2) RETURNING id",
                    ban_id, list(site_ids),
                )  # fmt: skip
            if removed is not None:
                await _notify_site(conn, "*")
            return removed is not None

        removed = await self._write(op)
        self._sites.forget()
        return removed

    # -- the outbox and subscriptions --------------------------------------------------------

    async def add_jobs(self, jobs: Sequence[NewJob], at: datetime) -> None:
        async def op(conn: asyncpg.Connection) -> None:
            await _queue(conn, jobs, at)

        await self._write(op)

    async def claim_jobs(self, now: datetime, lease_s: float, limit: int) -> list[OutboxJob]:
        async def op(conn: asyncpg.Connection) -> list[OutboxJob]:
            # SKIP LOCKED: instances claiming at once each get other jobs, none waits.
            rows = await conn.fetch(
                "UPDATE outbox SET locked_until = $1 WHERE id IN (SELECT id FROM outbox"
                " WHERE failed_at IS NULL AND due_at <= $2"
                " AND (locked_until IS NULL OR locked_until < $2)"
                f" ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING {JOB_COLUMNS}",
                now + timedelta(seconds=lease_s), now, limit,
            )  # fmt: skip
            return sorted((_job(row) for row in rows), key=lambda job: job.id)

        return await self._write(op)

    async def finish_job(self, job_id: int, follow_ups: Sequence[NewJob], at: datetime) -> None:
        async def op(conn: asyncpg.Connection) -> None:
            await conn.execute("DELETE FROM outbox WHERE id = $1", job_id)
            await _queue(conn, follow_ups, at)

        await self._write(op)

    async def retry_job(self, job_id: int, due_at: datetime | None, error: str) -> None:
        async def op(conn: asyncpg.Connection) -> None:
            await conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2, locked_until = NULL,"
                " due_at = coalesce($3, due_at),"
                " failed_at = CASE WHEN $3::timestamptz IS NULL THEN now() END WHERE id = $1",
                job_id, error[:1000], due_at,
            )  # fmt: skip

        await self._write(op)

    async def outbox_counts(self) -> dict[str, int]:
        async with self._connection() as conn:
            row = await conn.fetchrow(
                "SELECT count(*) FILTER (WHERE failed_at IS NULL) AS queued,"
                " count(*) FILTER (WHERE failed_at IS NOT NULL) AS failed FROM outbox"
            )
        return {"queued": row["queued"], "failed": row["failed"]}

    async def subscribe(self, thread_id: int, email: str, at: datetime) -> Subscription:
        async def op(conn: asyncpg.Connection) -> Subscription:
            row = await conn.fetchrow(
                "INSERT INTO subscriptions (thread_id, email, created_at) VALUES ($1, $2, $3)"
                " ON CONFLICT (thread_id, email) DO UPDATE SET email = excluded.email"
                f" RETURNING {SUBSCRIPTION_COLUMNS}",
                thread_id, email.lower(), at,
            )  # fmt: skip
            return subscription_from_row(row)

        return await self._write(op)

    async def get_subscription(self, subscription_id: int) -> Subscription | None:
        async with self._connection() as conn:
            row = await conn.fetchrow(
                f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = $1", subscription_id
            )
        return subscription_from_row(row) if row else None

    async def confirm_subscription(
        self, subscription_id: int, scope: Literal["thread", "replies"], at: datetime
    ) -> Subscription | None:
        async def op(conn: asyncpg.Connection) -> Subscription | None:
            row = await conn.fetchrow(
                "UPDATE subscriptions SET scope = $1, confirmed_at = coalesce(confirmed_at, $2)"
                f" WHERE id = $3 RETURNING {SUBSCRIPTION_COLUMNS}",
                scope, at, subscription_id,
            )  # fmt: skip
            return subscription_from_row(row) if row else None

        return await self._write(op)

    async def unsubscribe(self, subscription_id: int) -> bool:
        async def op(conn: asyncpg.Connection) -> bool:
            return bool(
                await conn.fetchval(
                    "DELETE FROM subscriptions WHERE id = $1 RETURNING id", subscription_id
                )
            )

        return await self._write(op)

    async def thread_subscriptions(self, thread_id: int) -> list[Subscription]:
        async with self._connection() as conn:
            rows = await conn.fetch(
                f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions"
                " WHERE thread_id = $1 AND confirmed_at IS NOT NULL ORDER BY id",
                thread_id,
            )
        return [subscription_from_row(row) for row in rows]

    # -- a commenter's own data ---------------------------------------------------------------

    async def author_comments(self, email: str | None, user_id: int | None) -> list[QueueItem]:
        who, value = _author_match(email, user_id)
        async with self._connection() as conn:
            rows = await conn.fetch(
                f"{QUEUE_SELECT} WHERE {who} AND {NOT_ERASED} ORDER BY c.id",
                value,
            )
        return [queue_item_from_row(row, _same) for row in rows]

    async def erase_author(self, email: str | None, user_id: int | None) -> int:
        who, value = _author_match(email, user_id)

        async def op(conn: asyncpg.Connection) -> tuple[int, list[ThreadHead]]:
            rows = await conn.fetch(
                f"SELECT c.id, c.thread_id, c.status FROM comments c WHERE {who}"
                f" AND {NOT_ERASED} FOR UPDATE OF c",
                value,
            )
            await conn.execute(
                f"UPDATE comments SET {ERASED} WHERE id = ANY($1)", [row["id"] for row in rows]
            )
            heads: list[ThreadHead] = []
            for row in rows:
                if row["status"] == "approved":
                    head = await _bump_thread(
                        conn, row["thread_id"], "comment_count = comment_count - 1"
                    )
                    await _notify(conn, head, "delete", row["id"], head.comment_count)
                    heads.append(head)
            if email:
                await conn.execute("DELETE FROM subscriptions WHERE email = $1", email.lower())
            if user_id is not None:
                await conn.execute("DELETE FROM users WHERE id = $1", user_id)
            return len(rows), heads

        erased, heads = await self._write(op)
        for head in heads:
            self._committed(head)
        return erased

    # -- admins -------------------------------------------------------------------------------

    async def add_admin(
        self, email: str, password_hash: str, sites: Sequence[str] | None, at: datetime
    ) -> Admin:
        async def op(conn: asyncpg.Connection) -> Admin:
            try:
                row = await conn.fetchrow(
                    "INSERT INTO admins (email, password_hash, sites, created_at)"
                    f" VALUES ($1, $2, $3, $4) RETURNING {ADMIN_COLUMNS}",
                    email, password_hash, _json_or_null(sites), at,
                )  # fmt: skip
            except asyncpg.UniqueViolationError as exc:
                raise Conflict(f"There is already an admin {email}.") from exc
            return admin_from_row(row, _same)

        return await self._write(op)

    async def update_admin(
        self, email: str, *, password_hash: str | None = None,
        sites: Sequence[str] | Literal["keep"] | None = "keep",
    ) -> Admin | None:  # fmt: skip
        async def op(conn: asyncpg.Connection) -> Admin | None:
            if password_hash is not None:  # a new password ends every session
                await conn.execute(
                    "DELETE FROM admin_sessions WHERE admin_id ="
                    " (SELECT id FROM admins WHERE email = $1)",
                    email,
                )
                await conn.execute(
                    "UPDATE admins SET password_hash = $1 WHERE email = $2", password_hash, email
                )
            if sites != "keep":
                await conn.execute(
                    "UPDATE admins SET sites = $1 WHERE email = $2", _json_or_null(sites), email
                )
            row = await conn.fetchrow(f"SELECT {ADMIN_COLUMNS} FROM admins WHERE email = $1", email)
            return admin_from_row(row, _same) if row else None

        return await self._write(op)

    async def remove_admin(self, email: str) -> bool:
        async def op(conn: asyncpg.Connection) -> bool:
            return bool(
                await conn.fetchval("DELETE FROM admins WHERE email = $1 RETURNING id", email)
            )

        return await self._write(op)

    async def list_admins(self) -> list[Admin]:
        async with self._connection() as conn:
            rows = await conn.fetch(f"SELECT {ADMIN_COLUMNS} FROM admins ORDER BY email")
        return [admin_from_row(row, _same) for row in rows]

    async def get_admin_login(self, email: str) -> tuple[Admin, str] | None:
        async with self._connection() as conn:
            row = await conn.fetchrow(
                f"SELECT {ADMIN_COLUMNS}, password_hash FROM admins WHERE email = $1", email
            )
        return (admin_from_row(row, _same), row["password_hash"]) if row else None

    async def add_admin_session(self, token_hash: str, admin_id: int, expires_at: datetime) -> None:
        async def op(conn: asyncpg.Connection) -> None:
            now = datetime.now(UTC)
            await conn.execute("DELETE FROM admin_sessions WHERE expires_at < $1", now)
            await conn.execute(
                "INSERT INTO admin_sessions (token_hash, admin_id, created_at, expires_at)"
                " VALUES ($1, $2, $3, $4)",
                token_hash, admin_id, now, expires_at,
            )  # fmt: skip

        await self._write(op)

    async def get_session_admin(self, token_hash: str, now: datetime) -> Admin | None:
        columns = ", ".join("a." + c for c in ADMIN_COLUMNS.split(", "))
        async with self._connection() as conn:
            row = await conn.fetchrow(
                f"SELECT {columns} FROM admin_sessions s JOIN admins a ON a.id = s.admin_id"
                " WHERE s.token_hash = $1 AND s.expires_at >= $2",
                token_hash, now,
            )  # fmt: skip
        return admin_from_row(row, _same) if row else None

    async def delete_admin_session(self, token_hash: str) -> None:
        async def op(conn: asyncpg.Connection) -> None:
            await conn.execute("DELETE FROM admin_sessions WHERE token_hash = $1", token_hash)

        await self._write(op)

    async def take_rate_limits(self, limits: Sequence[RateLimit], at: datetime) -> None:
        async def op(conn: asyncpg.Connection) -> None:
            for limit in limits:
                await _take_rate_token(conn, limit, at.timestamp())

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
        async def op(conn: asyncpg.Connection) -> tuple[int, ThreadHead]:
            if rate_limit is not None:
                await _take_rate_token(conn, rate_limit, at.timestamp())
            if comment_id == POST_LIKE:
                thread_id = await _ensure_thread(conn, page, at)
            else:
                thread_id = await conn.fetchval(
                    "SELECT c.thread_id FROM comments c JOIN threads t ON t.id = c.thread_id"
                    " WHERE c.id = $1 AND t.site_id = $2 AND t.page_id = $3"
                    " AND c.status = 'approved'",
                    comment_id, page.site_id, page.page_id,
                )  # fmt: skip
                if thread_id is None:
                    raise NotFound("This comment is not on this page, or has been removed.")
            if liked:
                if guest_limit is not None:
                    await _check_guest_limit(conn, thread_id, comment_id, voter, guest_limit)
                changed = await conn.fetchval(
                    "INSERT INTO likes (thread_id, voter, comment_id, created_at, network)"
                    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1",
                    thread_id, voter, comment_id, at, guest_limit.network if guest_limit else "",
                )  # fmt: skip
            else:
                changed = await conn.fetchval(
                    "DELETE FROM likes WHERE thread_id = $1 AND voter = $2 AND comment_id = $3"
                    " RETURNING 1",
                    thread_id, voter, comment_id,
                )  # fmt: skip
            change = (1 if liked else -1) if changed else 0
            if comment_id == POST_LIKE:
                head = await _bump_thread(
                    conn, thread_id, "like_count = like_count + $2", change, bump=change != 0
                )
                await _notify(conn, head, "like", comment_id, head.like_count)
                return head.like_count, head
            count = await conn.fetchval(
                "UPDATE comments SET like_count = like_count + $1 WHERE id = $2"
                " RETURNING like_count",
                change, comment_id,
            )  # fmt: skip
            head = await _bump_thread(conn, thread_id, bump=change != 0)
            await _notify(conn, head, "like", comment_id, count)
            return count, head

        count, head = await self._write(op)
        self._committed(head)
        return count, head

    # -- users and sessions ---------------------------------------------------------------------

    async def upsert_user(self, profile: Profile, at: datetime) -> User:
        async def op(conn: asyncpg.Connection) -> User:
            row = await conn.fetchrow(
                "INSERT INTO users (provider, subject, name, email, avatar_url, profile_url,"
                " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)"
                " ON CONFLICT (provider, subject) DO UPDATE SET name = excluded.name,"
                " email = excluded.email, avatar_url = excluded.avatar_url,"
                " profile_url = excluded.profile_url, updated_at = excluded.updated_at"
                f" RETURNING {USER_COLUMNS}",
                profile.provider, profile.subject, profile.name, profile.email,
                profile.avatar_url, profile.profile_url, at,
            )  # fmt: skip
            return user_from_row(row)

        return await self._write(op)

    async def get_user(self, user_id: int) -> User | None:
        async with self._connection() as conn:
            row = await conn.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE id = $1", user_id)
        return user_from_row(row) if row else None

    async def add_login_code(
        self, code_hash: str, challenge: str, user_id: int, expires_at: datetime
    ) -> None:
        async def op(conn: asyncpg.Connection) -> None:
            await conn.execute("DELETE FROM login_codes WHERE expires_at < now()")
            await conn.execute(
                "INSERT INTO login_codes (code_hash, challenge, user_id, expires_at)"
                " VALUES ($1, $2, $3, $4)",
                code_hash, challenge, user_id, expires_at,
            )  # fmt: skip

        await self._write(op)

    async def take_login_code(
        self, code_hash: str | None, challenge: str, now: datetime
    ) -> int | None:
        async def op(conn: asyncpg.Connection) -> int | None:
            user_id: int | None = await conn.fetchval(
                "DELETE FROM login_codes WHERE challenge = $1 AND expires_at >= $2"
                " AND ($3::text IS NULL OR code_hash = $3) RETURNING user_id",
                challenge, now, code_hash,
            )  # fmt: skip
            return user_id

        return await self._write(op)

    async def add_sign_in_failure(self, challenge: str, message: str, expires_at: datetime) -> None:
        async def op(conn: asyncpg.Connection) -> None:
            await conn.execute("DELETE FROM sign_in_failures WHERE expires_at < now()")
            await conn.execute(
                "INSERT INTO sign_in_failures (challenge, message, expires_at) VALUES ($1, $2, $3)"
                " ON CONFLICT (challenge) DO UPDATE SET message = excluded.message,"
                " expires_at = excluded.expires_at",
                challenge, message, expires_at,
            )  # fmt: skip

        await self._write(op)

    async def take_sign_in_failure(self, challenge: str, now: datetime) -> str | None:
        async def op(conn: asyncpg.Connection) -> str | None:
            message: str | None = await conn.fetchval(
                "DELETE FROM sign_in_failures WHERE challenge = $1 AND expires_at >= $2"
                " RETURNING message",
                challenge, now,
            )  # fmt: skip
            return message

        return await self._write(op)

    async def add_session(self, token_hash: str, user_id: int, expires_at: datetime) -> None:
        async def op(conn: asyncpg.Connection) -> None:
            await conn.execute(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)"
                " VALUES ($1, $2, now(), $3)",
                token_hash, user_id, expires_at,
            )  # fmt: skip

        await self._write(op)

    async def get_session_user(self, token_hash: str, now: datetime) -> User | None:
        async with self._connection() as conn:
            row = await conn.fetchrow(
                f"SELECT {', '.join('u.' + c for c in USER_COLUMNS.split(', '))}"
                " FROM sessions s JOIN users u ON u.id = s.user_id"
                " WHERE s.token_hash = $1 AND s.expires_at >= $2",
                token_hash, now,
            )  # fmt: skip
        return user_from_row(row) if row else None

    async def delete_session(self, token_hash: str) -> None:
        async def op(conn: asyncpg.Connection) -> None:
            await conn.execute("DELETE FROM sessions WHERE token_hash = $1", token_hash)
            await conn.execute("DELETE FROM sessions WHERE expires_at < now()")

        await self._write(op)

    async def get_provider_app(self, provider: str, instance: str) -> tuple[str, str] | None:
        async with self._connection() as conn:
            return await _provider_app(conn, provider, instance)

    async def add_provider_app(
        self, provider: str, instance: str, client_id: str, client_secret: str
    ) -> tuple[str, str]:
        async def op(conn: asyncpg.Connection) -> tuple[str, str]:
            await conn.execute(
                "INSERT INTO provider_apps (provider, instance, client_id, client_secret,"
                " created_at) VALUES ($1, $2, $3, $4, now()) ON CONFLICT DO NOTHING",
                provider, instance, client_id, client_secret,
            )  # fmt: skip
            app = await _provider_app(conn, provider, instance)
            assert app is not None
            return app

        return await self._write(op)

    # -- moving in and out --------------------------------------------------------------------

    async def import_comments(
        self, site_id: str, items: AsyncIterable[ImportItem], *,
        dry_run: bool = False,
    ) -> ImportTally:  # fmt: skip
        async def op(conn: asyncpg.Connection) -> tuple[list[ThreadHead], ImportTally]:
            tally = ImportTally()
            threads: dict[str, int] = {}
            approved: Counter[int] = Counter()  # new approved comments, by thread

            async def thread_of(page: PageRef, at: datetime) -> int:
                if page.page_id not in threads:
                    known = await conn.fetchval(
                        "SELECT id FROM threads WHERE site_id = $1 AND page_id = $2",
                        site_id, page.page_id,
                    )  # fmt: skip
                    tally.threads_created += known is None
                    threads[page.page_id] = await _ensure_thread(conn, page, at)
                return threads[page.page_id]

            # `import_key <> ''` lets the partial index serve the lookup: the planner cannot
            # tell that a parameter is never ''. Without it each lookup scans the thread.
            async def keyed(thread_id: int, key: str) -> asyncpg.Record | None:
                row: asyncpg.Record | None = await conn.fetchrow(
                    "SELECT id, root_id, depth FROM comments"
                    " WHERE thread_id = $1 AND import_key = $2 AND import_key <> ''",
                    thread_id, key,
                )  # fmt: skip
                return row

            async for item in items:
                if isinstance(item, ImportedThread):
                    thread_id = await thread_of(item.page, item.created_at)
                    if item.closed:
                        await conn.execute(
                            "UPDATE threads SET closed = true WHERE id = $1", thread_id
                        )
                    if item.origin:
                        was = await conn.fetchval(
                            "SELECT origin FROM threads WHERE id = $1", thread_id
                        )
                        await conn.execute(
                            "UPDATE threads SET origin = $1 WHERE id = $2",
                            merged_origin(was, item.origin),
                            thread_id,
                        )
                    continue
                if isinstance(item, ImportedLike):
                    if item.page_id in threads:
                        tally.likes += await _import_like(conn, threads[item.page_id], item, keyed)
                    continue
                thread_id = await thread_of(item.page, item.created_at)
                user_id = await _imported_user(conn, item.user, item.created_at)
                row = await conn.fetchrow(
                    IMPORT_COMMENT, thread_id, item.key, item.parent_key, item.status,
                    item.author_name, item.author_email, item.author_url, item.body_source,
                    item.body_html, item.remote_ip, item.like_count, item.created_at,
                    item.edited_at, user_id, item.author_avatar, item.author_provider,
                    item.pinned,
                )  # fmt: skip
                if row is None:
                    tally.duplicates.append(item.key)
                    continue
                if item.parent_key and row["parent_id"] is None:
                    tally.orphans.append(item.key)
                tally.imported += 1
                approved[thread_id] += item.status == "approved"
            heads = [
                await _bump_thread(conn, thread_id, "comment_count = comment_count + $2",
                                   approved[thread_id])
                for thread_id in threads.values()
            ]  # fmt: skip
            if dry_run:
                raise DryRun(tally)
            return heads, tally

        try:
            heads, tally = await self._write(op)
        except DryRun as done:
            return done.tally
        for head in heads:
            self._heads.committed(head)
        return tally

    async def export(
        self, site_ids: Sequence[str], page_id: str | None
    ) -> AsyncIterator[ExportBatch]:
        queries = export_queries(len(site_ids), page_id is not None, lambda n: f"${n}")
        scoped = [*site_ids, *([page_id] if page_id is not None else [])]
        async with (
            self._connection() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            for table, query in queries.items():
                params = site_ids if table in ("sites", "site_origins") else scoped
                batch: list[dict[str, Any]] = []
                async for record in conn.cursor(query, *params, prefetch=COPY_BATCH):
                    batch.append(export_row(record, _same))
                    if len(batch) >= COPY_BATCH:
                        yield ExportBatch(table, batch)
                        batch = []
                if batch:
                    yield ExportBatch(table, batch)

    async def dump(self) -> AsyncIterator[RowBatch]:
        async with (
            self._connection() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            for table, columns in COPY_COLUMNS.items():
                query = (
                    f"SELECT {', '.join(columns)} FROM {table}"
                    f" ORDER BY {', '.join(COPY_KEYS[table])}"
                )
                batch: list[tuple[Any, ...]] = []
                async for record in conn.cursor(query, prefetch=COPY_BATCH):
                    batch.append(tuple(record))
                    if len(batch) == COPY_BATCH:
                        yield RowBatch(table, batch)
                        batch = []
                if batch:
                    yield RowBatch(table, batch)

    async def restore(self, batches: AsyncIterable[RowBatch]) -> dict[str, int]:
        async def op(conn: asyncpg.Connection) -> dict[str, int]:
            if await conn.fetchval("SELECT 1 FROM sites LIMIT 1"):
                raise Conflict("This database already holds sites; copy into an empty one.")
            counts = dict.fromkeys(COPY_COLUMNS, 0)
            async for batch in batches:
                columns = COPY_COLUMNS[batch.table]
                if batch.table == "sites":  # jsonb goes through the connection's codec
                    await conn.executemany(
                        "INSERT INTO sites (id, name, settings, revision, created_at)"
                        " VALUES ($1, $2, $3, $4, $5)",
                        batch.rows,
                    )
                else:  # COPY writes identity columns as given, like OVERRIDING SYSTEM VALUE
                    await conn.copy_records_to_table(
                        batch.table, records=batch.rows, columns=list(columns)
                    )
                counts[batch.table] += len(batch.rows)
            for table in (
                "users",
                "threads",
                "comments",
                "bans",
                "admins",
                "subscriptions",
                "outbox",
            ):  # new ids follow the copied ones
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" coalesce(max(id), 1), max(id) IS NOT NULL) FROM {table}"
                )
            await _notify_site(conn, "*")
            return counts

        counts = await self._write(op)
        self._forget_cached()
        return counts

    async def get_voter_likes(self, thread_id: int, voter: str) -> set[int]:
        async with self._connection() as conn:
            rows = await conn.fetch(
                "SELECT comment_id FROM likes WHERE thread_id = $1 AND voter = $2",
                thread_id, voter,
            )  # fmt: skip
        return {row["comment_id"] for row in rows}


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _migrate(conn: asyncpg.Connection, database: str) -> None:
    # One instance at a time: instances starting together must not apply a migration twice.
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('widget.migrations'))")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (number integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)"
        )
        applied = {
            row["number"] for row in await conn.fetch("SELECT number FROM schema_migrations")
        }
        refuse_newer_schema("postgres", applied, database)
        for number, name, sql in migrations("postgres"):
            if number in applied:
                continue
            await conn.execute(sql)
            await conn.execute(
                "INSERT INTO schema_migrations (number, name, applied_at) VALUES ($1, $2, now())",
                number, name,
            )  # fmt: skip
            log.info("applied migration %04d_%s", number, name)


async def _mark_ready(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "INSERT INTO rate_limits (key, due_at) VALUES ($1, $2)"
        " ON CONFLICT (key) DO UPDATE SET due_at = excluded.due_at",
        READINESS_KEY, time.time(),
    )  # fmt: skip


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__  # a timeout says nothing of itself


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
    if isinstance(exc, _UNAVAILABLE):
        return (
            f"cannot reach {database} ({reason}): check that PostgreSQL is running and"
            " accepts connections there, and that WIDGET_DATABASE_URL names it rightly."
        )
    return f"cannot prepare {database} ({reason})."


async def _load_site(conn: asyncpg.Connection, site_id: str) -> Site | None:
    row = await conn.fetchrow("SELECT * FROM sites WHERE id = $1", site_id)
    if row is None:
        return None
    origins = await conn.fetch(
        "SELECT origin FROM site_origins WHERE site_id = $1 ORDER BY origin", site_id
    )
    return Site(
        id=row["id"],
        name=row["name"],
        origins=tuple(o["origin"] for o in origins),
        settings=row["settings"],
        revision=row["revision"],
        created_at=row["created_at"],
    )


async def _set_origins(conn: asyncpg.Connection, site_id: str, origins: Sequence[str]) -> None:
    await conn.executemany(
        "INSERT INTO site_origins (site_id, origin) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        [(site_id, origin) for origin in origins],
    )


async def _ensure_thread(conn: asyncpg.Connection, page: PageRef, now: datetime) -> int:
    """The id of the page's thread, created if the page has none yet."""
    thread_id: int = await conn.fetchval(
        "INSERT INTO threads (site_id, page_id, url, title, created_at) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (site_id, page_id) DO UPDATE SET site_id = excluded.site_id RETURNING id",
        page.site_id, page.page_id, page.url, page.title, now,
    )  # fmt: skip
    return thread_id


async def _notify(
    conn: asyncpg.Connection, head: ThreadHead, kind: ThreadEventKind, comment_id: int, count: int
) -> None:
    """Tell every instance, when (and only if) this transaction commits."""
    event = ThreadEvent(head.site_id, head.page_id, kind, comment_id, head.version, count)
    await conn.execute("SELECT pg_notify($1, $2)", EVENTS_CHANNEL, event.to_json())


async def _provider_app(
    conn: asyncpg.Connection, provider: str, instance: str
) -> tuple[str, str] | None:
    row = await conn.fetchrow(
        "SELECT client_id, client_secret FROM provider_apps WHERE provider = $1 AND instance = $2",
        provider, instance,
    )  # fmt: skip
    return (row["client_id"], row["client_secret"]) if row else None


async def _notify_site(conn: asyncpg.Connection, site_id: str) -> None:
    await conn.execute("SELECT pg_notify($1, $2)", SITES_CHANNEL, site_id)


async def _exists(conn: asyncpg.Connection, where: str, *params: Any) -> bool:
    return bool(await conn.fetchval(f"SELECT 1 FROM comments WHERE {where} LIMIT 1", *params))


async def _bump_thread(
    conn: asyncpg.Connection, thread_id: int, changes: str = "", *params: Any, bump: bool = True
) -> ThreadHead:
    """Apply `changes` ($2… are `params`) to a thread and, when `bump`, move its version on."""
    assignments = (
        ", ".join(part for part in ("version = version + 1" if bump else "", changes) if part)
        or "version = version"
    )
    row = await conn.fetchrow(
        f"UPDATE threads SET {assignments} WHERE id = $1 RETURNING {HEAD_COLUMNS}",
        thread_id, *params,
    )  # fmt: skip
    return head_from_row(row)


async def _spend(conn: asyncpg.Connection, token: SingleUse, now: datetime) -> None:
    """Record a single-use token's use, or raise Conflict when it was used before (a second
    use at the same moment waits for the first to commit, then finds it). Tokens past their
    expiry are refused before they get here, so their records go."""
    await conn.execute("DELETE FROM spent_form_tokens WHERE expires_at < $1", now)
    recorded = await conn.fetchval(
        "INSERT INTO spent_form_tokens (token_id, expires_at) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING RETURNING 1",
        token.token_id, token.expires_at,
    )  # fmt: skip
    if not recorded:
        raise Conflict(token.used)


async def _check_guest_limit(
    conn: asyncpg.Connection, thread_id: int, comment_id: int, voter: str, limit: GuestLikeLimit
) -> None:
    """A new guest like must find room among its network's likes of the comment. Likes from
    one network of one comment take turns (a lock until commit), so that two at once cannot
    both see the last place free."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        f"guest-like:{thread_id}:{comment_id}:{limit.network}",
    )
    row = await conn.fetchrow(
        "SELECT EXISTS (SELECT 1 FROM likes WHERE thread_id = $1 AND voter = $2"
        " AND comment_id = $3) AS again, (SELECT count(*) FROM likes"
        " WHERE thread_id = $1 AND comment_id = $3 AND network = $4) AS taken",
        thread_id, voter, comment_id, limit.network,
    )  # fmt: skip
    if not row["again"]:
        limit.check(row["taken"])


async def _take_rate_token(conn: asyncpg.Connection, limit: RateLimit, now: float) -> None:
    """RateLimit.take, made safe for many instances by locking the key's row for the rest of
    the transaction."""
    await conn.execute(
        "INSERT INTO rate_limits (key, due_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        limit.key, now,
    )  # fmt: skip
    stored = await conn.fetchval(
        "SELECT due_at FROM rate_limits WHERE key = $1 FOR UPDATE", limit.key
    )
    await conn.execute(
        "UPDATE rate_limits SET due_at = $2 WHERE key = $1", limit.key, limit.take(stored, now)
    )


async def _queue(conn: asyncpg.Connection, jobs: Sequence[NewJob], now: datetime) -> None:
    if jobs:
        await conn.executemany(
            "INSERT INTO outbox (kind, payload, due_at, created_at) VALUES ($1, $2, $3, $3)",
            [(kind, json.dumps(dict(payload)), now) for kind, payload in jobs],
        )


def _job(row: asyncpg.Record) -> OutboxJob:
    return OutboxJob(
        row["id"], row["kind"], json.loads(row["payload"]), row["attempts"], row["created_at"]
    )


def _author_match(email: str | None, user_id: int | None) -> tuple[str, Any]:
    if user_id is not None:
        return "c.user_id = $1", user_id
    if not email:
        raise ValueError("an email address or a user id is needed")
    return "lower(c.author_email) = $1", email.lower()


def _json_or_null(values: Sequence[str] | None) -> str | None:
    return json.dumps(list(values)) if values is not None else None


async def _prune_rate_limits(conn: asyncpg.Connection) -> None:
    # A key whose due time has passed limits nobody: dropping it changes no decision.
    await conn.execute("DELETE FROM rate_limits WHERE due_at < $1", time.time())


KeyLookup = Callable[[int, str], Awaitable["asyncpg.Record | None"]]

# One imported comment in one statement: its parent found by key (or none: top level), and
# nothing written when its key is already in the thread (no row returned).
IMPORT_COMMENT = (
    "INSERT INTO comments (thread_id, parent_id, root_id, depth, status, author_name,"
    " author_email, author_url, body_source, body_html, remote_ip, like_count, created_at,"
    " edited_at, user_id, author_avatar, author_provider, pinned, import_key)"
    " SELECT $1::bigint, p.id, coalesce(p.root_id, p.id), coalesce(p.depth + 1, 1),"
    " $4::text, $5::text, $6::text, $7::text, $8::text, $9::text, $10::text, $11::integer,"
    " $12::timestamptz, $13::timestamptz, $14::bigint, $15::text, $16::text, $17::boolean,"
    " $2::text FROM (SELECT 1) AS one LEFT JOIN comments p"
    " ON p.thread_id = $1 AND p.import_key = $3::text AND p.import_key <> ''"
    " WHERE NOT EXISTS (SELECT 1 FROM comments d WHERE d.thread_id = $1"
    " AND d.import_key = $2 AND d.import_key <> '') RETURNING parent_id"
)


async def _import_like(
    conn: asyncpg.Connection, thread_id: int, like: ImportedLike, keyed: KeyLookup
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
    added = await conn.fetchval(
        "INSERT INTO likes (thread_id, voter, comment_id, created_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT DO NOTHING RETURNING 1",
        thread_id, voter, comment_id, like.created_at,
    )  # fmt: skip
    if added and comment_id == POST_LIKE:
        await conn.execute(
            "UPDATE threads SET like_count = like_count + 1 WHERE id = $1", thread_id
        )
    return 1 if added else 0


async def _imported_user(
    conn: asyncpg.Connection, profile: Profile | None, at: datetime
) -> int | None:
    """The id of an imported comment's signed-in author, added if unknown (a later sign-in
    with the same provider identity finds their comments theirs)."""
    if profile is None:
        return None
    user_id: int = await conn.fetchval(
        "INSERT INTO users (provider, subject, name, email, avatar_url, profile_url, created_at,"
        " updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (provider, subject)"
        " DO UPDATE SET provider = excluded.provider RETURNING id",
        profile.provider, profile.subject, profile.name, profile.email, profile.avatar_url,
        profile.profile_url, at,
    )  # fmt: skip
    return user_id
