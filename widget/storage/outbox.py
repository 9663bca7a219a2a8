"""The outbox (work to do after a commit) and email subscriptions (to a thread's follow-ups,
to a site's new posts), written once.

A new comment (unless spam) and a comment approved for the first time each add a "comment"
job in the same transaction, so nobody is told of what was not stored, and nothing stored
goes untold.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal, TypeVar

from widget.records import NewJob, OutboxJob, PostSubscription, Subscription

from .base import columns
from .sql import Db, SQLBackend, marks

__all__ = ["SUBSCRIPTIONS", "OutboxQueries", "queue_jobs"]


async def queue_jobs(db: Db, jobs: Sequence[NewJob], now: datetime) -> None:
    if jobs:
        await db.execute_many(
            "INSERT INTO outbox (kind, payload, due_at, created_at) VALUES (?, ?, ?, ?)",
            [(kind, json.dumps(dict(payload)), now, now) for kind, payload in jobs],
        )


_SUBSCRIPTION, _POST_SUBSCRIPTION = columns(Subscription), columns(PostSubscription)
Sub = TypeVar("Sub", Subscription, PostSubscription)
# The two kinds of email subscription: each one's table, what it follows (a column of that
# table), and the SELECT list that reads one. Addresses are kept in lower case.
SUBSCRIPTIONS = {
    Subscription: ("subscriptions", "thread_id", _SUBSCRIPTION),
    PostSubscription: ("post_subscriptions", "site_id", _POST_SUBSCRIPTION),
}


class OutboxQueries(SQLBackend):
    async def add_jobs(self, jobs: Sequence[NewJob], at: datetime) -> None:
        await self._run(lambda db: queue_jobs(db, jobs, at))

    async def claim_jobs(self, now: datetime, lease_s: float, limit: int) -> list[OutboxJob]:
        """Due jobs, each taken for `lease_s` seconds (a worker that dies lets them go)."""

        # SKIP LOCKED (PostgreSQL): instances claiming at once each get other jobs.
        jobs = await self._run(lambda db: db.fetch_records(
            OutboxJob, "UPDATE outbox SET locked_until = ? WHERE id IN (SELECT id FROM outbox WHERE"
            " failed_at IS NULL AND due_at <= ? AND (locked_until IS NULL OR locked_until < ?)"
            f" ORDER BY id LIMIT ?{db.dialect.skip_locked}) RETURNING {columns(OutboxJob)}",
            now + timedelta(seconds=lease_s), now, now, limit,
        ))  # fmt: skip
        return sorted(jobs, key=lambda job: job.id)

    async def renew_job(self, job_id: int, held_until: datetime, until: datetime | None) -> bool:
        """Hold a claimed job until `until` (None: let it go, for any worker to claim now),
        if it is still held as claimed (until `held_until`): False when its lease ran out and
        another worker claimed it since, or it is gone; that worker does it, not this one."""
        renewed = await self._run(lambda db: db.execute(
            "UPDATE outbox SET locked_until = ? WHERE id = ? AND locked_until = ?",
            until, job_id, held_until,
        ))  # fmt: skip
        return renewed == 1

    async def finish_job(self, job_id: int, follow_ups: Sequence[NewJob], at: datetime) -> None:
        """Drop a done job and queue what it led to, in one transaction."""

        async def op(db: Db) -> None:
            await db.execute("DELETE FROM outbox WHERE id = ?", job_id)
            await queue_jobs(db, follow_ups, at)

        await self._run(op)

    async def retry_job(self, job_id: int, due_at: datetime | None, error: str) -> None:
        """Try again at `due_at`; None gives up (the job is kept, marked failed)."""

        await self._run(lambda db: db.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, locked_until = NULL,"
            " due_at = coalesce(?, due_at), failed_at = ? WHERE id = ?",
            error[:1000], due_at, None if due_at is not None else db.now, job_id,
        ))  # fmt: skip

    async def outbox_counts(self) -> dict[str, int]:
        """Jobs waiting ("queued") and given up ("failed")."""
        async with self._read() as db:
            row = await db.fetch_one(
                "SELECT count(*) FILTER (WHERE failed_at IS NULL) AS queued,"
                " count(*) FILTER (WHERE failed_at IS NOT NULL) AS failed FROM outbox"
            )
        assert row is not None
        return {"queued": row["queued"], "failed": row["failed"]}

    # -- email subscriptions: to a thread's follow-ups, to a site's new posts -------------------

    async def subscribe(
        self, thread_id: int, email: str, at: datetime, lang: str = ""
    ) -> Subscription:
        """The address's subscription to the thread, created unconfirmed if it has none; its
        emails in `lang` (the language it was last asked for in, when one is given)."""
        keep = "lang = CASE WHEN excluded.lang <> '' THEN excluded.lang ELSE subscriptions.lang END"
        return await self._subscribe(Subscription, thread_id, email, at, keep, lang=lang)

    async def subscribe_to_posts(self, site_id: str, email: str, at: datetime) -> PostSubscription:
        """The address's subscription to the site's new posts, created unconfirmed if it has
        none."""
        return await self._subscribe(PostSubscription, site_id, email, at, "email = excluded.email")

    async def _subscribe(
        self, kind: type[Sub], to: int | str, email: str, at: datetime, update: str, **more: str
    ) -> Sub:
        table, follows, read = SUBSCRIPTIONS[kind]
        row = {follows: to, "email": email.lower(), "created_at": at, **more}
        subscription = await self._run(lambda db: db.fetch_record(
            kind, f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks(list(row))})"
            f" ON CONFLICT ({follows}, email) DO UPDATE SET {update} RETURNING {read}",
            *row.values(),
        ))  # fmt: skip
        assert subscription is not None
        return subscription

    async def get_subscription(self, kind: type[Sub], subscription_id: int) -> Sub | None:
        table, _, read = SUBSCRIPTIONS[kind]
        return await self._read_record(
            kind, f"SELECT {read} FROM {table} WHERE id = ?", subscription_id
        )

    async def confirm_subscription(
        self, subscription_id: int, scope: Literal["thread", "replies"], at: datetime
    ) -> Subscription | None:
        return await self._run(lambda db: db.fetch_record(
            Subscription, "UPDATE subscriptions SET scope = ?,"
            f" confirmed_at = coalesce(confirmed_at, ?) WHERE id = ? RETURNING {_SUBSCRIPTION}",
            scope, at, subscription_id,
        ))  # fmt: skip

    async def confirm_post_subscription(
        self, subscription_id: int, at: datetime
    ) -> PostSubscription | None:
        return await self._run(lambda db: db.fetch_record(
            PostSubscription, "UPDATE post_subscriptions SET confirmed_at ="
            f" coalesce(confirmed_at, ?) WHERE id = ? RETURNING {_POST_SUBSCRIPTION}",
            at, subscription_id,
        ))  # fmt: skip

    async def unsubscribe(self, kind: type[Sub], subscription_id: int) -> bool:
        delete = f"DELETE FROM {SUBSCRIPTIONS[kind][0]} WHERE id = ?"
        return await self._run(lambda db: db.execute(delete, subscription_id)) > 0

    async def subscribers(self, kind: type[Sub], to: int | str) -> list[Sub]:
        """The confirmed subscriptions to a thread (Subscription) or a site (PostSubscription)."""
        table, follows, read = SUBSCRIPTIONS[kind]
        return await self._read_records(
            kind, f"SELECT {read} FROM {table} WHERE {follows} = ? AND confirmed_at IS NOT NULL"
            " ORDER BY id", to,
        )  # fmt: skip
