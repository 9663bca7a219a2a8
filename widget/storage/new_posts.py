"""New posts, written once: each site's feed as the poller knows it (a lease, the validators of
the last answer, the entries seen). Who is told of them: outbox.py's subscriptions.

A poll's result is recorded in one transaction: the entries it saw and the emails about the
ones that are new. An entry already recorded (by another instance, or by a poll whose lease
ran out) queues nothing, so a post is mailed at most once whatever overlaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from widget.records import FeedPoll, NewJob

from .base import columns
from .outbox import queue_jobs
from .sql import Db, SQLBackend

__all__ = ["NewPostQueries"]


class NewPostQueries(SQLBackend):
    async def claim_feed_poll(self, site_id: str, now: datetime, lease_s: float) -> FeedPoll | None:
        """The site's feed, taken for `lease_s` seconds when it is due and nobody holds it;
        None otherwise. A site polled for the first time is due at once."""

        return await self._run(lambda db: db.fetch_record(
            FeedPoll, "INSERT INTO feed_polls (site_id, due_at, locked_until) VALUES (?, ?, ?)"
            " ON CONFLICT (site_id) DO UPDATE SET locked_until = excluded.locked_until"
            " WHERE feed_polls.due_at <= ? AND (feed_polls.locked_until IS NULL"
            f" OR feed_polls.locked_until < ?) RETURNING {columns(FeedPoll)}",
            site_id, now, now + timedelta(seconds=lease_s), now, now,
        ))  # fmt: skip

    async def seen_feed_entries(self, site_id: str, keys: Sequence[str]) -> set[str]:
        """Those of `keys` recorded for the site already."""
        if not keys:
            return set()
        async with self._read() as db:
            where, params = db.dialect.one_of("entry_key", keys)
            rows = await db.fetch_all(
                f"SELECT entry_key FROM feed_entries WHERE site_id = ? AND {where}",
                site_id, *params,
            )  # fmt: skip
        return {row["entry_key"] for row in rows}

    async def record_feed_poll(
        self,
        site_id: str,
        feed_url: str,
        validators: tuple[str, str],
        entries: Sequence[tuple[str, Sequence[NewJob]]],
        now: datetime,
        due_at: datetime,
    ) -> int:
        """A poll that read the feed (or heard it had not changed): each entry's key recorded
        and, for an entry not recorded before, its jobs queued; the lease let go, the next
        poll due at `due_at`. `validators` are the answer's (ETag, Last-Modified). How many
        entries were new."""

        async def op(db: Db) -> int:
            new = 0
            for key, jobs in entries:
                if await db.execute(
                    "INSERT INTO feed_entries (site_id, entry_key, seen_at) VALUES (?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    site_id, key, now,
                ):  # fmt: skip
                    new += 1
                    await queue_jobs(db, jobs, now)
            await db.execute(
                "UPDATE feed_polls SET feed_url = ?, etag = ?, last_modified = ?, polled_at = ?,"
                " due_at = ?, locked_until = NULL, last_error = '' WHERE site_id = ?",
                feed_url, validators[0], validators[1], now, due_at, site_id,
            )  # fmt: skip
            return new

        return await self._run(op)

    async def feed_poll_failed(self, site_id: str, error: str, due_at: datetime) -> None:
        """A poll that could not read the feed: kept as it was, tried again at `due_at`."""
        await self._run(lambda db: db.execute(
            "UPDATE feed_polls SET last_error = ?, due_at = ?, locked_until = NULL"
            " WHERE site_id = ?",
            error[:1000], due_at, site_id,
        ))  # fmt: skip

    async def get_feed_poll_error(self, site_id: str) -> str:
        """Why the site's last poll failed ('' when it did not)."""
        async with self._read() as db:
            error = await db.fetch_value(
                "SELECT last_error FROM feed_polls WHERE site_id = ?", site_id
            )
        return str(error or "")
