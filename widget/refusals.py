"""What people are told when storage refuses: the rules' wording, kept out of storage (what
readers may see is Said, in widget/messages.py, so views can say it in their language).

Storage reports why it did not do something (`Outcome`); this turns that into the error a
person reads, with its HTTP status. Domain functions wrap their storage calls in `worded()`;
the app and the command line word whatever reaches them unworded the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from widget.errors import ClientError, Conflict, Forbidden, Invalid, NotFound
from widget.messages import said
from widget.storage import Outcome, Refused

__all__ = ["explain", "worded"]

_WORDING: dict[Outcome, Callable[[Refused], ClientError]] = {
    Outcome.SITE_EXISTS: lambda r: Conflict(f"A site called {r.subject!r} already exists."),
    Outcome.NO_SITE: lambda r: NotFound(f"There is no site called {r.subject!r}."),
    Outcome.NO_THREAD: lambda r: NotFound(said("error_no_thread")),
    Outcome.THREAD_CLOSED: lambda r: Forbidden(said("error_thread_closed")),
    Outcome.PARENT_ELSEWHERE: lambda r: Invalid(
        said("error_parent_elsewhere"), {"parent": said("error_parent_elsewhere_field")}
    ),
    Outcome.PARENT_REMOVED: lambda r: Invalid(
        said("error_parent_removed"), {"parent": said("error_parent_removed_field")}
    ),
    Outcome.NO_COMMENT: lambda r: NotFound(said("error_no_comment")),
    Outcome.COMMENT_GONE: lambda r: NotFound(
        said("error_comment_gone_again" if r.again else "error_comment_gone")
    ),
    Outcome.NOT_LIKEABLE: lambda r: NotFound(said("error_not_likeable")),
    Outcome.NOT_TOP_LEVEL: lambda r: Invalid("Only a top-level comment can be pinned."),
    Outcome.ADMIN_EXISTS: lambda r: Conflict(f"There is already an admin {r.subject}."),
    Outcome.NOT_EMPTY: lambda r: Conflict(
        "This database already holds sites; copy into an empty one."
    ),
    Outcome.NO_PASSKEY: lambda r: NotFound(said("error_passkey_gone")),
    Outcome.PASSKEY_EXISTS: lambda r: Conflict(said("error_passkey_exists")),
    Outcome.PASSKEY_COUNTER_BEHIND: lambda r: Forbidden(said("error_passkey_counter_behind")),
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
