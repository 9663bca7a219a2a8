"""A file a command writes (`widget export -o FILE`), given its name only once it is whole.

Written in place, a file cut short (the command killed, the disk full, the export refused)
would sit at its name looking like an export: JSON Lines and CSV end at any line, and a
file that was there before would be gone. So the bytes go to `FILE.partial-<pid>` beside it,
synced, then renamed over FILE; whatever stops the command first, FILE is as it was.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from widget.backup import cannot_write
from widget.errors import ClientError
from widget.storage.sqlite_files import sync

__all__ = ["written_whole"]


@contextlib.contextmanager
def written_whole(target: Path) -> Iterator[BinaryIO]:
    """A file to write; at the end of the block it replaces `target`. When the block raises,
    or the file cannot be written, `target` is left as it was and the partial file removed
    (ClientError says why: a full disk, a missing or read-only folder)."""
    if target.is_dir():
        raise ClientError(f"{target} is a folder: name the file to write, e.g. {target}/export.")
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    try:
        with open(partial, "wb") as sink:
            yield sink
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(partial, target)
        sync(target.parent)
    except OSError as exc:
        raise ClientError(cannot_write(target, exc)) from exc
    finally:
        partial.unlink(missing_ok=True)  # gone already once renamed
