"""Importing a file: read it, stage what it holds on disk, write it in one transaction.

1. Read: the format's reader turns the file into items (comments, likes, skips), in the
   file's order, in bounded memory (XML and JSON Lines are streamed). Each body is rendered in
   a render worker within the CPU-time limit of new comments (one that needs more is skipped).
2. Stage: each item goes into a SQLite file in a temporary folder; comments with a key already
   seen in their thread are skipped as duplicates. Nothing has touched the database yet, so a
   file that turns out broken halfway leaves nothing behind.
3. Order: a recursive query gives each comment its depth, so parents are written before their
   replies whatever order the file had them in.
4. Write: storage.import_comments, one transaction: all or nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import importlib
import pickle
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

from widget.email_address import NotAnEmailAddress, check_email_address
from widget.errors import SetupError
from widget.porting.detect import FORMAT_NAMES, detect
from widget.porting.items import BadFile, Bodies, Item, Skip
from widget.porting.staging_folder import staging_folder
from widget.records import ImportedComment, ImportedLike, ImportedThread, ImportItem
from widget.render_workers import DEFAULT_CPU_LIMIT_S, RenderWorkers
from widget.storage import Storage

__all__ = ["ImportReport", "import_file"]

Reader = Callable[[Path, str, Bodies], Iterator[Item]]
Progress = Callable[[str, int, int], None]  # (stage, done, total or 0)

LOSSLESS = {"jsonl"}  # formats whose spam and deleted comments are imported as they are
BATCH = 5000


def reader_for(format_name: str) -> Reader:
    if format_name not in FORMAT_NAMES:
        raise BadFile(f"Unknown format {format_name!r}; one of: {', '.join(FORMAT_NAMES)}.")
    module = importlib.import_module(f"widget.porting.formats.{_MODULES[format_name]}")
    read: Reader = module.read
    return read


_MODULES = {"jsonl": "native", "disqus": "disqus", "wxr": "wxr", "isso": "isso",
            "remark42": "remark42", "commento": "commento"}  # fmt: skip


@dataclasses.dataclass(slots=True)
class ImportReport:
    format: str
    dry_run: bool
    imported: int = 0
    likes: int = 0
    threads_created: int = 0
    orphans: list[str] = dataclasses.field(default_factory=list)
    skipped: list[Skip] = dataclasses.field(default_factory=list)
    addresses_dropped: int = 0  # not one plain email address: the comment came in without it

    def skipped_by_reason(self) -> dict[str, int]:
        return dict(Counter(skip.reason for skip in self.skipped).most_common())


class Staging:
    """The file's items on disk, in a SQLite file of their own."""

    def __init__(self, folder: Path) -> None:
        # Filled in a worker thread (parsing is CPU work), read back in the event loop.
        self.db = sqlite3.connect(
            folder / "staging.db", isolation_level=None, check_same_thread=False
        )
        self.db.executescript(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
            "CREATE TABLE items (seq INTEGER PRIMARY KEY, page TEXT NOT NULL, key TEXT NOT NULL,"
            " parent TEXT, status TEXT NOT NULL, payload BLOB NOT NULL, UNIQUE (page, key));"
            "CREATE TABLE likes (seq INTEGER PRIMARY KEY, payload BLOB NOT NULL);"
            "CREATE TABLE threads (seq INTEGER PRIMARY KEY, page TEXT NOT NULL,"
            " payload BLOB NOT NULL);"
            "CREATE TABLE skips (seq INTEGER PRIMARY KEY, key TEXT, reason TEXT, detail TEXT);"
        )
        self.count = 0
        self.addresses_dropped = 0

    def add(self, item: Item) -> None:
        if isinstance(item, Skip):
            self.skip(item)
        elif isinstance(item, ImportedLike):
            self.db.execute("INSERT INTO likes (payload) VALUES (?)", (pickle.dumps(item),))
        elif isinstance(item, ImportedThread):
            self.db.execute("INSERT INTO threads (page, payload) VALUES (?, ?)",
                            (item.page.page_id, pickle.dumps(item)))  # fmt: skip
        else:
            item = self._plain_addresses(item)
            try:
                self.db.execute(
                    "INSERT INTO items (page, key, parent, status, payload) VALUES (?, ?, ?, ?, ?)",
                    (item.page.page_id, item.key, item.parent_key, item.status,
                     pickle.dumps(item)),
                )  # fmt: skip
                self.count += 1
            except sqlite3.IntegrityError:
                self.skip(Skip(item.key, "duplicate", "the file has this key twice"))

    def _plain_addresses(self, comment: ImportedComment) -> ImportedComment:
        """Another system's addresses are checked as typed ones are: a list, a display name or
        a broken address is dropped (and counted), so no email can go to it; the comment stays.
        """
        email = self._plain_address(comment.author_email)
        user = comment.user
        if user is not None and user.email:
            user = dataclasses.replace(user, email=self._plain_address(user.email))
        return dataclasses.replace(comment, author_email=email, user=user)

    def _plain_address(self, raw: str) -> str:
        if not raw.strip():
            return ""
        try:
            return check_email_address(raw)
        except NotAnEmailAddress:
            self.addresses_dropped += 1
            return ""

    def skip(self, skip: Skip) -> None:
        self.db.execute("INSERT INTO skips (key, reason, detail) VALUES (?, ?, ?)",
                        (skip.key, skip.reason, skip.detail))  # fmt: skip

    def index(self) -> None:
        """Once loaded: replies by parent, for the deleted-with-replies check and the depths
        (built once at the end, cheaper than kept up to date row by row)."""
        self.db.execute("CREATE INDEX items_by_parent ON items (page, parent)")

    def drop_unwanted(self) -> None:
        """Other systems' spam stays out; so do their deleted comments, unless a comment that
        is kept hangs below one: then it comes in as a removed placeholder, and the replies keep
        their place. A deleted comment whose replies are all left out (spam, or deleted with
        nothing kept below) would be an empty placeholder, so it is left out too."""
        self.db.execute("BEGIN")
        # Upwards from every published or held comment, through deleted parents only: the
        # deleted comments met on the way are the placeholders someone's reply hangs from.
        self.db.execute(
            "CREATE TEMP TABLE holds_a_reply AS WITH RECURSIVE up (page, key) AS ("
            " SELECT page, parent FROM items WHERE status NOT IN ('spam', 'deleted')"
            " AND parent IS NOT NULL"
            " UNION SELECT i.page, i.parent FROM items i JOIN up ON i.page = up.page"
            " AND i.key = up.key WHERE i.status = 'deleted' AND i.parent IS NOT NULL)"
            " SELECT page, key FROM up"
        )
        self.db.execute(
            "CREATE TEMP TABLE unwanted AS SELECT seq FROM items i WHERE status = 'spam'"
            " OR (status = 'deleted' AND NOT EXISTS (SELECT 1 FROM holds_a_reply h"
            " WHERE h.page = i.page AND h.key = i.key))"
        )
        self.db.execute(
            "INSERT INTO skips (key, reason, detail) SELECT key, status, '' FROM items"
            " WHERE seq IN (SELECT seq FROM unwanted) ORDER BY seq"
        )
        self.db.execute("DELETE FROM items WHERE seq IN (SELECT seq FROM unwanted)")
        self.db.execute("DROP TABLE holds_a_reply")
        self.db.execute("DROP TABLE unwanted")
        self.db.execute("COMMIT")
        self.count = self.db.execute("SELECT count(*) FROM items").fetchone()[0]

    def ordered(self, keep_file_order: bool) -> Iterator[ImportItem]:
        """Threads, then comments parents first, then likes. Our own exports list parents
        first already, and keep their order (so ids come out in the same order), and every
        thread (empty ones too); other files are ordered by depth, then file order, and only
        threads that get a comment come in (their origins are for going back). A comment in a
        cycle of parents has no depth: it comes last, and is attached at top level."""
        if not keep_file_order:
            self._depths()
        for query in (
            "SELECT payload FROM threads ORDER BY seq"
            if keep_file_order
            else "SELECT payload FROM threads t WHERE EXISTS"
            " (SELECT 1 FROM items i WHERE i.page = t.page) ORDER BY seq",
            "SELECT payload FROM items ORDER BY seq"
            if keep_file_order
            else "SELECT payload FROM items LEFT JOIN depth USING (seq)"
            " ORDER BY coalesce(depth.level, 1 << 40), seq",
            "SELECT payload FROM likes ORDER BY seq",
        ):
            cursor = self.db.execute(query)
            while rows := cursor.fetchmany(BATCH):
                for (payload,) in rows:
                    yield pickle.loads(payload)  # noqa: S301 (our own file, written just now)

    def _depths(self) -> None:
        self.db.execute("CREATE TEMP TABLE depth (seq INTEGER PRIMARY KEY, level INTEGER)")
        self.db.execute(
            "INSERT INTO depth WITH RECURSIVE tree (seq, page, key, level) AS ("
            " SELECT seq, page, key, 0 FROM items i WHERE parent IS NULL OR NOT EXISTS"
            " (SELECT 1 FROM items p WHERE p.page = i.page AND p.key = i.parent)"
            " UNION ALL SELECT c.seq, c.page, c.key, tree.level + 1 FROM items c"
            " JOIN tree ON c.page = tree.page AND c.parent = tree.key)"
            " SELECT seq, level FROM tree"
        )

    def skips(self) -> list[Skip]:
        rows = self.db.execute("SELECT key, reason, detail FROM skips ORDER BY seq")
        return [Skip(key, reason, detail) for key, reason, detail in rows]

    def close(self) -> None:
        self.db.close()


