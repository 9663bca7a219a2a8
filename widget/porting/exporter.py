"""Exports, streamed: rows come from one snapshot of the database in batches, and each batch
leaves as text before the next is read, so memory stays flat however many comments there are.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from datetime import UTC, datetime

from widget.errors import BadRequest
from widget.porting.export_context import ExportContext, Writer
from widget.porting.formats.csv_export import CsvWriter
from widget.porting.formats.disqus import DisqusWriter
from widget.porting.formats.native import NativeWriter
from widget.porting.formats.wxr import WxrWriter
from widget.storage import Storage

__all__ = ["EXPORT_FORMATS", "export_chunks", "export_filename", "writer_for"]

EXPORT_FORMATS: dict[str, Callable[[], Writer]] = {
    "jsonl": NativeWriter, "wxr": WxrWriter, "disqus": DisqusWriter, "csv": CsvWriter,
}  # fmt: skip
SMALL_TABLES = ("sites", "site_origins", "threads", "users")


def writer_for(format_name: str) -> Writer:
    if format_name not in EXPORT_FORMATS:
        raise BadRequest(
            f"Unknown export format {format_name!r}; one of: {', '.join(EXPORT_FORMATS)}."
        )
    return EXPORT_FORMATS[format_name]()


async def export_chunks(
    storage: Storage, writer: Writer, site_ids: Sequence[str], page_id: str | None = None
) -> AsyncGenerator[bytes]:
    """The export as UTF-8 chunks, one per batch of rows."""
    context = ExportContext()
    started = False
    # Closed here, not when collected: a reader that stops early (a full disk, a download
    # cut off) lets go of the snapshot at once, before the storage closes.
    async with aclosing(storage.export(site_ids, page_id)) as batches:
        async for batch in batches:
            if batch.table in SMALL_TABLES:
                _remember(context, batch.table, batch.rows)
                continue
            if not started:
                started = True
                yield "".join(writer.head(context)).encode()
            if batch.table == "comments":
                yield "".join(writer.comments(context, batch.rows)).encode()
            elif batch.table == "likes":
                yield "".join(writer.likes(context, batch.rows)).encode()
    if not started:
        yield "".join(writer.head(context)).encode()
    yield "".join(writer.tail(context)).encode()


def _remember(context: ExportContext, table: str, rows: list[dict[str, object]]) -> None:
    for row in rows:
        if table == "sites":
            context.sites.append(row)
        elif table == "site_origins":
            context.origins.setdefault(str(row["site_id"]), []).append(str(row["origin"]))
        elif table == "threads":
            context.threads[int(row["id"])] = row  # type: ignore[call-overload]
        else:
            context.users[int(row["id"])] = row  # type: ignore[call-overload]


def export_filename(site_id: str, writer: Writer, page_id: str | None = None) -> str:
    scope = site_id + ("-thread" if page_id else "")
    return f"widget-{scope}-{datetime.now(UTC):%Y%m%d-%H%M%S}.{writer.extension}"
