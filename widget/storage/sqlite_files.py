"""Is the SQLite file this process has open still the one at its path?

A database file deleted, moved away or replaced while the server runs stays open: SQLite goes
on writing into it, and a restart finds something else (or nothing) at the path. The same
goes for its `-wal` (where recent commits live until a checkpoint) and its `-shm` (how
processes sharing the file agree on the `-wal`). The writer compares, before each COMMIT,
the files it opened with the files now at their paths (device and inode), and stops at the
first difference.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["SIDE_FILES", "OpenedFiles", "place_copy", "stamp", "sync"]

SIDE_FILES = ("-wal", "-shm")  # SQLite's companions of a file in WAL mode
SUFFIXES = ("", *SIDE_FILES)


@dataclasses.dataclass(frozen=True, slots=True)
class OpenedFiles:
    path: Path
    identities: tuple[tuple[int, int], ...]  # (device, inode) of the file, -wal and -shm

    @classmethod
    def at(cls, path: Path) -> OpenedFiles:
        """The files now at `path` (call it while they are open, so that they are ours)."""
        return cls(path, tuple(_identity(Path(f"{path}{suffix}")) for suffix in SUFFIXES))

    def what_changed(self) -> str | None:
        """None while the paths still lead to the files opened; else what happened, for a
        person: "… has been deleted or moved away", "… has been replaced by another file"."""
        for suffix, opened in zip(SUFFIXES, self.identities, strict=True):
            name = Path(f"{self.path}{suffix}")
            try:
                now = _identity(name)
            except FileNotFoundError:
                return f"{name} has been deleted or moved away"
            except OSError as exc:  # cannot look: cannot vouch for it either
                return f"{name} cannot be checked ({exc.strerror})"
            if now != opened:
                return f"{name} has been replaced by another file"
        return None

    def database_is_elsewhere(self) -> bool:
        """Whether the path no longer leads to the database file opened (its -wal and -shm
        aside): then what this process holds exists nowhere a restart would look."""
        try:
            return _identity(self.path) != self.identities[0]
        except OSError:
            return True


def place_copy(copy: Path, path: Path) -> Path:
    """Sync the finished `copy` and put it at `path` if nothing is there; else leave it beside,
    named by the time. Never replaces a file. Returns where the copy is."""
    sync(copy)  # VACUUM INTO does not sync what it writes
    try:
        os.link(copy, path)
    except FileExistsError:
        kept = path.with_name(f"{path.name}.saved-{stamp()}")
        os.replace(copy, kept)
        sync(path.parent)
        return kept
    os.unlink(copy)
    sync(path.parent)
    return path


def sync(path: Path) -> None:
    """Make `path` durable: a file's contents, or a folder's names (a new name is durable only
    once its folder is synced)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def stamp() -> str:
    """Now, for a file name: 20261130T120000Z."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _identity(path: Path) -> tuple[int, int]:
    status = os.stat(path)
    return status.st_dev, status.st_ino