def stage_file(
    path: Path, site_id: str, format_name: str, folder: Path, tell: Progress, bodies: Bodies
) -> Staging:
    """Read the whole file into a staging database; raises BadFile before any write, and
    SetupError when the staging folder's disk is full."""
    if not path.is_file():
        raise BadFile(f"There is no file at {path}.")
    read = reader_for(format_name)
    try:
        staging = Staging(folder)
    except sqlite3.Error as exc:
        if _disk_full(exc):
            raise _no_room(folder) from exc
        raise
    try:
        staging.db.execute("BEGIN")
        for item in read(path, site_id, bodies):
            staging.add(item)
            if staging.count % BATCH == 0:
                tell("reading", staging.count, 0)
        staging.db.execute("COMMIT")
        staging.index()
        if format_name not in LOSSLESS:
            staging.drop_unwanted()
    except BaseException as exc:
        staging.close()
        if _disk_full(exc):
            raise _no_room(folder) from exc
        raise
    tell("reading", staging.count, 0)
    return staging


def _no_room(folder: Path) -> SetupError:
    return SetupError(
        f"The disk holding {folder.parent} is full: an import stages its file there first,"
        " which takes about twice the file's size. Free some space there, or set TMPDIR to a"
        " folder on a disk with room. Nothing was imported."
    )


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error):
        return exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_FULL
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


