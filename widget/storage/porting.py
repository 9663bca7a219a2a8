"""Moving in and out, written once: imports and loading a dump (all or nothing), exports and
dumps (each from one snapshot, in batches). How a dump's rows are written is each backend's
own (`_load_rows`): PostgreSQL copies them."""

from __future__ import annotations

from collections import Counter
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Collection,
    Sequence,
)
from contextlib import aclosing
from datetime import datetime

from widget.records import (
    POST_LIKE,
    ExportBatch,
    ImportedLike,
    ImportedThread,
    ImportItem,
    ImportTally,
    PageRef,
    Profile,
    ThreadHead,
)

from .base import COPY_COLUMNS, LARGEST_IDS, Outcome, Refused, Row, RowBatch
from .sql import Db, SQLBackend
from .threads import SHOWN_ROOTS, bump_thread, ensure_thread

__all__ = ["PortingQueries"]

# The key of each table without an `id`: rows are copied in the order of their key (comments
# by id: parents first).
COPY_KEYS: dict[str, str] = {
    "site_origins": "site_id, origin",
    "sessions": "token_hash",
    "likes": "thread_id, voter, comment_id",
    "feed_entries": "site_id, entry_key",
}


COPY_BATCH = 1000  # rows per batch when exporting or dumping

KeyLookup = Callable[[int, str], Awaitable[Row | None]]


class DryRun(Exception):
    """Raised inside an import's transaction to roll it back and still report what it did."""

    def __init__(self, tally: ImportTally) -> None:
        super().__init__("dry run")
        self.tally = tally


EXPORT_COMMENT_COLUMNS = (
    "c.id, c.thread_id, c.parent_id, c.status, c.author_name, c.author_email, c.author_url,"
    " c.body_source, c.body_html, c.remote_ip, c.like_count, c.created_at, c.edited_at,"
    " c.user_id, c.author_avatar, c.author_provider, c.pinned, c.import_key,"
    " p.import_key AS parent_import_key"
)


def export_queries(site_count: int, by_page: bool) -> dict[str, str]:
    """The queries an export reads, table by table, for some sites (and maybe one page)."""
    sites = ", ".join("?" * site_count)
    scope = f"t.site_id IN ({sites})" + (" AND t.page_id = ?" if by_page else "")
    in_scope = f"JOIN threads t ON t.id = c.thread_id WHERE {scope}"
    return {
        "sites": "SELECT id, name, settings, created_at FROM sites"
        f" WHERE id IN ({sites}) ORDER BY id",
        "site_origins": f"SELECT site_id, origin FROM site_origins WHERE site_id IN ({sites})"
        " ORDER BY site_id, origin",
        "threads": "SELECT t.id, t.site_id, t.page_id, t.url, t.title, t.closed, t.like_count,"
        f" t.created_at, t.origin FROM threads t WHERE {scope} ORDER BY t.id",
        # Users who wrote a comment, or liked something, in scope (a like's voter is
        # "user:ID" for a signed-in reader).
        "users": "SELECT id, provider, subject, name, email, avatar_url, profile_url, created_at"
        " FROM users WHERE id IN (SELECT people.user_id FROM threads t JOIN ("
        "SELECT thread_id, user_id FROM comments WHERE user_id IS NOT NULL UNION ALL"
        " SELECT thread_id, CAST(substr(voter, 6) AS BIGINT) FROM likes"
        f" WHERE voter LIKE 'user:%') AS people ON people.thread_id = t.id WHERE {scope})"
        " ORDER BY id",
        "comments": f"SELECT {EXPORT_COMMENT_COLUMNS} FROM comments c"
        f" LEFT JOIN comments p ON p.id = c.parent_id {in_scope} ORDER BY c.thread_id, c.id",
        "likes": "SELECT l.thread_id, l.voter, l.comment_id, l.created_at, c.import_key"
        " FROM likes l JOIN threads t ON t.id = l.thread_id"
        f" LEFT JOIN comments c ON c.id = l.comment_id WHERE {scope}"
        " ORDER BY l.thread_id, l.comment_id, l.voter",
    }  # fmt: skip


