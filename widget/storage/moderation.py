"""What moderators read and do, and a commenter's own data (theirs to see and to erase),
written once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from widget.records import Comment, CommentStatus, QueueItem, QueueQuery, ThreadHead

from .base import Outcome, Refused, Row, columns, record
from .comments import rewrite
from .outbox import SUBSCRIPTIONS, queue_jobs
from .sql import Db
from .threads import ThreadQueries, root_shown

__all__ = ["ModerationQueries"]

_COMMENT = columns(Comment)
ERASE_CHUNK = 500  # comments per UPDATE when erasing (SQLite's parameters are limited)

# What the moderation queue's search fields (QueueQuery's of these names) look in (c: the comment,
# t: its thread).
QUEUE_SEARCH = {
    "text": ("c.body_source",),
    "author": ("c.author_name", "c.author_email", "c.author_url", "c.remote_ip"),
    "page": ("t.page_id", "t.url", "t.title"),
}
# A comment with its thread's place, as the moderation queue and a commenter's export list them.
QUEUE_SELECT = (
    f"SELECT {columns(Comment, 'c')}, t.site_id, t.page_id, t.url, t.title,"
    " t.closed AS thread_closed FROM comments c JOIN threads t ON t.id = c.thread_id"
)


def queue_item(row: Row, when: Callable[[Any], datetime]) -> QueueItem:
    return record(QueueItem, row, when, comment=record(Comment, row, when))


# What erasing leaves of a comment: its place in the thread, nothing about its author.
ERASED = (
    "status = 'deleted', author_name = '', author_email = '', author_url = '',"
    " author_avatar = '', author_provider = '', body_source = '', body_html = '',"
    " remote_ip = '', held_because = '', fingerprint = '', user_id = NULL"
)
NOT_ERASED = "NOT (c.status = 'deleted' AND c.body_source = '' AND c.author_name = '')"


def like_pattern(text: str) -> str:
    """`%text%` for LIKE ... ESCAPE '\\', with the text's own wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _author_match(email: str | None, user_id: int | None) -> tuple[str, Any]:
    if user_id is not None:
        return "c.user_id = ?", user_id
    if not email:
        raise ValueError("an email address or a user id is needed")
    return "lower(c.author_email) = ?", email.lower()


