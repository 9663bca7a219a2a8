"""Reading requests strictly: size limits, UTF-8, content types and origins.

Starlette's own form parser replaces undecodable bytes silently; these helpers refuse them with a
message instead, and refuse bodies over the limit before reading them whole. JSON is held to
what the API needs: a few levels of nesting and numbers no longer than an id, so that no body
reaches Python's recursion or integer-size limits (a RecursionError or ValueError, a 500).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect, Request

from widget.config import Settings
from widget.errors import BadRequest, Forbidden, PayloadTooLarge, UnsupportedMediaType
from widget.messages import said

from .addresses import client_address

__all__ = [
    "parse_query_pairs",
    "parse_query_string",
    "read_form",
    "read_form_pairs",
    "read_json_object",
    "read_query",
    "remote_address",
    "require_own_origin",
]

MAX_JSON_DEPTH = 20  # the API's bodies are two levels deep
MAX_NUMBER_DIGITS = 18  # ids are 64-bit integers: 19 digits at most, 18 for any value


async def _read_body(request: Request, limit: int) -> bytes:
    too_large = PayloadTooLarge(
        f"This request is larger than the {limit:,} bytes this server accepts."
    )
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise BadRequest("The Content-Length header is not a number.")
        if len(declared) > MAX_NUMBER_DIGITS or int(declared) > limit:
            raise too_large
    chunks = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
    except ClientDisconnect:
        # Gone, or cut off by the server for sending too slowly: nobody reads this answer,
        # but it ends the request as a client error rather than a logged exception.
        raise BadRequest("The request ended before its body was complete.") from None
    return b"".join(chunks)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _check_text(value: str, what: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, as JSON's \ud800 escapes can produce
        raise BadRequest(f"The {what} is not valid Unicode text.") from None
    return value


async def read_form(request: Request, limit: int) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body as a dict (the last value of a repeated
    field wins). Refuses other media types, bodies over `limit`, and bytes that are not UTF-8."""
    return dict(await read_form_pairs(request, limit))


async def read_form_pairs(request: Request, limit: int) -> list[tuple[str, str]]:
    """Like `read_form`, keeping every value of a repeated field, in order."""
    if _media_type(request) != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType(said("error_send_form"))
    body = await _read_body(request, limit)
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise BadRequest(
            "The form holds text that is not valid UTF-8; check your browser's encoding."
        ) from None
    return [(key, _check_text(value, f"field {key!r}")) for key, value in pairs]


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    """A JSON object body. Refuses other media types (so that a cross-site form cannot post
    here without a CORS preflight we never grant), oversized bodies, and bad UTF-8."""
    if _media_type(request) != "application/json":
        raise UnsupportedMediaType(said("error_send_json"))
    body = await _read_body(request, limit)
    try:
        value = json.loads(
            body.decode("utf-8"), parse_int=_json_integer, parse_constant=_json_constant
        )
    except UnicodeDecodeError:
        raise BadRequest("The request body is not valid UTF-8.") from None
    except json.JSONDecodeError as exc:
        detail = f"{exc.msg} at {exc.pos}"  # Python's words, in English in every language
        raise BadRequest(said("error_json_invalid", detail=detail)) from None
    except RecursionError:
        raise _too_deep() from None
    if not isinstance(value, dict):
        raise BadRequest(said("error_json_object"))
    _check_json(value)
    return value


def _too_deep() -> BadRequest:
    return BadRequest(
        f"The request body is nested more than {MAX_JSON_DEPTH} levels deep; send the fields"
        " the API names, as plain values."
    )


def _json_integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise BadRequest(
            f"The request body holds a number of {len(text.lstrip('-')):,} digits; numbers"
            f" here (comment ids) have at most {MAX_NUMBER_DIGITS}."
        )
    return int(text)


def _json_constant(text: str) -> float:
    raise BadRequest(said("error_json_invalid", detail=f"{text} is not a JSON number"))


def _check_json(value: Any) -> None:
    """Every string valid Unicode, and nothing nested deeper than MAX_JSON_DEPTH; walked
    without recursion, whatever the depth."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            _check_text(item, "request body")
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise _too_deep()
            if isinstance(item, dict):
                for key in item:
                    _check_text(key, "request body")
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)


def require_own_origin(request: Request, settings: Settings) -> None:
    """Mutations must come from our own pages: browsers send `Origin` with every POST."""
    origin = request.headers.get("origin")
    if origin is None:
        raise Forbidden(said("error_no_origin"))
    if origin.rstrip("/").lower() != settings.public_url:
        raise Forbidden(said("error_origin_refused", origin=origin))


def remote_address(request: Request, settings: Settings) -> str:
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.get("x-forwarded-for"), settings.trusted_proxies)


def parse_query_pairs(raw: bytes, max_chars: int = 2000) -> list[tuple[str, str]]:
    """Query parameters in order, refusing undecodable text and values longer than
    `max_chars`. (Starlette's own parser replaces bad bytes silently.)"""
    try:
        pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest("The address holds text that is not valid UTF-8.") from None
    for name, value in pairs:
        if len(value) > max_chars:
            raise BadRequest(f"The {name!r} parameter is longer than {max_chars:,} characters.")
    return pairs


def parse_query_string(raw: bytes) -> dict[str, str]:
    """Query parameters as a dict; the last of a repeated one wins."""
    return dict(parse_query_pairs(raw))


def read_query(request: Request) -> dict[str, str]:
    return parse_query_string(request.scope.get("query_string", b""))
