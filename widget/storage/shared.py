"""`Storage`, what the domain needs from a database: every aggregate's queries in one class,
which each backend completes with its own connection machinery (SQLBackend's abstract
methods)."""

from __future__ import annotations

from widget.records import DatabaseGauges

from .accounts import AccountQueries, mark_ready
from .comments import CommentQueries
from .moderation import ModerationQueries
from .new_posts import NewPostQueries
from .outbox import OutboxQueries
from .passkeys import PasskeyQueries
from .porting import PortingQueries
from .sites import SiteQueries
from .threads import ThreadQueries

__all__ = ["Storage"]


class Storage(
    CommentQueries,
    ModerationQueries,
    ThreadQueries,
    SiteQueries,
    AccountQueries,
    PasskeyQueries,
    OutboxQueries,
    NewPostQueries,
    PortingQueries,
):
    """What the domain needs from a database. Writes are durable when the call returns.

    Every committed change to a thread is also handed, once committed, to the event sink set
    with `on_event`; with a database shared by several instances, every instance's sink hears
    every instance's changes, and `missed` is called whenever some may have gone unheard.

    A database that cannot be reached, is locked, full, read-only or gone raises
    StorageUnavailable from any method (never acknowledging a write it could not keep);
    `open` raises SetupError, naming the database and what to do, when it cannot be used.
    """

    async def check_ready(self) -> None:
        """Read, and write one row (READINESS_KEY in rate_limits): raises StorageUnavailable
        unless both work right now."""
        async with self._read() as db:
            await db.fetch_value("SELECT max(number) FROM schema_migrations")
        await self._run(mark_ready)

    def cache_stamp(self) -> tuple[int, int] | None:
        """A value that changes whenever anything this process keeps of thread heads or sites
        changes (its own commits, news of others', a cache cleared), so that an answer built
        from them may be kept until it does; None while the caches cannot be trusted."""
        return (self._heads.changes, self._sites.generation) if self._caching else None

    def gauges(self) -> DatabaseGauges:
        """How busy the database connections are, now (for /metrics)."""
        raise NotImplementedError
