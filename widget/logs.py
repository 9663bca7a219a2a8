"""Log lines: plain text or JSON lines, each tagged with the request it belongs to, and none
holding a token or an email address.

The server's own lines are written without them (see widget/views/request_log.py and the
outbox). Every other line passes `redact` on its way out, the last guard for what a library or
an exception message may carry: a link's `token=` value, a signed token, an address.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import dataclasses
import json
import logging
import re
import sys
import time
from collections.abc import Callable
from typing import Any

from widget.config import Settings

__all__ = [
    "REQUEST_ID",
    "REQUEST_LOGGER",
    "RequestLine",
    "configure_logging",
    "log_request",
    "redact",
]

REQUEST_LOGGER = "widget.requests"

# The id of the request being served, for every line logged while it is (set by RequestLog).
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# Every pattern here takes time in proportion to the text, whatever it holds: a log line can
# carry a client's text, and a pattern that backtracks would let a long one stall the server.
# An address: found by its @ (maybe percent-encoded, as in a URL) and the domain after it; the
# local part is then taken back from the @, at most 64 characters.
_AT_AND_DOMAIN = re.compile(r"(?:@|%40)[\w-]{1,63}+(?:\.[\w-]{1,63}+)++", re.IGNORECASE)
_LOCAL_PART = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~.-"
)
# Our signed tokens (itsdangerous: payload.time.signature, the payload maybe compressed: a
# leading dot) and JWTs, each matched from the start of a run of their characters only; then
# any value of a parameter named like a secret.
_SIGNED = re.compile(
    r"(?<![A-Za-z0-9_-])\.?[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]{4,}+\.[A-Za-z0-9_-]{20,}+"
)
_SECRET_PARAMETER = re.compile(
    r"\b(token|code|state|challenge|verifier|password|secret|key|access_token|id_token)"
    r"(=|%3D)[^\s&\"'<>]++",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """`text` without email addresses, signed tokens or the values of secret parameters."""
    text = _SIGNED.sub("[token]", _without_addresses(text))
    return _SECRET_PARAMETER.sub(r"\1\2[redacted]", text)


def _without_addresses(text: str) -> str:
    kept: list[str] = []
    done = 0  # text[:done] is dealt with
    for found in _AT_AND_DOMAIN.finditer(text):
        start = found.start()
        while start > done and found.start() - start < 64 and text[start - 1] in _LOCAL_PART:
            start -= 1
        if start < found.start():  # something before the @: an address
            kept += [text[done:start], "[address]"]
            done = found.end()
    return "".join(kept) + text[done:] if kept else text


# Libraries whose debug and info lines hold what must not be logged: aiosqlite's and asyncpg's
# carry statements' parameters (addresses), httpx's every URL called, authlib's the PKCE
# verifier. Their warnings and errors still come through.
_CHATTY_LIBRARIES = ("aiosqlite", "asyncpg", "httpx", "httpcore", "authlib")


class _SecondsCache:
    """The text of the current second, made once a second rather than once a line."""

    def __init__(self, pattern: str, converter: Callable[[float | None], time.struct_time]):
        self.pattern = pattern
        self.converter = converter
        self.second = -1
        self.text = ""

    def __call__(self, created: float) -> str:
        second = int(created)
        if second != self.second:
            self.second, self.text = second, time.strftime(self.pattern, self.converter(second))
        return self.text


@dataclasses.dataclass(slots=True)  # not frozen: a frozen one is slower to make
class RequestLine:
    """What the log says of one request; `path` is already redacted."""

    created: float  # time.time() when it was answered
    method: str
    path: str
    status: int  # 0: no answer was sent (the client went away first)
    duration_ms: float
    request_id: str

    @property
    def message(self) -> str:
        return f"{self.method} {self.path} {self.status or '-'} {self.duration_ms:.1f}ms"

    @property
    def fields(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "status": self.status or None,
                "duration_ms": round(self.duration_ms, 1)}  # fmt: skip


class TextFormatter(logging.Formatter):
    """`TIME LEVEL LOGGER: MESSAGE id=REQUEST` (and a traceback below), redacted."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s%(request_tag)s")
        self._second = _SecondsCache("%Y-%m-%d %H:%M:%S", time.localtime)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return self._time(record.created)

    def _time(self, created: float) -> str:
        return f"{self._second(created)},{int(created % 1 * 1000):03d}"

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        record.request_tag = f" id={request_id}" if request_id else ""
        line = super().format(record)
        return line if getattr(record, "redacted", False) else redact(line)

    def request_line(self, line: RequestLine) -> str:
        # One f-string (a line a request: this is the hot routes' cost of their log).
        created = line.created
        return (
            f"{self._second(created)},{int(created % 1 * 1000):03d} INFO {REQUEST_LOGGER}:"
            f" {line.method} {line.path} {line.status or '-'} {line.duration_ms:.1f}ms"
            f" id={line.request_id}"
        )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id (during a request)
    and an error's traceback as `exception`; a request's own line adds method, path, status
    and duration_ms."""

    def __init__(self) -> None:
        super().__init__()
        self._second = _SecondsCache("%Y-%m-%dT%H:%M:%S", time.gmtime)

    def _time(self, created: float) -> str:
        return f"{self._second(created)}.{int(created % 1 * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        safe = getattr(record, "redacted", False)
        entry: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage() if safe else redact(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        elif record.stack_info:
            entry["exception"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry)

    def request_line(self, line: RequestLine) -> str:
        return json.dumps({
            "time": self._time(line.created), "level": "info", "logger": REQUEST_LOGGER,
            "message": line.message, "request_id": line.request_id, **line.fields,
        })  # fmt: skip


_request_logger = logging.getLogger(REQUEST_LOGGER)
# Set by configure_logging: writes a request's line straight to the log's stream.
_write_request_line: Callable[[RequestLine], None] | None = None


def log_request(line: RequestLine) -> None:
    """One request's line in the log. In the server (configure_logging) it is formatted and
    written directly: a LogRecord and the handler chain would cost the hot routes more than
    the line itself. Elsewhere (tests, an app embedded in another server) it is a log record
    of `widget.requests`, with `request_id` and the fields in `http`."""
    if _write_request_line is not None:
        _write_request_line(line)
        return
    record = _request_logger.makeRecord(
        REQUEST_LOGGER, logging.INFO, "", 0, line.message, (), None,
        extra={"request_id": line.request_id, "redacted": True, "http": line.fields},
    )  # fmt: skip
    _request_logger.handle(record)


def configure_logging(settings: Settings) -> None:
    """Lines to stderr in `settings.log_format`, from `settings.log_level` up. Like
    logging.basicConfig, it leaves a root logger that has handlers already (a test's) alone."""
    global _write_request_line
    level = getattr(logging, settings.log_level.upper())
    for name in _CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "widget"]:
        root.removeHandler(old)
    _write_request_line = None
    if root.handlers:
        return
    formatter = JsonFormatter() if settings.log_format == "json" else TextFormatter()
    handler = _Handler(sys.stderr)
    handler.set_name("widget")
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(level)
    _write_request_line = handler.request_line


