"""Comments and likes, written once: posting, editing, removing, liking."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from widget.errors import Conflict
from widget.records import (
    POST_LIKE,
    AuthorHistory,
    Comment,
    GuestLikeLimit,
    NewComment,
    PageRef,
    RateLimit,
    SingleUse,
    ThreadHead,
)

from .accounts import take_rate_tokens
from .base import Outcome, Refused, columns
from .outbox import queue_jobs
from .sql import Db
from .threads import ThreadQueries, bump_thread, open_thread, root_shown, title_due

__all__ = ["CommentQueries"]

_COMMENT = columns(Comment)


async def _spend(db: Db, token: SingleUse) -> None:
    """Record a single-use token's use, or raise Conflict when it was used before (on
    PostgreSQL a second use at the same moment waits for the first to commit, then finds it).
    Tokens past their expiry are refused before they get here, so their records go (with
    housekeeping: `prune_expired`)."""
    recorded = await db.execute(
        "INSERT INTO spent_form_tokens (token_id, expires_at) VALUES (?, ?)"
        " ON CONFLICT DO NOTHING",
        token.token_id, token.expires_at,
    )  # fmt: skip
    if not recorded:
        raise Conflict(token.used)


async def _check_guest_limit(
    db: Db, thread_id: int, comment_id: int, voter: str, limit: GuestLikeLimit
) -> None:
    """A new guest like must find room among its network's likes of the comment. Likes from
    one network of one comment take turns (the one SQLite writer; a lock until commit on
    PostgreSQL), so that two at once cannot both see the last place free."""
    if db.dialect.lock_key is not None:
        await db.execute(
            db.dialect.lock_key, f"guest-like:{thread_id}:{comment_id}:{limit.network}"
        )
    row = await db.fetch_one(
        "SELECT EXISTS (SELECT 1 FROM likes WHERE thread_id = ? AND voter = ?"
        " AND comment_id = ?) AS again, (SELECT count(*) FROM likes"
        " WHERE thread_id = ? AND comment_id = ? AND network = ?) AS taken",
        thread_id, voter, comment_id, thread_id, comment_id, limit.network,
    )  # fmt: skip
    assert row is not None
    if not row["again"]:
        limit.check(row["taken"])


async def rewrite(
    db: Db,
    comment_id: int,
    body_source: str,
    body_html: str,
    author_name: str,
    author_url: str,
    at: datetime,
    *,
    approved_only: bool,
) -> Comment | None:
    """A comment with a new body and author, edited at `at`; None when there is none (or,
    with `approved_only`, none that is shown)."""
    shown = " AND status = 'approved'" if approved_only else ""
    return await db.fetch_record(
        Comment, "UPDATE comments SET body_source = ?, body_html = ?, author_name = ?,"
        f" author_url = ?, edited_at = ? WHERE id = ?{shown} RETURNING {_COMMENT}",
        body_source, body_html, author_name, author_url, at, comment_id,
    )  # fmt: skip


def _limits(rate_limit: RateLimit | Sequence[RateLimit] | None) -> Sequence[RateLimit]:
    if rate_limit is None:
        return ()
    return (rate_limit,) if isinstance(rate_limit, RateLimit) else rate_limit


class CommentQueries(ThreadQueries):
    async def get_comment(self, comment_id: int) -> Comment | None:
        return await self._read_record(
            Comment, f"SELECT {_COMMENT} FROM comments WHERE id = ?", comment_id
        )

    async def get_user_comments(self, thread_id: int, user_id: int) -> list[Comment]:
        """A signed-in user's comments in one thread: published or held, not deleted."""
        return await self._read_records(
            Comment, f"SELECT {_COMMENT} FROM comments WHERE user_id = ? AND thread_id = ?"
            " AND status <> 'deleted' ORDER BY id",
            user_id, thread_id,
        )  # fmt: skip

    async def add_comment(
        self, new: NewComment, rate_limit: RateLimit | Sequence[RateLimit] | None
    ) -> tuple[Comment, ThreadHead]:
        """Store a comment with the status moderation gave it. Only an approved one changes the
        thread (its count, version and title) and is told to readers. Raises Forbidden when
        the thread is closed, RateLimited when any of the limits has no room, Conflict when
        its `form_token` has posted a comment before (and records it when not)."""

        async def op(db: Db) -> tuple[Comment, ThreadHead]:
            await take_rate_tokens(db, _limits(rate_limit), new.created_at, self._due_times)
            if new.form_token is not None:
                await _spend(db, new.form_token)
            thread = await open_thread(db, new.page, new.created_at, refuse_closed=True)
            thread_id = thread.id
            root_id, depth = None, 1
            if new.parent_id is not None:
                parent = await db.fetch_one(
                    "SELECT thread_id, root_id, depth, status FROM comments WHERE id = ?",
                    new.parent_id,
                )
                if parent is None or parent["thread_id"] != thread_id:
                    raise Refused(Outcome.PARENT_ELSEWHERE)
                if parent["status"] != "approved":
                    raise Refused(Outcome.PARENT_REMOVED)
                root_id = parent["root_id"] or new.parent_id
                depth = parent["depth"] + 1
            row = await db.fetch_one(
                "INSERT INTO comments (thread_id, parent_id, root_id, depth, status, author_name,"
                " author_email, author_url, body_source, body_html, notify, remote_ip,"
                " created_at, user_id, author_avatar, author_provider, held_because, fingerprint,"
                " notify_posts, lang)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                f" RETURNING {_COMMENT}",
                thread_id, new.parent_id, root_id, depth, new.status, new.author_name,
                new.author_email, new.author_url, new.body_source, new.body_html, new.notify,
                new.remote_ip, new.created_at, new.user_id, new.author_avatar,
                new.author_provider, new.held_because, new.fingerprint, new.notify_posts, new.lang,
            )  # fmt: skip
            assert row is not None
            comment = db.record(Comment, row)
            job: dict[str, object] = {}
            if comment.status != "spam" and new.tell:  # subscribers, moderators, webhooks
                job = {"comment": comment.id, "event": "created"}
            if title_due(thread, new.page):  # read first, so that the emails carry it
                job["title"] = thread_id
            if job:
                await queue_jobs(db, [("comment", job)], new.created_at)
            if comment.status != "approved":  # held: the thread's readers see no change
                return comment, await bump_thread(db, thread_id, bump=False)
            # The newest comment's page title and URL win: pages get renamed. Not its title
            # where the server reads titles from pages: anyone may send any (title_due).
            # A reply's parent is approved, so its root is shown already: only a new
            # top-level comment adds a page's worth of roots.
            head = await self._thread_changed(
                db, thread_id, "comment", comment.id,
                "comment_count = comment_count + 1, root_count = root_count + ?,"
                " title = coalesce(nullif(?, ''), title), url = coalesce(nullif(?, ''), url)",
                int(root_id is None), "" if new.page.fetch_title else new.page.title,
                new.page.url,
            )  # fmt: skip
            return comment, head

        return await self._run(op)

    async def author_history(
        self, site_id: str, email: str, user_id: int | None, fingerprint: str, since: datetime
    ) -> AuthorHistory:
        async with self._read() as db:
            # Each EXISTS is written so that it can search its own index (comments_by_user,
            # comments_by_email, the partial comments_by_fingerprint): as one OR, and without
            # `fingerprint <> ''`, SQLite scanned every approved comment, then every comment,
            # on each post (7 ms at 11,500 comments, growing with the table; now ~10 µs).
            row = await db.fetch_one(
                "SELECT EXISTS (SELECT 1 FROM comments c JOIN threads t ON t.id = c.thread_id"
                " WHERE c.user_id = ? AND c.status = 'approved' AND t.site_id = ?)"
                " OR (? <> '' AND EXISTS (SELECT 1 FROM comments c JOIN threads t"
                " ON t.id = c.thread_id WHERE lower(c.author_email) = lower(?)"
                " AND c.status = 'approved' AND t.site_id = ?)) AS approved,"
                " EXISTS (SELECT 1 FROM comments c JOIN threads t ON t.id = c.thread_id"
                " WHERE c.fingerprint = ? AND c.fingerprint <> '' AND c.created_at >= ?"
                " AND t.site_id = ? AND c.status <> 'deleted') AS duplicate",
                user_id, site_id, email, email, site_id, fingerprint, since, site_id,
            )  # fmt: skip
        assert row is not None
        return AuthorHistory(bool(row["approved"]), bool(row["duplicate"]) and bool(fingerprint))

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
        async def op(db: Db) -> tuple[Comment, ThreadHead]:
            comment = await rewrite(db, comment_id, body_source, body_html, author_name,
                                    author_url, edited_at, approved_only=True)  # fmt: skip
            if comment is None:
                raise Refused(Outcome.COMMENT_GONE)
            return comment, await self._thread_changed(db, comment.thread_id, "edit", comment.id)

        return await self._run(op)

    async def delete_comment(self, comment_id: int) -> ThreadHead:
        async def op(db: Db) -> ThreadHead:
            row = await db.fetch_one(
                "UPDATE comments SET status = 'deleted' WHERE id = ? AND status = 'approved'"
                " RETURNING thread_id, coalesce(root_id, id) AS root",
                comment_id,
            )
            if row is None:
                raise Refused(Outcome.COMMENT_GONE, again=True)
            # It was approved, so its root was shown; it may not be now.
            hidden = not await root_shown(db, row["root"])
            return await self._thread_changed(
                db, row["thread_id"], "delete", comment_id,
                "comment_count = comment_count - 1, root_count = root_count - ?", int(hidden),
            )  # fmt: skip

        return await self._run(op)

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
        """Like (or take back the like of) a comment, or the post when `comment_id` is POST_LIKE.

        Idempotent: liking twice counts once. Liking the post of a page without comments
        creates its thread. Returns the like count and the thread's head. A guest's like
        comes with a `guest_limit`: it is stored with the network, and refused (Forbidden)
        when that network's likes of the comment leave no room.
        """

        async def op(db: Db) -> tuple[int, ThreadHead]:
            await take_rate_tokens(db, _limits(rate_limit), at, self._due_times)
            if comment_id == POST_LIKE:
                thread = await open_thread(db, page, at)
                thread_id = thread.id
                # A like sends no title worth a look unless it made the thread.
                if title_due(thread, page, on_rename=False):
                    await queue_jobs(db, [("comment", {"title": thread_id})], at)
            else:
                thread_id = await db.fetch_value(
                    "SELECT c.thread_id FROM comments c JOIN threads t ON t.id = c.thread_id"
                    " WHERE c.id = ? AND t.site_id = ? AND t.page_id = ?"
                    " AND c.status = 'approved'",
                    comment_id, page.site_id, page.page_id,
                )  # fmt: skip
                if thread_id is None:
                    raise Refused(Outcome.NOT_LIKEABLE)
            if liked:
                if guest_limit is not None:
                    await _check_guest_limit(db, thread_id, comment_id, voter, guest_limit)
                changed = await db.execute(
                    "INSERT INTO likes (thread_id, voter, comment_id, created_at, network)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    thread_id, voter, comment_id, at, guest_limit.network if guest_limit else "",
                )  # fmt: skip
            else:
                changed = await db.execute(
                    "DELETE FROM likes WHERE thread_id = ? AND voter = ? AND comment_id = ?",
                    thread_id, voter, comment_id,
                )  # fmt: skip
            change = (1 if liked else -1) if changed else 0
            if comment_id == POST_LIKE:
                head = await bump_thread(
                    db, thread_id, "like_count = like_count + ?", change, bump=change != 0
                )
                count = head.like_count
            else:
                count = await db.fetch_value(
                    "UPDATE comments SET like_count = like_count + ? WHERE id = ?"
                    " RETURNING like_count",
                    change, comment_id,
                )  # fmt: skip
                head = await bump_thread(db, thread_id, bump=change != 0)
            await self._tell(db, head, "like", comment_id, count)
            return count, head

        return await self._run(op)

    async def get_voter_likes(self, thread_id: int, voter: str) -> set[int]:
        async with self._read() as db:
            rows = await db.fetch_all(
                "SELECT comment_id FROM likes WHERE thread_id = ? AND voter = ?", thread_id, voter
            )
        return {row["comment_id"] for row in rows}
