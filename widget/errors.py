"""Errors a client can act on. Each carries the HTTP status and a message meant for a person.

The domain and the storage raise these; the views turn them into an HTML page or a JSON body.
Anything else that escapes is a bug and becomes a 500. `SetupError` is the one for the
operator: what must be fixed on the machine before widget can run.
"""

from __future__ import annotations

from collections.abc import Mapping

from widget.messages import said

__all__ = [
    "BadRequest",
    "ClientError",
    "Conflict",
    "Forbidden",
    "Invalid",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServiceUnavailable",
    "SetupError",
    "StorageUnavailable",
    "UnsupportedMediaType",
]


class ClientError(Exception):
    status = 400

    def __init__(
        self,
        message: str,
        fields: Mapping[str, str] | None = None,
        *,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        # Field name -> what is wrong with it, for forms that show errors beside each field.
        self.fields: dict[str, str] = dict(fields or {})
        # When asking again makes sense (429, 503): sent as Retry-After.
        self.retry_after_s = retry_after_s


class BadRequest(ClientError):
    status = 400


class Forbidden(ClientError):
    status = 403


class NotFound(ClientError):
    status = 404


class Conflict(ClientError):
    status = 409


class PayloadTooLarge(ClientError):
    status = 413


class UnsupportedMediaType(ClientError):
    status = 415


class Invalid(ClientError):
    """The request was understood but a field is wrong; `fields` says which."""

    status = 422


class RateLimited(ClientError):
    status = 429
    retry_after_s: float

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message, retry_after_s=retry_after_s)


class StorageUnavailable(ClientError):
    """The database cannot serve this right now (locked, full, unreachable, restarting, gone);
    nothing was saved, so the client may try again later."""

    status = 503
    # What the operator can do about it, naming the file (a full disk, say): for the command
    # line and the log, never for readers. Empty when there is nothing more to say.
    operator_hint = ""

    def __init__(self, message: str = said("error_storage_unavailable")) -> None:
        super().__init__(message)

    @classmethod
    def unsaved(cls) -> StorageUnavailable:
        """For a write: says that none of it was kept."""
        return cls(said("error_storage_unsaved"))


class ServiceUnavailable(ClientError):
    """This server is not set up for what was asked (sending email, say)."""

    status = 503


class SetupError(Exception):
    """The database cannot be used, or the port is taken: widget cannot run until the operator
    fixes it. The message names the file, database or port and says what to do; the command
    line prints it and exits non-zero, so that a supervisor notices."""