def _import_comment(db: Db) -> str:
    """One imported comment in one statement: its parent found by key (or none: top level),
    and nothing written when its key is already in the thread (no row returned). The casts
    type the parameters of the SELECT list for PostgreSQL."""
    time, flag = db.dialect.time_type, db.dialect.flag_type
    return (
        "INSERT INTO comments (thread_id, parent_id, root_id, depth, status, author_name,"
        " author_email, author_url, body_source, body_html, remote_ip, like_count, created_at,"
        " edited_at, user_id, author_avatar, author_provider, pinned, import_key)"
        " SELECT CAST(? AS BIGINT), p.id, coalesce(p.root_id, p.id), coalesce(p.depth + 1, 1),"
        " CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT),"
        " CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS INTEGER),"
        f" CAST(? AS {time}), CAST(? AS {time}), CAST(? AS BIGINT), CAST(? AS TEXT),"
        f" CAST(? AS TEXT), CAST(? AS {flag}), CAST(? AS TEXT)"
        " FROM (SELECT 1) AS one LEFT JOIN comments p"
        " ON p.thread_id = ? AND p.import_key = CAST(? AS TEXT) AND p.import_key <> ''"
        " WHERE NOT EXISTS (SELECT 1 FROM comments d WHERE d.thread_id = ?"
        " AND d.import_key = ? AND d.import_key <> '') RETURNING parent_id"
    )


async def _imported_user(db: Db, profile: Profile | None, at: datetime) -> int | None:
    """The id of an imported comment's signed-in author, added if unknown (a later sign-in
    with the same provider identity finds their comments theirs)."""
    if profile is None:
        return None
    user_id = await db.fetch_value(
        "INSERT INTO users (provider, subject, name, email, avatar_url, profile_url, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (provider, subject)"
        " DO UPDATE SET provider = excluded.provider RETURNING id",
        profile.provider, profile.subject, profile.name, profile.email, profile.avatar_url,
        profile.profile_url, at, at,
    )  # fmt: skip
    return int(user_id)


async def _import_like(db: Db, thread_id: int, like: ImportedLike, keyed: KeyLookup) -> int:
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
        voter = f"user:{await _imported_user(db, like.user, like.created_at)}"
    elif voter.startswith("user:"):
        return 0  # "user:N" would name whoever is user N in this database
    added = await db.execute(
        "INSERT INTO likes (thread_id, voter, comment_id, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        thread_id, voter, comment_id, like.created_at,
    )  # fmt: skip
    if added and comment_id == POST_LIKE:
        await db.execute("UPDATE threads SET like_count = like_count + 1 WHERE id = ?", thread_id)
    return 1 if added else 0


