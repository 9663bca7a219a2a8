"""The temporary folder an import stages its file in, and what killed imports left behind.

An import stages the whole file on disk first (about twice the file's size). A process that
is killed (kill -9, the OOM killer, a reboot of a container whose /tmp is a volume) never
removes its folder, and each retry leaves another: a few failed imports of a large file fill
the temporary disk, and then every import stops there. So each import holds an exclusive
lock (flock) on a file in its folder for as long as it runs, the kernel lets go of it however
the process ends, and each new import removes the folders whose lock it can take.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["PREFIX", "staging_folder"]

PREFIX = "widget-import-"
LOCK = "in-use"

log = logging.getLogger(__name__)


@contextlib.contextmanager
def staging_folder() -> Iterator[Path]:
    """A new folder in the system's temporary folder (TMPDIR), removed afterwards; the
    folders of imports that ended without removing theirs are removed first."""
    _remove_abandoned(Path(tempfile.gettempdir()))
    with tempfile.TemporaryDirectory(prefix=PREFIX) as name:
        folder = Path(name)
        # Locked before it gets the name another import looks for: never seen unlocked.
        fd = os.open(folder / f"{LOCK}.new", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.replace(folder / f"{LOCK}.new", folder / LOCK)
            yield folder
        finally:
            os.close(fd)


def _remove_abandoned(temporary: Path) -> None:
    for folder in temporary.glob(f"{PREFIX}*"):
        try:
            fd = os.open(folder / LOCK, os.O_RDONLY)
        except OSError:  # not ours, or not locked yet: not to be touched
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # an import is running there
        try:
            log.info("removing %s, left by an import that did not finish", folder)
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            os.close(fd)