class ModerationQueries(ThreadQueries):
    async def list_queue(self, query: QueueQuery) -> list[QueueItem]:
        async with self._read() as db:
            sites, params = db.dialect.one_of("t.site_id", query.site_ids)
            where = [sites]
            if query.status is not None:
                where.append("c.status = ?")
                params.append(query.status)
            for field, columns in QUEUE_SEARCH.items():
                if text := getattr(query, field):
                    found = (db.dialect.contains.format(column=column) for column in columns)
                    where.append("(" + " OR ".join(found) + ")")
                    params.extend([like_pattern(text)] * len(columns))
            if query.before_id is not None:
                where.append("c.id < ?")
                params.append(query.before_id)
            if query.thread_id is not None:
                where.append("c.thread_id = ?")
                params.append(query.thread_id)
            rows = await db.fetch_all(
                f"{QUEUE_SELECT} WHERE {' AND '.join(where)} ORDER BY c.id DESC LIMIT ?",
                *params, query.limit,
            )  # fmt: skip
            return [queue_item(row, db.dialect.when) for row in rows]

    async def count_by_status(self, site_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Comments per site and status (statuses without comments left out)."""
        counts: dict[str, dict[str, int]] = {site_id: {} for site_id in site_ids}
        if not site_ids:
            return counts
        async with self._read() as db:
            sites, params = db.dialect.one_of("t.site_id", site_ids)
            rows = await db.fetch_all(
                "SELECT t.site_id, c.status, count(*) AS n FROM comments c"
                f" JOIN threads t ON t.id = c.thread_id WHERE {sites} GROUP BY t.site_id, c.status",
                *params,
            )
        for row in rows:
            counts[row["site_id"]][row["status"]] = row["n"]
        return counts

    async def set_status(
        self, comment_ids: Sequence[int], status: CommentStatus, site_ids: Sequence[str]
    ) -> list[Comment]:
        """Move comments (of these sites only) to `status`, keeping thread counts and versions
        true and telling readers; the comments that changed, as they are now."""

        async def op(db: Db) -> list[Comment]:
            changed: list[Comment] = []
            if not site_ids:
                return changed
            sites, params = db.dialect.one_of("t.site_id", site_ids)
            for comment_id in comment_ids:
                found = await db.fetch_one(
                    "SELECT c.status, coalesce(c.root_id, c.id) AS root FROM comments c"
                    f" JOIN threads t ON t.id = c.thread_id WHERE c.id = ? AND {sites}"
                    f"{db.dialect.lock_rows}",
                    comment_id, *params,
                )  # fmt: skip
                if found is None or found["status"] == status:
                    continue
                old = found["status"]
                was_shown = await root_shown(db, found["root"])
                comment = await db.fetch_record(
                    Comment, f"UPDATE comments SET status = ? WHERE id = ? RETURNING {_COMMENT}",
                    status, comment_id,
                )  # fmt: skip
                assert comment is not None
                # Published for the first time: people are told (a restored one was told of).
                if status == "approved" and old in ("pending", "spam"):
                    job = {"comment": comment_id, "event": "approved"}
                    await queue_jobs(db, [("comment", job)], db.now)
                # How the thread's comment count moves: approved before or after.
                delta = (status == "approved") - (old == "approved")
                if delta:  # its root may have come or gone too
                    roots = int(await root_shown(db, found["root"])) - int(was_shown)
                    await self._thread_changed(
                        db, comment.thread_id, "comment" if status == "approved" else "delete",
                        comment.id,
                        "comment_count = comment_count + ?, root_count = root_count + ?",
                        delta, roots,
                    )  # fmt: skip
                changed.append(comment)
            return changed

        return await self._run(op)

    async def moderate_edit(
        self, comment_id: int, body_source: str, body_html: str, author_name: str,
        author_url: str, at: datetime,
    ) -> Comment:  # fmt: skip
        """A moderator's edit, of a comment in any status."""

        async def op(db: Db) -> Comment:
            comment = await rewrite(db, comment_id, body_source, body_html, author_name,
                                    author_url, at, approved_only=False)  # fmt: skip
            if comment is None:
                raise Refused(Outcome.NO_COMMENT)
            if comment.status == "approved":  # else not shown: the thread did not change
                await self._thread_changed(db, comment.thread_id, "edit", comment.id)
            return comment

        return await self._run(op)

    async def set_pinned(self, comment_id: int, pinned: bool) -> Comment:
        """Pin a top-level comment to the top of its thread's first page (or unpin it)."""

        async def op(db: Db) -> Comment:
            comment = await db.fetch_record(
                Comment, "UPDATE comments SET pinned = ? WHERE id = ? AND parent_id IS NULL"
                f" RETURNING {_COMMENT}",
                pinned, comment_id,
            )  # fmt: skip
            if comment is None:
                raise Refused(Outcome.NOT_TOP_LEVEL)
            await self._thread_changed(db, comment.thread_id, "edit", comment.id)
            return comment

        return await self._run(op)

    async def set_closed(self, thread_id: int, closed: bool) -> ThreadHead:
        async def op(db: Db) -> ThreadHead:
            if await db.fetch_one("SELECT 1 FROM threads WHERE id = ?", thread_id) is None:
                raise Refused(Outcome.NO_THREAD)
            return await self._thread_changed(db, thread_id, "edit", 0, "closed = ?", closed)

        return await self._run(op)

    # -- a commenter's own data ---------------------------------------------------------------

    async def author_comments(self, email: str | None, user_id: int | None) -> list[QueueItem]:
        """Every comment written by a signed-in user (`user_id`) or under an email address,
        oldest first, except those already erased."""
        who, value = _author_match(email, user_id)
        async with self._read() as db:
            rows = await db.fetch_all(
                f"{QUEUE_SELECT} WHERE {who} AND {NOT_ERASED} ORDER BY c.id", value
            )
            return [queue_item(row, db.dialect.when) for row in rows]

    async def purge_spam(self, site_ids: Sequence[str]) -> int:
        """Delete for good the spam of these sites, and its likes, but for spam that a kept
        comment answers (a reply's parent stays, still spam, unseen). Returns how many went.
        Spam counts nowhere (not in counts, not on pages): no thread changes for readers."""

        async def op(db: Db) -> int:
            sites, params = db.dialect.one_of("t.site_id", site_ids)
            purged = 0
            while True:  # a chain of spam replying to spam goes leaf by leaf
                rows = await db.fetch_all(
                    f"SELECT c.id, c.thread_id FROM comments c JOIN threads t"
                    f" ON t.id = c.thread_id WHERE {sites} AND c.status = 'spam' AND NOT"
                    " EXISTS (SELECT 1 FROM comments r WHERE r.parent_id = c.id)",
                    *params,
                )  # fmt: skip
                if not rows:
                    return purged
                ids = [row["id"] for row in rows]
                for start in range(0, len(ids), ERASE_CHUNK):
                    chosen, chunk = db.dialect.one_of(
                        "comment_id", ids[start : start + ERASE_CHUNK]
                    )
                    await db.execute(f"DELETE FROM likes WHERE {chosen}", *chunk)
                    chosen, chunk = db.dialect.one_of("id", ids[start : start + ERASE_CHUNK])
                    await db.execute(f"DELETE FROM comments WHERE {chosen}", *chunk)
                purged += len(ids)

        if not site_ids:
            return 0
        return await self._run(op)

    async def erase_author(self, email: str | None, user_id: int | None) -> int:
        """Erase what a person (a user, or else an address) wrote: each comment keeps only its
        place in its thread (a removed placeholder); a user's account is deleted, an address's
        subscriptions (to follow-ups and to new posts) end. Returns how many comments went."""
        who, value = _author_match(email, user_id)

        async def op(db: Db) -> int:
            rows = await db.fetch_all(
                f"SELECT c.id, c.thread_id, c.status, coalesce(c.root_id, c.id) AS root"
                f" FROM comments c WHERE {who} AND {NOT_ERASED}{db.dialect.lock_rows}",
                value,
            )
            ids = [row["id"] for row in rows]
            for start in range(0, len(ids), ERASE_CHUNK):
                chosen, params = db.dialect.one_of("id", ids[start : start + ERASE_CHUNK])
                await db.execute(f"UPDATE comments SET {ERASED} WHERE {chosen}", *params)
            # Roots under an approved comment of theirs were shown; each may not be now.
            hidden = {
                root: not await root_shown(db, root)
                for root in {row["root"] for row in rows if row["status"] == "approved"}
            }
            for row in rows:
                if row["status"] == "approved":
                    await self._thread_changed(
                        db, row["thread_id"], "delete", row["id"],
                        "comment_count = comment_count - 1, root_count = root_count - ?",
                        int(hidden.pop(row["root"], False)),
                    )  # fmt: skip
            if user_id is not None:
                await db.execute("DELETE FROM users WHERE id = ?", user_id)
            else:  # an address: its subscriptions end
                for table, _, _ in SUBSCRIPTIONS.values():
                    await db.execute(f"DELETE FROM {table} WHERE email = ?", value)
            return len(ids)

        return await self._run(op)
