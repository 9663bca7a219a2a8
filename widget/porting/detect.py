"""Which format a file is in, from its first bytes (and, gzipped, from its first bytes
decompressed): the name does not matter."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from widget.porting.items import GZIP_MAGIC, BadFile

__all__ = ["FORMAT_NAMES", "detect"]

FORMAT_NAMES = ("jsonl", "disqus", "wxr", "isso", "remark42", "commento")
SQLITE_MAGIC = b"SQLite format 3\x00"
PEEK = 64 * 1024


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as raw:
            head = raw.read(PEEK)
        if head.startswith(GZIP_MAGIC):
            with gzip.open(path, "rb") as unpacked:
                return unpacked.read(PEEK)
    except FileNotFoundError as exc:
        raise BadFile(f"There is no file {path}.") from exc
    except IsADirectoryError as exc:
        raise BadFile(f"{path} is a folder: give the export file in it.") from exc
    except PermissionError as exc:
        raise BadFile(f"{path} cannot be read: permission denied.") from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise BadFile(f"{path.name} cannot be read: {exc} (a truncated download?).") from exc
    return head


def detect(path: Path) -> str:
    head = _head(path)
    if head.startswith(SQLITE_MAGIC):
        return "isso"
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    first_line = text.split(b"\n", 1)[0]
    if text.startswith(b"<"):
        if b"<disqus" in text:
            return "disqus"
        if b"wordpress.org/export/" in text:
            return "wxr"
    elif text.startswith(b"{"):
        if b'"widget-export"' in first_line:
            return "jsonl"
        if b'"commentHex"' in text or b'"commenters"' in text:
            return "commento"
        if b'"locator"' in text or (b'"version"' in first_line and b'"posts"' in first_line):
            return "remark42"
    raise BadFile(
        f"Could not tell what format {path.name} is in; give it with --format"
        f" ({', '.join(FORMAT_NAMES)})."
    )