class PortingQueries(SQLBackend):
    async def import_comments(
        self, site_id: str, items: AsyncIterable[ImportItem], *,
        dry_run: bool = False,
    ) -> ImportTally:  # fmt: skip
        """Add comments (parents before replies) and likes to a site in ONE transaction: all
        or nothing. A key already in its thread is skipped; a reply whose parent is in neither
        the database nor the items goes to the top level. Nobody is notified."""

        async def op(db: Db) -> ImportTally:
            tally = ImportTally()
            threads: dict[str, int] = {}
            approved: Counter[int] = Counter()  # new approved comments, by thread
            insert = _import_comment(db)

            async def thread_of(page: PageRef, at: datetime) -> int:
                if page.page_id not in threads:
                    known = await db.fetch_value(
                        "SELECT id FROM threads WHERE site_id = ? AND page_id = ?",
                        site_id, page.page_id,
                    )  # fmt: skip
                    tally.threads_created += known is None
                    threads[page.page_id] = await ensure_thread(db, page, at)
                return threads[page.page_id]

            # `import_key <> ''` lets the partial index serve the lookup: the planner cannot
            # tell that a parameter is never ''. Without it each lookup scans the thread.
            async def keyed(thread_id: int, key: str) -> Row | None:
                return await db.fetch_one(
                    "SELECT id, root_id, depth FROM comments"
                    " WHERE thread_id = ? AND import_key = ? AND import_key <> ''",
                    thread_id, key,
                )  # fmt: skip

            async for item in items:
                if isinstance(item, ImportedThread):
                    thread_id = await thread_of(item.page, item.created_at)
                    if item.closed:
                        await db.execute("UPDATE threads SET closed = ? WHERE id = ?", True,
                                         thread_id)  # fmt: skip
                    if item.origin:
                        was = await db.fetch_value(
                            "SELECT origin FROM threads WHERE id = ?", thread_id
                        )
                        await db.execute(
                            "UPDATE threads SET origin = ? WHERE id = ?",
                            item.merged_origin(str(was or "")), thread_id,
                        )  # fmt: skip
                    continue
                if isinstance(item, ImportedLike):
                    if item.page_id in threads:
                        tally.likes += await _import_like(db, threads[item.page_id], item, keyed)
                    continue
                thread_id = await thread_of(item.page, item.created_at)
                user_id = await _imported_user(db, item.user, item.created_at)
                row = await db.fetch_one(
                    insert, thread_id, item.status, item.author_name, item.author_email,
                    item.author_url, item.body_source, item.body_html, item.remote_ip,
                    item.like_count, item.created_at, item.edited_at, user_id,
                    item.author_avatar, item.author_provider, item.pinned, item.key,
                    thread_id, item.parent_key, thread_id, item.key,
                )  # fmt: skip
                if row is None:
                    tally.duplicates.append(item.key)
                    continue
                if item.parent_key and row["parent_id"] is None:
                    tally.orphans.append(item.key)
                tally.imported += 1
                approved[thread_id] += item.status == "approved"
            heads: list[ThreadHead] = []
            for thread_id in threads.values():
                heads.append(await bump_thread(  # its shown top-level comments counted afresh
                    db, thread_id, "comment_count = comment_count + ?,"
                    f" root_count = (SELECT count(*) FROM comments WHERE {SHOWN_ROOTS})",
                    approved[thread_id], thread_id,
                ))  # fmt: skip
            if dry_run:
                raise DryRun(tally)

            def cache() -> None:  # nobody is told of an import: only the caches follow
                for head in heads:
                    self._heads.committed(head)

            if self._caching:
                db.after_commit(cache)
            return tally

        try:
            return await self._run(op, waits=True)  # for the items, which may be read as it goes
        except DryRun as done:
            return done.tally

    async def export(
        self, site_ids: Sequence[str], page_id: str | None
    ) -> AsyncGenerator[ExportBatch]:
        """Everything of some sites (or of one page of one site), from one snapshot, table by
        table (ExportBatch.table), in batches: memory stays flat whatever the size."""
        queries = export_queries(len(site_ids), page_id is not None)
        scoped = [*site_ids, *([page_id] if page_id is not None else [])]
        async with self._snapshot() as db:
            for table, query in queries.items():
                params = site_ids if table in ("sites", "site_origins") else scoped
                async with aclosing(db.stream(query, *params, batch=COPY_BATCH)) as stream:
                    async for rows in stream:
                        names = list(rows[0].keys())
                        yield ExportBatch(
                            table,
                            [
                                dict(zip(names, db.dialect.plain(names, row), strict=True))
                                for row in rows
                            ],
                        )

    async def dump(self, only: Collection[str] = ()) -> AsyncGenerator[RowBatch]:
        """Every row worth keeping, from one consistent snapshot, in batches; with `only`, the
        rows of those tables alone (and no LARGEST_IDS)."""
        if unknown := set(only) - COPY_COLUMNS.keys():
            raise ValueError(f"a dump holds no table {', '.join(sorted(unknown))}")
        async with self._snapshot() as db:
            for table, columns in COPY_COLUMNS.items():
                if only and table not in only:
                    continue
                query = (
                    f"SELECT {', '.join(columns)} FROM {table}"
                    f" ORDER BY {COPY_KEYS.get(table, 'id')}"
                )
                async with aclosing(db.stream(query, batch=COPY_BATCH)) as stream:
                    async for rows in stream:
                        yield RowBatch(table, [db.dialect.plain(columns, row) for row in rows])
            if not only:
                yield RowBatch(LARGEST_IDS, sorted(await self._largest_ids(db)))

    async def restore(self, batches: AsyncIterable[RowBatch]) -> dict[str, int]:
        """Load a dump into this (empty) database in one transaction, keeping every id.
        Refused (NOT_EMPTY) when the database already holds sites. Returns rows per table."""

        async def op(db: Db) -> dict[str, int]:
            if await db.fetch_one("SELECT 1 FROM sites LIMIT 1") is not None:
                raise Refused(Outcome.NOT_EMPTY)
            counts = dict.fromkeys(COPY_COLUMNS, 0)
            largest_ids: dict[str, int] = {}
            async for batch in batches:
                if batch.table == LARGEST_IDS:
                    largest_ids.update((t, n) for t, n in batch.rows if t in COPY_COLUMNS)
                    continue
                await self._load_rows(db, batch)
                counts[batch.table] += len(batch.rows)
            await self._loaded(db, largest_ids)
            await self._sites_changed(db, None)
            db.after_commit(self._heads.clear)
            return counts

        return await self._run(op, waits=True)  # for the batches, read from elsewhere
