"""Threads: their heads (version, counts, title) and the pages readers see, written once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from widget.records import Comment, PageRef, PageWindow, ThreadEventKind, ThreadHead, ThreadPage

from .base import Outcome, Refused, columns
from .sql import Db, SQLBackend

__all__ = [
    "SHOWN_ROOTS",
    "OpenedThread",
    "ThreadQueries",
    "bump_thread",
    "ensure_thread",
    "open_thread",
    "root_shown",
    "title_due",
]

# Which comments a thread page reads. A root shows when approved,
# or when an approved reply hangs under it (it is then a placeholder that keeps the replies in
# place). A reply is read when approved or when it has replies of its own (it may be such a
# placeholder); placeholders with nothing visible under them are dropped when the tree is built.
VISIBLE_ROOT = (
    "(status = 'approved' OR EXISTS (SELECT 1 FROM comments r WHERE r.root_id = comments.id"
    " AND r.status = 'approved'))"
)
SHOWN_REPLY = (
    "(status = 'approved' OR EXISTS (SELECT 1 FROM comments r WHERE r.parent_id = comments.id))"
)
SHOWN_ROOTS = "thread_id = ? AND parent_id IS NULL AND " + VISIBLE_ROOT  # of the thread `?`
_HEAD, _COMMENT = columns(ThreadHead), columns(Comment)


class OpenedThread(NamedTuple):
    id: int
    title: str  # as stored before this write
    created: bool  # by this write


async def open_thread(
    db: Db, page: PageRef, now: datetime, *, refuse_closed: bool = False
) -> OpenedThread:
    """The page's thread, created if the page has none yet; with `refuse_closed`, Refused
    when it is closed (in the same statement: one less in a comment's write; on PostgreSQL it
    also locks the row, so a thread closed meanwhile is seen closed)."""
    # A thread made before has another created_at than this write's `now` (one made in the
    # same microsecond would pass for new: one more look at its page, no harm).
    row = await db.fetch_one(
        "INSERT INTO threads (site_id, page_id, url, title, created_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (site_id, page_id) DO UPDATE SET site_id = excluded.site_id"
        " RETURNING id, title, closed, created_at = ? AS created",
        page.site_id, page.page_id, page.url, page.title, now, now,
    )  # fmt: skip
    assert row is not None
    if refuse_closed and row["closed"]:
        raise Refused(Outcome.THREAD_CLOSED)
    return OpenedThread(int(row["id"]), str(row["title"]), bool(row["created"]))


async def ensure_thread(
    db: Db, page: PageRef, now: datetime, *, refuse_closed: bool = False
) -> int:
    """The id of the page's thread (open_thread)."""
    return (await open_thread(db, page, now, refuse_closed=refuse_closed)).id


def title_due(thread: OpenedThread, page: PageRef, *, on_rename: bool = True) -> bool:
    """Whether a write to `thread` should have the server read the page's own title
    (widget/page_titles.py): the site has it do so, and the thread is new or (`on_rename`) the
    embed sent another title than the stored one (the page was renamed, or someone says so)."""
    renamed = on_rename and page.title not in ("", thread.title)
    return page.fetch_title and (thread.created or renamed)


async def bump_thread(
    db: Db, thread_id: int, changes: str = "", *params: Any, bump: bool = True
) -> ThreadHead:
    """Apply `changes` (with `params` for its placeholders) to a thread and, when `bump`, move
    its version on; its head as it is now."""
    assignments = (
        ", ".join(part for part in ("version = version + 1" if bump else "", changes) if part)
        or "version = version"
    )
    head = await db.fetch_record(
        ThreadHead, f"UPDATE threads SET {assignments} WHERE id = ? RETURNING {_HEAD}",
        *params, thread_id,
    )  # fmt: skip
    assert head is not None
    return head


async def _exists(db: Db, where: str, *params: Any) -> bool:
    return await db.fetch_one(f"SELECT 1 FROM comments WHERE {where} LIMIT 1", *params) is not None


async def root_shown(db: Db, root_id: int) -> bool:
    """Whether a top-level comment is on its thread's pages: approved, or removed but kept for
    an approved reply. Writes that change a comment's status ask before and after, and move
    the thread's `root_count` by the difference (page numbers come from that count)."""
    return await _exists(db, f"id = ? AND {VISIBLE_ROOT}", root_id)


