"""The outbox (work to do after a commit) and follow-up subscriptions, written once.

A new comment (unless spam) and a comment approved for the first time each add a "comment"
job in the same transaction, so nobody is told of what was not stored, and nothing stored
goes untold.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from widget.records import NewJob, OutboxJob, Subscription

from .base import columns
from .sql import Db, SQLBackend

__all__ = ["OutboxQueries", "queue_jobs"]


async def queue_jobs(db: Db, jobs: Sequence[NewJob], now: datetime) -> None:
    if jobs:
        await db.execute_many(
            "INSERT INTO outbox (kind, payload, due_at, created_at) VALUES (?, ?, ?, ?)",
            [(kind, json.dumps(dict(payload)), now, now) for kind, payload in jobs],
        )


_SUBSCRIPTION = columns(Subscription)


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

    async def finish_job(self, job_id: int, follow_ups: Sequence[NewJob], at: datetime) -> None:
        """Drop a done job and queue what it led to, in one transaction."""

        async def op(db: Db) -> None:
            await db.execute("DELETE FROM outbox WHERE id = ?", job_id)
            await queue_jobs(db, follow_ups, at)

        await self._run(op)

    async def retry_job(self, job_id: int, due_at: datetime | None, error: str) -> None:
        """Try again at `due_at`; None gives up (the job is kept, marked failed)."""

        failed_at = None if due_at is not None else datetime.now(UTC)
        await self._run(lambda db: db.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, locked_until = NULL,"
            " due_at = coalesce(?, due_at), failed_at = ? WHERE id = ?",
            error[:1000], due_at, failed_at, job_id,
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

    async def subscribe(
        self, thread_id: int, email: str, at: datetime, lang: str = ""
    ) -> Subscription:
        """The address's subscription to the thread, created unconfirmed if it has none; its
        emails in `lang` (the language it was last asked for in, when one is given)."""

        subscription = await self._run(lambda db: db.fetch_record(
            Subscription, "INSERT INTO subscriptions (thread_id, email, created_at, lang)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (thread_id, email) DO UPDATE SET"
            " lang = CASE WHEN excluded.lang <> '' THEN excluded.lang"
            f" ELSE subscriptions.lang END RETURNING {_SUBSCRIPTION}",
            thread_id, email.lower(), at, lang,
        ))  # fmt: skip
        assert subscription is not None
        return subscription

    async def get_subscription(self, subscription_id: int) -> Subscription | None:
        return await self._read_record(
            Subscription, f"SELECT {_SUBSCRIPTION} FROM subscriptions WHERE id = ?",
            subscription_id,
        )  # fmt: skip

    async def confirm_subscription(
        self, subscription_id: int, scope: Literal["thread", "replies"], at: datetime
    ) -> Subscription | None:
        return await self._run(lambda db: db.fetch_record(
            Subscription, "UPDATE subscriptions SET scope = ?,"
            f" confirmed_at = coalesce(confirmed_at, ?) WHERE id = ? RETURNING {_SUBSCRIPTION}",
            scope, at, subscription_id,
        ))  # fmt: skip

    async def unsubscribe(self, subscription_id: int) -> bool:
        delete = "DELETE FROM subscriptions WHERE id = ?"
        return await self._run(lambda db: db.execute(delete, subscription_id)) > 0

    async def thread_subscriptions(self, thread_id: int) -> list[Subscription]:
        """The confirmed subscriptions of a thread."""
        return await self._read_records(
            Subscription, f"SELECT {_SUBSCRIPTION} FROM subscriptions"
            " WHERE thread_id = ? AND confirmed_at IS NOT NULL ORDER BY id",
            thread_id,
        )  # fmt: skip
