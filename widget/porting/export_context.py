"""What every export writer gets: the small tables of the export, held in memory (sites,
threads, users: bounded by the number of pages and people, not of comments), while comments
and likes stream past in batches."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Protocol

__all__ = ["ExportContext", "Row", "Writer", "comment_key", "utc_text"]

Row = dict[str, Any]


@dataclasses.dataclass(slots=True)
class ExportContext:
    sites: list[Row] = dataclasses.field(default_factory=list)
    origins: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    threads: dict[int, Row] = dataclasses.field(default_factory=dict)
    users: dict[int, Row] = dataclasses.field(default_factory=dict)


class Writer(Protocol):
    media_type: str
    extension: str

    def head(self, context: ExportContext) -> Iterator[str]: ...

    def comments(self, context: ExportContext, rows: Iterable[Row]) -> Iterator[str]: ...

    def likes(self, context: ExportContext, rows: Iterable[Row]) -> Iterator[str]: ...

    def tail(self, context: ExportContext) -> Iterator[str]: ...


def comment_key(import_key: str | None, comment_id: int | None) -> str | None:
    """How an export names a comment: the key it was imported under, else its id."""
    if import_key:
        return import_key
    return str(comment_id) if comment_id else None


def utc_text(moment: datetime | None) -> str:
    """2024-05-06T07:08:09Z (microseconds kept when there are some)."""
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else ""
