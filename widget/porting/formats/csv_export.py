"""CSV: one comment per row, for spreadsheets. A cell a spreadsheet would run as a formula
(starting with =, +, -, @, a tab or a carriage return) gets a leading apostrophe (OWASP's
advice on CSV injection)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from widget.porting.export_context import ExportContext, Row, comment_key, utc_text

__all__ = ["CsvWriter", "neutralised"]

COLUMNS = (
    "site", "page", "url", "title", "key", "parent", "status", "created_at", "edited_at",
    "name", "email", "website", "ip_address", "likes", "text",
)  # fmt: skip
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class CsvWriter:
    media_type = "text/csv"
    extension = "csv"

    def _rows(self, rows: Iterable[Iterable[object]]) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerows([neutralised(v) for v in row] for row in rows)
        return out.getvalue()

    def head(self, context: ExportContext) -> Iterator[str]:
        yield self._rows([COLUMNS])

    def comments(self, context: ExportContext, rows: Iterable[Row]) -> Iterator[str]:
        lines = []
        for c in rows:
            thread = context.threads[c["thread_id"]]
            lines.append((
                thread["site_id"], thread["page_id"], thread["url"], thread["title"],
                comment_key(c["import_key"], c["id"]),
                comment_key(c["parent_import_key"], c["parent_id"]) or "", c["status"],
                utc_text(c["created_at"]), utc_text(c["edited_at"]), c["author_name"],
                c["author_email"], c["author_url"], c["remote_ip"], c["like_count"],
                c["body_source"],
            ))  # fmt: skip
        yield self._rows(lines)

    def likes(self, context: ExportContext, rows: Iterable[Row]) -> Iterator[str]:
        return iter(())

    def tail(self, context: ExportContext) -> Iterator[str]:
        return iter(())
