"""Exports, streamed: rows come from one snapshot of the database in batches, and each batch
leaves as text before the next is read, so memory stays flat however many comments there are.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from datetime import UTC, datetime
from typing import BinaryIO

from widget.errors import BadRequest
from widget.porting.export_context import ExportContext, Writer
from widget.porting.formats.csv_export import CsvWriter
from widget.porting.formats.disqus import DisqusWriter
from widget.porting.formats.native import NativeWriter
from widget.porting.formats.wxr import WxrWriter
from widget.storage import Storage

__all__ = [
    "EXPORT_FORMATS",
    "export_chunks",
    "export_filename",
    "read_back",
    "spooled",
    "writer_for",
]

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


async def spooled(chunks: AsyncGenerator[bytes]) -> BinaryIO:
    """The whole of `chunks` in a temporary file without a name (nothing is left of it however
    the process ends), read back from its start.

    For a download: read at the database's pace, not the client's. Streamed straight to the
    client, an export held its snapshot, and one of the few connections the database's
    readers share, for as long as the client took, or for ever when it stopped reading: two
    stalled downloads on SQLite (two readers) left every other request waiting. The file's
    size also gives the download a Content-Length, so a download cut short is seen as such.
    """
    file = tempfile.TemporaryFile()  # noqa: SIM115 (read_back closes it, after the response)
    try:
        async with aclosing(chunks):
            async for chunk in chunks:
                await asyncio.to_thread(file.write, chunk)
        file.seek(0)
    except BaseException:
        file.close()
        raise
    return file


async def read_back(file: BinaryIO, piece_bytes: int = 256 * 1024) -> AsyncGenerator[bytes]:
    """What `spooled` wrote, in pieces; the file is closed (and gone) at the end."""
    try:
        while piece := await asyncio.to_thread(file.read, piece_bytes):
            yield piece
    finally:
        file.close()


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
