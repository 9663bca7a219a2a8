"""Errors a client can act on. Each carries the HTTP status and a message meant for a person.

The domain and the storage raise these; the views turn them into an HTML page or a JSON body.
Anything else that escapes is a bug and becomes a 500.
"""

from __future__ import annotations

from collections.abc import Mapping

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
    """The database could not take the write; nothing was saved, so the client may retry."""

    status = 503


class ServiceUnavailable(ClientError):
    """This server is not set up for what was asked (sending email, say)."""

    status = 503