class ThreadQueries(SQLBackend):
    async def _thread_changed(
        self, db: Db, thread_id: int, kind: ThreadEventKind, comment_id: int, changes: str = "",
        *params: Any,
    ) -> ThreadHead:  # fmt: skip
        """bump_thread, and readers told of the change (with the comment count) on commit."""
        head = await bump_thread(db, thread_id, changes, *params)
        await self._tell(db, head, kind, comment_id, head.comment_count)
        return head

    async def get_thread_head(
        self, site_id: str, page_id: str, *, fresh: bool = False
    ) -> ThreadHead | None:
        """The page's thread, None when it has none. `fresh` reads past the cache (and puts
        what it read there): a held comment makes its thread without a word to the caches,
        since readers see no change, but its author must find it."""
        return (await self.get_thread_heads(site_id, [page_id], fresh=fresh)).get(page_id)

    async def get_thread_heads(
        self, site_id: str, page_ids: Sequence[str], *, fresh: bool = False
    ) -> dict[str, ThreadHead]:
        found: dict[str, ThreadHead] = {}
        missing = list(page_ids)
        if self._caching and not fresh:
            missing = []
            for page_id in page_ids:
                known, head = self._heads.lookup((site_id, page_id))
                if not known:
                    missing.append(page_id)
                elif head is not None:
                    found[page_id] = head
        if missing:
            generation = self._heads.generation
            async with self._read() as db:
                pages, params = db.dialect.one_of("page_id", missing)
                heads = await db.fetch_records(
                    ThreadHead, f"SELECT {_HEAD} FROM threads WHERE site_id = ? AND {pages}",
                    site_id, *params,
                )  # fmt: skip
            loaded = {head.page_id: head for head in heads}
            if self._caching:
                for page_id in missing:
                    self._heads.fill((site_id, page_id), loaded.get(page_id), generation)
            found.update(loaded)
        return found

    async def retitle_thread(self, thread_id: int, title: str) -> ThreadHead | None:
        """Store the title read from the thread's page; its head when that changed it (its
        version moves on, so caches and ETags see the new title), else None."""

        async def op(db: Db) -> ThreadHead | None:
            head = await db.fetch_record(
                ThreadHead, "UPDATE threads SET title = ?, version = version + 1"
                f" WHERE id = ? AND title <> ? RETURNING {_HEAD}", title, thread_id, title,
            )  # fmt: skip
            if head is not None:
                await self._tell(db, head, "title", 0, head.comment_count)
            return head

        return await self._run(op)

    async def get_thread(self, thread_id: int) -> ThreadHead | None:
        return await self._read_record(
            ThreadHead, f"SELECT {_HEAD} FROM threads WHERE id = ?", thread_id
        )

    async def get_thread_page(
        self, thread_id: int, window: PageWindow
    ) -> tuple[ThreadHead, ThreadPage]:
        async with self._snapshot() as db:  # the head and the comments from one snapshot
            head = await db.fetch_record(
                ThreadHead, f"SELECT {_HEAD} FROM threads WHERE id = ?", thread_id
            )
            if head is None:
                raise Refused(Outcome.NO_THREAD)
            # Roots beyond the cursor, upwards (`after`) or downwards; then whether any lie
            # the other way.
            after = window.direction == "after"
            if after:
                cursor, ahead, behind, order = window.cursor or 0, ">", "<=", "id"
            else:
                cursor = window.cursor if window.cursor is not None else 2**62
                ahead, behind, order = "<", ">=", "id DESC"
            found = await db.fetch_records(
                Comment, f"SELECT {_COMMENT} FROM comments WHERE {SHOWN_ROOTS}"
                f" AND id {ahead} ? ORDER BY {order} LIMIT ? OFFSET ?",
                thread_id, cursor, window.size + 1, window.skip,
            )  # fmt: skip
            roots = found[: window.size] if after else found[window.size - 1 :: -1]
            more_ahead = len(found) > window.size
            more_behind = window.skip > 0 or (
                (cursor > 0 if after else window.cursor is not None)
                and await _exists(db, f"{SHOWN_ROOTS} AND id {behind} ?", thread_id, cursor)
            )
            pinned: list[Comment] = []
            if window.cursor is None and not window.skip:  # the opening page: pinned on top
                # Written as each backend's partial index says it (comments_pinned), so the
                # pinned are found there: SQLite takes `AND pinned` for another condition and
                # read every top-level comment of the thread (80 ms of 100,000).
                is_pinned = "pinned = 1" if db.dialect.name == "sqlite" else "pinned"
                pinned = await db.fetch_records(
                    Comment, f"SELECT {_COMMENT} FROM comments WHERE {SHOWN_ROOTS}"
                    f" AND {is_pinned} ORDER BY id", thread_id,
                )  # fmt: skip
            replies: list[Comment] = []
            if root_ids := {root.id for root in roots} | {root.id for root in pinned}:
                under, params = db.dialect.one_of("root_id", sorted(root_ids))
                replies = await db.fetch_records(
                    Comment, f"SELECT {_COMMENT} FROM comments WHERE {under} AND {SHOWN_REPLY}"
                    " ORDER BY id", *params,
                )  # fmt: skip
        more_before, more_after = (more_behind, more_ahead) if after else (more_ahead, more_behind)
        return head, ThreadPage(roots, replies, more_before, more_after, pinned)
