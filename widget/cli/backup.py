"""`widget backup FILE` and `widget restore FILE`: the SQLite database, copied while it serves
and put back (widget/backup.py); for PostgreSQL, what to run instead."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from widget.config import Settings

__all__ = ["add_backup_commands"]

# Exit status when the database is PostgreSQL: nothing failed, but nothing was done either.
NOT_SQLITE = 2


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from widget.backup import back_up, database_file

    database = database_file(settings)
    if database is None:
        return _use_postgres_tools(settings, "backup")
    copied = back_up(database, Path(args.file), overwrite=args.overwrite)
    print(
        f"Backed up {database.absolute()} to {copied.path}: {_size(copied.size_bytes)}, schema"
        f" at migration {copied.schema:04d}, integrity check ok ({copied.seconds:.1f} s)."
    )
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    from widget.backup import database_file, restore

    database = database_file(settings)
    if database is None:
        return _use_postgres_tools(settings, "restore")
    restored = restore(Path(args.file), database, force=args.force)
    print(
        f"Restored {args.file} into {database.absolute()} (schema at migration"
        f" {restored.schema:04d}, integrity check ok)."
    )
    if restored.replaced is not None:
        wal = Path(f"{restored.replaced}-wal").exists()
        together = " (with its -wal and -shm: keep them together)" if wal else ""
        print(f"What it replaced is kept as {restored.replaced}{together}.")
    if restored.schema < restored.known_schema:
        print(
            f"widget brings its schema from {restored.schema:04d} to {restored.known_schema:04d}"
            " when it starts (or run `widget migrate`)."
        )
    if restored.server_was_running:
        print(
            "A widget server was using the database: it now refuses every request (503) and"
            f" keeps what it had as {database.name}.saved-<time>. Restart it to serve the"
            " restored database."
        )
    else:
        print("Start widget to serve it.")
    return 0


def _use_postgres_tools(settings: Settings, command: str) -> int:
    print(
        f"widget: `widget {command}` works on SQLite files; this database is PostgreSQL"
        f" ({settings.database_url_shown}). Use PostgreSQL's own tools, with"
        " WIDGET_DATABASE_URL set to that URL: pg_dump takes a consistent snapshot while"
        " widget serves,\n"
        '  pg_dump --format=custom --no-owner --no-privileges --file=FILE "$WIDGET_DATABASE_URL"\n'
        "and, with widget stopped, this puts it back:\n"
        "  pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction"
        ' --dbname="$WIDGET_DATABASE_URL" FILE',
        file=sys.stderr,
    )
    return NOT_SQLITE


def _size(size_bytes: int) -> str:
    if size_bytes < 1_000_000:
        return f"{size_bytes / 1000:.0f} kB"
    return f"{size_bytes / 1_000_000:,.1f} MB"


def add_backup_commands(commands: Any) -> None:
    backup = commands.add_parser(
        "backup", help="copy the SQLite database to a file, while the server runs",
        description="Copy the SQLite database to FILE while the server serves and writes: a"
        " snapshot of one moment that holds every comment acknowledged before it began,"
        " checked with PRAGMA integrity_check before it is given its name. Exit status 0 when"
        " FILE is a good backup; 1 when it failed, leaving nothing at FILE; 2 on PostgreSQL,"
        " with the pg_dump command to use instead.",
    )  # fmt: skip
    backup.add_argument("file", metavar="FILE", help="the backup file to write")
    backup.add_argument(
        "--overwrite", action="store_true", help="replace FILE if it exists (default: refuse)"
    )
    backup.set_defaults(run=cmd_backup)

    put_back = commands.add_parser(
        "restore", help="replace the SQLite database with a backup",
        description="Replace the SQLite database with FILE, a backup made by `widget backup`."
        " FILE is checked first: a whole SQLite file (PRAGMA integrity_check), a widget"
        " database, its schema no newer than this version's. The files it replaces are kept"
        " beside the database as widget.db.replaced-<time>. Stop the server first: while one"
        " runs, restore refuses unless --force.",
    )  # fmt: skip
    put_back.add_argument("file", metavar="FILE", help="the backup to restore")
    put_back.add_argument(
        "--force", action="store_true",
        help="replace the database even while a server uses it (it must then be restarted)",
    )  # fmt: skip
    put_back.set_defaults(run=cmd_restore)