REQUEST_LINES_FLUSH_S = 0.25


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Lines to a stream, request lines a quarter of a second late: they are written together,
    so that a busy server makes a write a quarter second, not one a request (which cost the
    hot routes a tenth of their time). Any other line writes those waiting first, so the
    order holds; they are written at exit too. A process killed outright (SIGKILL) loses the
    last quarter second's request lines, never another line."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._waiting: list[str] = []
        self._flush_scheduled = False
        atexit.register(self.write_waiting)

    def request_line(self, line: RequestLine) -> None:
        assert isinstance(self.formatter, TextFormatter | JsonFormatter)
        text = self.formatter.request_line(line)
        with self.lock:  # type: ignore[union-attr]  # other threads' lines write these
            self._waiting.append(text)
        if self._flush_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not in the server's loop: nothing would write it later
            self.write_waiting()
            return
        loop.call_later(REQUEST_LINES_FLUSH_S, self.write_waiting)
        self._flush_scheduled = True

    def write_waiting(self) -> None:
        self._flush_scheduled = False
        with self.lock:  # type: ignore[union-attr]  # (created with the handler)
            if not self._waiting:
                return
            self.stream.write("\n".join(self._waiting) + "\n")
            self._waiting.clear()
            self.stream.flush()

    def emit(self, record: logging.LogRecord) -> None:
        self.write_waiting()
        super().emit(record)