async def import_file(
    storage: Storage, path: Path, site_id: str, format_name: str | None = None, *,
    dry_run: bool = False, progress: Progress | None = None,
    render_cpu_limit_s: float = DEFAULT_CPU_LIMIT_S,
) -> ImportReport:  # fmt: skip
    """Import a file into a site; raises BadFile (nothing written) when it cannot be read."""
    tell = progress or (lambda stage, done, total: None)
    workers = RenderWorkers(render_cpu_limit_s)
    with staging_folder() as folder:
        found: str = format_name if format_name else await asyncio.to_thread(detect, path)
        try:
            staging = await asyncio.to_thread(
                stage_file, path, site_id, found, folder, tell, Bodies(workers)
            )
        finally:
            workers.close()
        total = staging.count
        try:

            async def items() -> AsyncIterator[ImportItem]:
                for done, item in enumerate(staging.ordered(found in LOSSLESS), start=1):
                    if done % 1000 == 0 or done == total:
                        tell("writing", min(done, total), total)
                    yield item

            tally = await storage.import_comments(site_id, items(), dry_run=dry_run)
            skipped = staging.skips()
        finally:
            staging.close()
    skipped += [Skip(key, "duplicate", "already imported") for key in tally.duplicates]
    return ImportReport(
        format=found, dry_run=dry_run, imported=tally.imported, likes=tally.likes,
        threads_created=tally.threads_created, orphans=tally.orphans, skipped=skipped,
        addresses_dropped=staging.addresses_dropped,
    )  # fmt: skip
