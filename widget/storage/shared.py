"""Every aggregate's queries in one class: what a backend inherits and completes with its own
connection machinery (the abstract methods of SQLBackend)."""

from __future__ import annotations

from .accounts import AccountQueries
from .comments import CommentQueries
from .moderation import ModerationQueries
from .outbox import OutboxQueries
from .porting import PortingQueries
from .sites import SiteQueries
from .threads import ThreadQueries

__all__ = ["SQLStorage"]


class SQLStorage(
    CommentQueries,
    ModerationQueries,
    ThreadQueries,
    SiteQueries,
    AccountQueries,
    OutboxQueries,
    PortingQueries,
):
    pass
