"""What people are told when storage refuses: the rules' wording, kept out of storage.

Storage reports why it did not do something (`Outcome`); this turns that into the error a
person reads, with its HTTP status. Domain functions wrap their storage calls in `worded()`;
the app and the command line word whatever reaches them unworded the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from widget.errors import ClientError, Conflict, Forbidden, Invalid, NotFound
from widget.storage import Outcome, Refused

__all__ = ["explain", "worded"]

_WORDING: dict[Outcome, Callable[[Refused], ClientError]] = {
    Outcome.SITE_EXISTS: lambda r: Conflict(f"A site called {r.subject!r} already exists."),
    Outcome.NO_SITE: lambda r: NotFound(f"There is no site called {r.subject!r}."),
    Outcome.NO_THREAD: lambda r: NotFound("This thread does not exist."),
    Outcome.THREAD_CLOSED: lambda r: Forbidden("Comments are closed on this page."),
    Outcome.PARENT_ELSEWHERE: lambda r: Invalid(
        "The comment you are replying to is not on this page.",
        {"parent": "That comment is not on this page."},
    ),
    Outcome.PARENT_REMOVED: lambda r: Invalid(
        "The comment you are replying to has been removed.",
        {"parent": "That comment has been removed."},
    ),
    Outcome.NO_COMMENT: lambda r: NotFound("This comment does not exist."),
    Outcome.COMMENT_GONE: lambda r: NotFound(
        "This comment does not exist or has already been removed."
        if r.again
        else "This comment does not exist or has been removed."
    ),
    Outcome.NOT_LIKEABLE: lambda r: NotFound(
        "This comment is not on this page, or has been removed."
    ),
    Outcome.NOT_TOP_LEVEL: lambda r: Invalid("Only a top-level comment can be pinned."),
    Outcome.ADMIN_EXISTS: lambda r: Conflict(f"There is already an admin {r.subject}."),
    Outcome.NOT_EMPTY: lambda r: Conflict(
        "This database already holds sites; copy into an empty one."
    ),
    Outcome.NO_PASSKEY: lambda r: NotFound(
        "This passkey is not known here (it may have been removed); sign in another way."
    ),
    Outcome.PASSKEY_EXISTS: lambda r: Conflict("This passkey has been added already."),
    Outcome.PASSKEY_COUNTER_BEHIND: lambda r: Forbidden(
        "This passkey was refused: its use counter went backwards, which happens when a copy"
        " of it is used. Sign in another way, and remove the passkey if you did not copy it."
    ),
}


def explain(refused: Refused) -> ClientError:
    """The error a person reads for what storage refused."""
    return _WORDING[refused.outcome](refused)


@contextmanager
def worded() -> Iterator[None]:
    """Storage's refusals inside, as the errors people read."""
    try:
        yield
    except Refused as refused:
        raise explain(refused) from refused
