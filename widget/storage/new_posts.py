"""New posts, written once: each site's feed as the poller knows it (a lease, the validators of
the last answer, the entries seen), and the addresses told of new posts.

A poll's result is recorded in one transaction: the entries it saw and the emails about the
ones that are new. An entry already recorded (by another instance, or by a poll whose lease
ran out) queues nothing, so a post is mailed at most once whatever overlaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from widget.records import FeedPoll, NewJob, PostSubscription

from .base import columns
from .outbox import queue_jobs
from .sql import Db, SQLBackend

__all__ = ["NewPostQueries"]

_SUBSCRIPTION = columns(PostSubscription)


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

    async def subscribe_to_posts(self, site_id: str, email: str, at: datetime) -> PostSubscription:
        """The address's subscription to the site's new posts, created unconfirmed if it has
        none."""

        subscription = await self._run(lambda db: db.fetch_record(
            PostSubscription, "INSERT INTO post_subscriptions (site_id, email, created_at)"
            " VALUES (?, ?, ?) ON CONFLICT (site_id, email) DO UPDATE SET"
            f" email = excluded.email RETURNING {_SUBSCRIPTION}",
            site_id, email.lower(), at,
        ))  # fmt: skip
        assert subscription is not None
        return subscription

    async def get_post_subscription(self, subscription_id: int) -> PostSubscription | None:
        return await self._read_record(
            PostSubscription, f"SELECT {_SUBSCRIPTION} FROM post_subscriptions WHERE id = ?",
            subscription_id,
        )  # fmt: skip

    async def confirm_post_subscription(
        self, subscription_id: int, at: datetime
    ) -> PostSubscription | None:
        return await self._run(lambda db: db.fetch_record(
            PostSubscription, "UPDATE post_subscriptions SET"
            f" confirmed_at = coalesce(confirmed_at, ?) WHERE id = ? RETURNING {_SUBSCRIPTION}",
            at, subscription_id,
        ))  # fmt: skip

    async def unsubscribe_from_posts(self, subscription_id: int) -> bool:
        delete = "DELETE FROM post_subscriptions WHERE id = ?"
        return await self._run(lambda db: db.execute(delete, subscription_id)) > 0

    async def post_subscribers(self, site_id: str) -> list[PostSubscription]:
        """The site's confirmed subscriptions to new posts."""
        return await self._read_records(
            PostSubscription, f"SELECT {_SUBSCRIPTION} FROM post_subscriptions"
            " WHERE site_id = ? AND confirmed_at IS NOT NULL ORDER BY id",
            site_id,
        )  # fmt: skip
