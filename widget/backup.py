"""Backups of the SQLite database, taken while the server serves, and putting one back.

This works on the database file with Python's sqlite3 module, not through the storage classes:
a backup is the file, whatever code writes it. So it is the one place outside widget/storage/
that reads the file directly, and only what any SQLite file has (PRAGMAs) and the migrations
table that says which widget schema it holds.

`back_up` copies the database with SQLite's online backup API in one step: one read
transaction, so the copy is the database as it was at one moment, and a server writing
meanwhile (in WAL mode) neither waits nor is missed: every write it acknowledged before the
copy began is in it. The copy is made beside the target as `NAME.partial-<pid>`, switched to a
rollback journal (one self-contained file), checked with `PRAGMA integrity_check`, synced, and
only then named; whatever fails, it is removed, so a file at the target is always a good one.

`restore` copies the backup into the database's folder, checks the copy (a SQLite file, whole,
of widget's schema and not newer than this code's), then sets the files it replaces aside as
`widget.db.replaced-<time>` (with their -wal and -shm, which hold the last commits of a server
that was killed) and puts the copy at the path. The old -wal must never meet the new file:
SQLite would apply it.

A running server holds a shared lock (flock) on `widget.db.lock` for as long as it runs; the
kernel lets go of it when the process ends, however it ends. `restore` takes it exclusively,
so it can tell that a server is using the file, and no server starts while it works.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

from widget.config import Settings
from widget.errors import SetupError
from widget.storage.migrations import migrations
from widget.storage.sqlite_files import SIDE_FILES, stamp, sync

__all__ = [
    "BackupFailed",
    "Copied",
    "Restored",
    "back_up",
    "cannot_write",
    "database_file",
    "hold_server_lock",
    "restore",
]

BUSY_TIMEOUT_S = 5.0  # as the server waits: a write transaction is short


class BackupFailed(SetupError):
    """A backup or restore could not be made, or was refused; nothing was changed. The message
    names the file and says what to do."""


@dataclasses.dataclass(frozen=True, slots=True)
class Copied:
    path: Path
    size_bytes: int
    schema: int  # the newest migration in the copy
    seconds: float


@dataclasses.dataclass(frozen=True, slots=True)
class Restored:
    schema: int  # the newest migration in the restored file
    known_schema: int  # this code's newest: above `schema`, the server migrates on start
    replaced: Path | None  # where the files it replaced are kept, if there were any
    server_was_running: bool  # only with force: that server must be restarted


def database_file(settings: Settings) -> Path | None:
    """The SQLite file of `settings`, or None when the database is PostgreSQL."""
    # As widget.storage.storage_for_url reads a sqlite URL.
    if not settings.database_url.startswith("sqlite:///"):
        return None
    return Path(unquote(settings.database_url.removeprefix("sqlite:///")))


# -- backup -----------------------------------------------------------------------------------


def back_up(database: Path, target: Path, *, overwrite: bool = False) -> Copied:
    """Copy `database`, live, to `target` (see the module's docstring); raise BackupFailed
    with what to do when it cannot, leaving nothing at `target` that was not there."""
    started = time.monotonic()
    if target.is_dir():
        raise BackupFailed(
            f"{target} is a folder: name the backup file, e.g. {target / 'widget-backup.db'}."
        )
    if target.exists() and database.exists() and target.samefile(database):
        raise BackupFailed(f"{target} is the database itself: choose another name.")
    if target.exists() and not overwrite:
        raise BackupFailed(
            f"{target} exists already: choose another name, or add --overwrite to replace it."
        )
    source = _open_database(database)
    advice = f"Nothing was written to {target}."
    try:
        with _new_file(target.with_name(f"{target.name}.partial-{os.getpid()}")) as partial:
            schema = _copy_checked(source, partial, str(database.absolute()), advice)
            sync(partial)
            if overwrite:
                os.replace(partial, target)
            else:
                _link_new(partial, target)
    finally:
        source.close()
    sync(target.parent)
    return Copied(target, target.stat().st_size, schema, time.monotonic() - started)


def _open_database(database: Path) -> sqlite3.Connection:
    if not database.is_file():
        raise BackupFailed(
            f"There is no database at {database.absolute()}: nothing to back up. Is"
            " WIDGET_DATA_DIR (or WIDGET_DATABASE_URL) the one the server uses?"
        )
    try:
        return _connect_read_only(database)
    except sqlite3.Error as exc:
        raise BackupFailed(f"Cannot open {database.absolute()} ({exc}).") from exc


def _link_new(source: Path, target: Path) -> None:
    """Give `source` the name `target` as well, unless something took that name meanwhile."""
    try:
        os.link(source, target)
    except FileExistsError as exc:
        raise BackupFailed(
            f"{target} appeared while the backup was made: choose another name, or add"
            " --overwrite to replace it."
        ) from exc


# -- restore ----------------------------------------------------------------------------------


def restore(backup: Path, database: Path, *, force: bool = False) -> Restored:
    """Put `backup` in place of `database` (see the module's docstring). Raise BackupFailed,
    changing nothing, when the backup is not a whole widget database this code can serve, or
    when a server is using `database` and not `force`."""
    if database.exists() and backup.exists() and backup.samefile(database):
        raise BackupFailed(f"{backup} is the database itself: name a backup of it.")
    source = _open_backup(backup)
    database.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _new_file(database.with_name(f".{database.name}.restoring-{os.getpid()}")) as copy:
            advice = "Choose another backup (one made by `widget backup`); nothing was changed."
            schema = _copy_checked(source, copy, str(backup), advice)
            _check_not_newer(schema, backup)
            _take_owner_and_mode(database, copy)
            sync(copy)
            with _restore_lock(database, force) as server_was_running:
                replaced = _set_aside(database)
                os.replace(copy, database)
                sync(database.parent)
    finally:
        source.close()
    return Restored(schema, _known_schema(), replaced, server_was_running)


def _open_backup(backup: Path) -> sqlite3.Connection:
    try:
        with open(backup, "rb"):  # says plainly what is wrong with the name, if anything
            pass
        return _connect_read_only(backup)
    except (OSError, sqlite3.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise BackupFailed(f"Cannot read {backup} ({reason}); nothing was changed.") from exc


def _check_not_newer(schema: int, backup: Path) -> None:
    known = _known_schema()
    if schema > known:
        raise BackupFailed(
            f"{backup} comes from a newer widget: its schema is at migration {schema:04d}, and"
            f" this version knows up to {known:04d}. Restore it with that newer version, or"
            " choose a backup made before the upgrade; nothing was changed."
        )


def _take_owner_and_mode(database: Path, copy: Path) -> None:
    """The restored file keeps the owner and permissions of the one it replaces (or, in a
    folder without one, the folder's owner), so that the server's user can still write it
    when root restores."""
    status = (database if database.exists() else database.parent).stat()
    if database.exists():
        os.chmod(copy, status.st_mode & 0o7777)
    if (status.st_uid, status.st_gid) != (os.getuid(), os.getgid()):
        try:
            os.chown(copy, status.st_uid, status.st_gid)
        except PermissionError as exc:
            raise BackupFailed(
                f"{database} belongs to another user (uid {status.st_uid}), and this one may"
                " not give the restored file to it: restore as that user (or as root);"
                " nothing was changed."
            ) from exc


def _set_aside(database: Path) -> Path | None:
    """Move the database and its -wal and -shm to `NAME.replaced-<time>` (and its -wal,
    -shm), keeping the database at its path until the new one replaces it. None when there
    was nothing there."""
    present = [suffix for suffix in ("", *SIDE_FILES) if Path(f"{database}{suffix}").exists()]
    if not present:
        return None
    kept = _free_name(database.with_name(f"{database.name}.replaced-{stamp()}"))
    for suffix in SIDE_FILES:  # first: the old -wal must never sit beside the new file
        if suffix in present:
            os.rename(f"{database}{suffix}", f"{kept}{suffix}")
    if "" in present:
        os.link(database, kept)
    return kept


@contextlib.contextmanager
def _restore_lock(database: Path, force: bool) -> Iterator[bool]:
    """Hold the server lock exclusively while the files are swapped; yields whether a server
    holds it (with `force` only: else BackupFailed)."""
    with _lock_file(database) as fd:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            server_is_running = False
        except BlockingIOError as exc:
            if not force:
                raise BackupFailed(
                    f"A widget server is using {database} (it holds {_lock_path(database)}):"
                    " stop it first, then restore. Or add --force to replace the file under"
                    " it; that server then refuses every request until it is restarted."
                    " Nothing was changed."
                ) from exc
            server_is_running = True
        yield server_is_running


# -- the server's lock ------------------------------------------------------------------------


@contextlib.contextmanager
def hold_server_lock(database: Path) -> Iterator[None]:
    """Held by `widget serve` for as long as it runs (see the module's docstring). Raises
    SetupError while `widget restore` is replacing the file."""
    with _lock_file(database) as fd:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise SetupError(
                f"widget restore is replacing {database} right now: start widget again once it"
                " has finished."
            ) from exc
        yield


@contextlib.contextmanager
def _lock_file(database: Path) -> Iterator[int]:
    path = _lock_path(database)
    try:
        # Read-only is enough to lock, and works whoever made the file first.
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError as exc:
        raise BackupFailed(
            f"Cannot open {path} ({exc.strerror}): the folder {path.parent} must be writable"
            " by the user widget runs as."
        ) from exc
    try:
        yield fd
    finally:
        os.close(fd)  # and with it, the lock


def _lock_path(database: Path) -> Path:
    return database.with_name(f"{database.name}.lock")


# -- the copy, and what it must be -------------------------------------------------------------


def _copy_checked(source: sqlite3.Connection, copy: Path, name: str, advice: str) -> int:
    """Copy `source` (called `name`) into the empty file `copy` and check it: whole, widget's.
    Returns its schema (the newest migration in it). Messages end with `advice`."""
    try:
        target = sqlite3.connect(copy)
    except sqlite3.Error as exc:
        raise BackupFailed(cannot_write(copy, exc)) from exc
    try:
        try:
            source.backup(target)  # all pages in one step: one read transaction
        except sqlite3.Error as exc:
            raise BackupFailed(_cannot_copy(name, copy, exc, advice)) from exc
        try:
            # A copy of a WAL file is marked WAL; as one file it needs no -wal beside it.
            target.execute("PRAGMA journal_mode = DELETE").fetchall()
            problems = [row[0] for row in target.execute("PRAGMA integrity_check(5)")]
            if problems != ["ok"]:
                raise BackupFailed(
                    f"{name} is damaged; PRAGMA integrity_check says: {'; '.join(problems)}."
                    f" {advice}"
                )
            return _widget_schema(target, name, advice)
        except sqlite3.DatabaseError as exc:
            raise BackupFailed(_cannot_copy(name, copy, exc, advice)) from exc
    finally:
        target.close()


def _widget_schema(conn: sqlite3.Connection, name: str, advice: str) -> int:
    """The newest migration in a widget database; BackupFailed if `conn` is not one: its
    migrations table must name each migration as this code does (up to the newest it knows)."""
    known = {number: title for number, title, _ in migrations("sqlite")}
    try:
        rows = conn.execute("SELECT number, name FROM schema_migrations").fetchall()
        applied = {int(number): str(title) for number, title in rows}
    except (sqlite3.OperationalError, ValueError, TypeError):  # no such table, or not ours
        applied = {}
    if not applied or any(known.get(n, title) != title for n, title in applied.items()):
        raise BackupFailed(
            f"{name} is a SQLite database, but not widget's (no widget migrations in it). {advice}"
        )
    return max(applied)


def _known_schema() -> int:
    return max(number for number, _, _ in migrations("sqlite"))


def _cannot_copy(name: str, copy: Path, exc: sqlite3.Error, advice: str) -> str:
    """Why copying `name` failed: it cannot be read as a database (then `advice`), or the copy
    cannot be written."""
    code = exc.sqlite_errorcode & 0xFF
    if code == sqlite3.SQLITE_NOTADB:
        return f"{name} is not a SQLite database ({exc}). {advice}"
    if code == sqlite3.SQLITE_CORRUPT:
        return f"{name} is damaged ({exc}). {advice}"
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return f"{name} stayed locked for {BUSY_TIMEOUT_S:.0f} s ({exc}): try again. {advice}"
    return cannot_write(copy, exc)


def cannot_write(path: Path, exc: sqlite3.Error | OSError) -> str:
    """Why a new file cannot be written at `path`, and what to do."""
    folder = path.parent.absolute()
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    number = getattr(exc, "errno", None)
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    if code == sqlite3.SQLITE_FULL or number in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"The disk holding {folder} is full ({reason}): free some space, or choose a"
            " folder on another disk. Nothing was written."
        )
    if number == errno.ENOENT:
        return f"The folder {folder} does not exist: create it first. Nothing was written."
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN) or number in (
        errno.EROFS, errno.EACCES, errno.EPERM,
    ):  # fmt: skip
        return (
            f"Cannot write to {folder} ({reason}): choose a folder the user running this may"
            " write to, on a disk mounted read-write. Nothing was written."
        )
    return f"Cannot write {path} ({reason}). Nothing was written."


# -- files ------------------------------------------------------------------------------------


@contextlib.contextmanager
def _new_file(path: Path) -> Iterator[Path]:
    """A new, empty file at `path`, removed (with any journal SQLite left) unless the block
    moved it away."""
    try:
        path.unlink(missing_ok=True)  # what an earlier, killed run with this pid left
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise BackupFailed(cannot_write(path, exc)) from exc
    try:
        yield path
    finally:
        for leftover in (path, Path(f"{path}-journal"), *(Path(f"{path}{s}") for s in SIDE_FILES)):
            leftover.unlink(missing_ok=True)


def _free_name(path: Path) -> Path:
    """`path`, or `path-2`, `path-3`...: the first that names nothing yet."""
    candidate, n = path, 1
    while any(Path(f"{candidate}{suffix}").exists() for suffix in ("", *SIDE_FILES)):
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that never writes `path` (nor creates it): a -wal beside it is read, not
    applied."""
    return sqlite3.connect(f"file:{_uri_path(path)}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)


def _uri_path(path: Path) -> str:
    # In a file: URI, '?' and '#' would end the path, and '%' starts an escape.
    return str(path.absolute()).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
