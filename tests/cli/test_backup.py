"""`widget backup` and `widget restore`, as an operator runs them: a live server's database
copied while comments are posted, put back and read through HTTP; a backup that cannot be
written leaves nothing behind; a file that must not be restored is refused with a message
saying why, and the database is left as it was."""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import hashlib
import os
import shlex
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import Widget, loopback_http, stored_comments
from tests.mounts import read_only, small_disk
from tests.postgres_cluster import PrivateCluster
from tests.servers import WidgetServer, serve_until_it_stops, widget_server

BLOG = "https://blog.example"


@pytest.fixture
def data_dir(tmp_path: Path, widget: Widget) -> Path:
    """A data folder whose database holds the site "blog", open to posts at once."""
    added = widget("site", "add", "blog", "--origin", BLOG,
                   "--set", "min_seconds_to_post=0", "--set", "page_size=500")  # fmt: skip
    assert added.code == 0, added.err
    return tmp_path / "data"


def integrity(database: Path) -> tuple[str, str]:
    """(PRAGMA integrity_check, journal mode) of a file."""
    conn = sqlite3.connect(database)
    try:
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
        return check, conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()


def fingerprint(folder: Path) -> dict[str, str]:
    """Every file of a folder and a hash of its bytes: to see that nothing changed (in a
    folder no server uses)."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.iterdir())
        if path.is_file() and not path.name.endswith(".lock")
    }


def identities(folder: Path) -> dict[str, int]:
    """Every file of a folder and its inode: to see that none was replaced or added (in a
    folder a server writes to)."""
    return {path.name: path.stat().st_ino for path in folder.iterdir()}


def served_ids(server: WidgetServer, page: str) -> set[int]:
    """What a reader of `page` gets through HTTP: the id of every comment (one page holds
    them all: page_size is 500)."""
    response = loopback_http().get(
        f"{server.local_url}/api/v1/threads", params={"site": "blog", "page": page}, timeout=10
    )
    if response.status_code == 404:  # nobody has commented there
        return set()
    assert response.status_code == 200, response.text
    return {comment["id"] for comment in response.json()["comments"]}


PAGES = ("/load-0/", "/load-1/", "/load-2/")


class Posters:
    """What guests posting comments were answered: each acknowledged comment (201) with the
    time its answer came, and any other answer."""

    def __init__(self) -> None:
        self.acknowledged: list[tuple[float, int, str]] = []
        self.refused: list[str] = []
        self._lock = threading.Lock()

    def post_until(self, stop: threading.Event, server: WidgetServer, page: str) -> None:
        for n in range(400):  # page_size: one page shows them all
            if stop.is_set():
                return
            body = f"{page} comment {n}"
            try:
                response = server.post_comment(page, body)
            except httpx.TimeoutException:
                continue  # a loaded machine; not acknowledged, so not counted
            with self._lock:
                if response.status_code == 201:
                    self.acknowledged.append((time.monotonic(), response.json()["comment"]["id"], body))  # fmt: skip
                else:
                    self.refused.append(f"{response.status_code} {response.text}")

    def acknowledged_between(self, start: float, end: float) -> dict[int, str]:
        with self._lock:
            return {cid: body for at, cid, body in self.acknowledged if start <= at < end}

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 120
        while len(self.acknowledged) < count:
            assert time.monotonic() < deadline, f"only {len(self.acknowledged)} acknowledged"
            assert not self.refused, self.refused
            time.sleep(0.05)


@contextlib.contextmanager
def posting(server: WidgetServer) -> Iterator[Posters]:
    """Guests posting to each of PAGES, one after another, until the block ends."""
    posters, stop = Posters(), threading.Event()
    with concurrent.futures.ThreadPoolExecutor(len(PAGES)) as pool:
        running = [pool.submit(posters.post_until, stop, server, page) for page in PAGES]
        try:
            yield posters
        finally:
            stop.set()
    for future in running:
        future.result()  # a poster that failed says why


def grow(database: Path, megabytes: int) -> None:
    """Make the file as large as a years-old one, so that a copy takes a while: filler rows
    in a table of their own (widget reads none of it)."""
    conn = sqlite3.connect(database)
    conn.execute("CREATE TABLE filler (data BLOB)")
    conn.executemany("INSERT INTO filler VALUES (randomblob(1000000))", [()] * megabytes)
    conn.commit()
    conn.close()


# -- backup -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_backup_taken_while_comments_are_posted_holds_every_acknowledged_one(
    tmp_path: Path, data_dir: Path, widget: Widget
) -> None:
    database = data_dir / "widget.db"
    grow(database, 60)
    backup = tmp_path / "backups" / "widget-nightly.db"
    backup.parent.mkdir()
    with widget_server(data_dir) as server, posting(server) as posters:
        posters.wait_for(30)
        began = time.monotonic()
        made = widget("backup", str(backup))
        ended = time.monotonic()
        posters.wait_for(len(posters.acknowledged) + 30)
    assert made.code == 0, made.err
    assert f"Backed up {database} to {backup}" in made.out
    assert "integrity check ok" in made.out
    assert not posters.refused, posters.refused[:3]  # the server never refused meanwhile
    before = posters.acknowledged_between(0, began)
    during = posters.acknowledged_between(began, ended)
    after = posters.acknowledged_between(ended, float("inf"))
    assert before and after

    # One file, whole, with every comment acknowledged before the backup began.
    assert integrity(backup) == ("ok", "delete")
    assert sorted(path.name for path in backup.parent.iterdir()) == [backup.name]
    copied = stored_comments(backup)
    assert {cid: copied.get(cid) for cid in before} == before
    assert not set(after) & set(copied)  # a snapshot taken before those
    # Writes went on while it was taken: a copy holds no lock that writers wait for.
    assert during

    # Put back into the stopped server's folder, then read through HTTP.
    restored = widget("restore", str(backup))
    assert restored.code == 0, restored.err
    assert "Start widget to serve it." in restored.out
    replaced = next(data_dir.glob("widget.db.replaced-*[0-9]Z"))
    assert f"kept as {replaced}" in restored.out
    with widget_server(data_dir) as server:
        served = set().union(*(served_ids(server, page) for page in PAGES))
    assert set(before) <= served
    assert not set(after) & served
    # Nothing acknowledged is lost: the replaced file holds every comment.
    kept = stored_comments(replaced)
    everything = posters.acknowledged_between(0, float("inf"))
    assert {cid: kept.get(cid) for cid in everything} == everything


def test_a_backup_never_replaces_a_file_unless_asked(
    tmp_path: Path, data_dir: Path, widget: Widget
) -> None:
    backup = tmp_path / "widget-backup.db"
    backup.write_text("last week's backup")
    refused = widget("backup", str(backup))
    assert refused.code == 1
    assert f"{backup} exists already" in refused.err and "--overwrite" in refused.err
    assert backup.read_text() == "last week's backup"

    replaced = widget("backup", "--overwrite", str(backup))
    assert replaced.code == 0, replaced.err
    assert integrity(backup) == ("ok", "delete")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data", backup.name]

    itself = widget("backup", "--overwrite", str(data_dir / "widget.db"))
    assert itself.code == 1 and "is the database itself" in itself.err
    folder = widget("backup", str(tmp_path))
    assert folder.code == 1 and f"{tmp_path} is a folder: name the backup file" in folder.err
    nowhere = widget("backup", str(tmp_path / "no-such-folder" / "b.db"))
    assert nowhere.code == 1
    assert f"The folder {tmp_path / 'no-such-folder'} does not exist" in nowhere.err


def test_a_backup_without_a_database_says_where_it_looked(tmp_path: Path, widget: Widget) -> None:
    result = widget("backup", str(tmp_path / "b.db"))
    assert result.code == 1
    assert f"There is no database at {tmp_path / 'data' / 'widget.db'}" in result.err
    assert "WIDGET_DATA_DIR" in result.err
    assert not (tmp_path / "data" / "widget.db").exists()  # and it made none
    assert not (tmp_path / "b.db").exists()


def test_a_backup_to_a_full_disk_leaves_nothing_behind(
    tmp_path: Path, data_dir: Path, widget: Widget
) -> None:
    grow(data_dir / "widget.db", 2)
    disk = tmp_path / "small-disk"
    with small_disk(disk, size_kb=1024):
        result = widget("backup", str(disk / "widget-backup.db"))
        left = list(disk.iterdir())
    assert result.code == 1
    assert f"The disk holding {disk} is full" in result.err
    assert "Nothing was written" in result.err
    assert left == []  # no partial file that could pass for a backup


def test_a_backup_to_a_read_only_folder_is_refused(
    tmp_path: Path, data_dir: Path, widget: Widget
) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    with read_only(folder):
        result = widget("backup", str(folder / "widget-backup.db"))
    assert result.code == 1
    assert f"Cannot write to {folder} (Read-only file system)" in result.err
    assert list(folder.iterdir()) == []


# -- restore ----------------------------------------------------------------------------------


def made_backup(tmp_path: Path, widget: Widget, name: str = "backup.db") -> Path:
    backup = tmp_path / name
    made = widget("backup", str(backup))
    assert made.code == 0, made.err
    return backup


def not_sqlite(backup: Path) -> None:
    backup.write_text("name,comment\nAnn,Hello\n" * 200)


def another_programs(backup: Path) -> None:
    backup.unlink()
    conn = sqlite3.connect(backup)
    conn.execute("CREATE TABLE schema_migrations (version TEXT PRIMARY KEY)")  # Rails's
    conn.execute("INSERT INTO schema_migrations VALUES ('20240101000000')")
    conn.commit()
    conn.close()


def torn(backup: Path) -> None:
    # A page in the middle (the comments' tables and indexes) overwritten with other bytes.
    with backup.open("r+b") as file:
        file.seek(20 * 4096)
        file.write(b"\x0d" + b"\xa5" * 4095)


def index_emptied(backup: Path) -> None:
    # The sites' index (page 4) written as an empty one: readable, and wrong (a lookup of the
    # site by its id finds nothing).
    with backup.open("r+b") as file:
        file.seek(3 * 4096)
        file.write(b"\x0a\x00\x00\x00\x00\x10\x00\x00" + b"\x00" * (4096 - 8))


def from_a_newer_widget(backup: Path) -> None:
    conn = sqlite3.connect(backup)
    conn.execute("INSERT INTO schema_migrations VALUES (9999, 'from_the_future', 0)")
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (not_sqlite, "is not a SQLite database (file is not a database)"),
        (another_programs, "is a SQLite database, but not widget's"),
        (torn, "is damaged (database disk image is malformed)"),
        (index_emptied, "is damaged; PRAGMA integrity_check says: row 1 missing from index"),
        (from_a_newer_widget, "comes from a newer widget: its schema is at migration 9999, and"
         " this version knows up to 00"),
        (lambda backup: backup.unlink(), "(No such file or directory); nothing was changed"),
    ],
    ids=["not SQLite", "another program's", "torn", "index emptied", "newer", "missing"],
)  # fmt: skip
def test_a_file_that_cannot_be_served_is_not_restored(
    tmp_path: Path, data_dir: Path, widget: Widget,
    spoil: Callable[[Path], None], message: str,
) -> None:  # fmt: skip
    backup = made_backup(tmp_path, widget)
    spoil(backup)
    before = fingerprint(data_dir)
    result = widget("restore", str(backup))
    assert result.code == 1
    assert f"widget: {backup}" in result.err or f"Cannot read {backup}" in result.err
    assert message in result.err
    assert "nothing was changed" in result.err.lower()
    assert fingerprint(data_dir) == before
    assert widget("site", "list").out.startswith("blog")


@pytest.mark.slow  # a server in a process of its own, killed: end to end, not the quick loop
def test_a_restore_sets_the_old_files_aside_and_never_applies_their_wal(
    tmp_path: Path, data_dir: Path, widget: Widget
) -> None:
    with widget_server(data_dir) as server:
        assert server.post_comment("/p/", "in the backup").status_code == 201
        backup = made_backup(tmp_path, widget)
        assert server.post_comment("/p/", "after the backup").status_code == 201
        server.kill()  # its last commits stay in widget.db-wal
    assert (data_dir / "widget.db-wal").stat().st_size > 0
    # As root restoring the folder of a server that runs as its own user.
    os.chown(data_dir / "widget.db", 4321, 4321)
    os.chmod(data_dir / "widget.db", 0o640)

    result = widget("restore", str(backup))
    assert result.code == 0, result.err
    database = data_dir / "widget.db"
    assert sorted(stored_comments(database).values()) == ["in the backup"]
    assert integrity(database) == ("ok", "delete")
    status = database.stat()
    assert (status.st_uid, status.st_gid, status.st_mode & 0o777) == (4321, 4321, 0o640)
    replaced = next(data_dir.glob("widget.db.replaced-*[0-9]Z"))
    assert Path(f"{replaced}-wal").exists()  # it went with its file
    assert not Path(f"{database}-wal").exists()
    assert sorted(stored_comments(replaced).values()) == ["after the backup", "in the backup"]

    # Restoring what was replaced undoes the restore: its -wal is read with it.
    undone = widget("restore", str(replaced))
    assert undone.code == 0, undone.err
    assert sorted(stored_comments(database).values()) == ["after the backup", "in the backup"]


def test_a_restore_into_a_new_data_folder(tmp_path: Path, data_dir: Path, widget: Widget) -> None:
    backup = made_backup(tmp_path, widget)
    elsewhere = tmp_path / "new-machine" / "data"
    result = widget("restore", str(backup), data_dir=str(elsewhere))
    assert result.code == 0, result.err
    assert "kept as" not in result.out
    # (The secret is a new one: docs/deploying.md says to keep a copy of the old one.)
    assert sorted(path.name for path in elsewhere.iterdir()) == [
        "secret_key", "widget.db", "widget.db.lock",
    ]  # fmt: skip
    assert widget("site", "list").out.startswith("blog")


def test_an_older_backup_is_restored_and_migrated_on_start(
    tmp_path: Path, data_dir: Path, widget: Widget
) -> None:
    backup = made_backup(tmp_path, widget)
    conn = sqlite3.connect(backup)
    newest = conn.execute("SELECT max(number) FROM schema_migrations").fetchone()[0]
    # As a backup made before the last upgrade: the newest migration not yet applied.
    conn.execute("DELETE FROM schema_migrations WHERE number = ?", (newest,))
    conn.commit()
    conn.close()
    result = widget("restore", str(backup))
    assert result.code == 0, result.err
    assert f"from {newest - 1:04d} to {newest:04d} when it starts" in result.out


@pytest.mark.slow
def test_a_running_server_keeps_its_database_unless_forced_and_then_must_restart(
    tmp_path: Path, data_dir: Path, widget: Widget
) -> None:
    with widget_server(data_dir) as server:
        in_backup = server.post_comment("/p/", "in the backup").json()["comment"]["id"]
        backup = made_backup(tmp_path, widget)
        assert server.post_comment("/p/", "after the backup").status_code == 201
        before = identities(data_dir)

        refused = widget("restore", str(backup))
        assert refused.code == 1
        assert f"A widget server is using {data_dir / 'widget.db'}" in refused.err
        assert "stop it first" in refused.err and "--force" in refused.err
        assert identities(data_dir) == before
        assert server.post_comment("/p/", "still served").status_code == 201

        forced = widget("restore", "--force", str(backup))
        assert forced.code == 0, forced.err
        assert "it now refuses every request (503)" in forced.out
        assert "Restart it to serve the restored database." in forced.out
        response = server.post_comment("/p/", "after the restore")
        assert response.status_code == 503
        assert "try again" in response.json()["error"]
    with widget_server(data_dir) as restarted:
        assert served_ids(restarted, "/p/") == {in_backup}
    # What the old server had acknowledged is kept, as it saved it and as it was replaced.
    saved = list(data_dir.glob("widget.db.saved-*"))
    replaced = list(data_dir.glob("widget.db.replaced-*Z"))
    assert len(saved) == len(replaced) == 1
    for kept_file in (*saved, *replaced):
        assert sorted(stored_comments(kept_file).values()) == [
            "after the backup", "in the backup", "still served",
        ]  # fmt: skip


@pytest.mark.slow
def test_a_server_does_not_start_while_a_restore_replaces_its_database(data_dir: Path) -> None:
    with _held_as_restore_holds_it(data_dir / "widget.db.lock"):
        status, output, _ = serve_until_it_stops(data_dir, 20)
    assert status == 1, output
    assert f"widget restore is replacing {data_dir / 'widget.db'} right now" in output
    assert "serving on" not in output and "Traceback" not in output


@contextlib.contextmanager
def _held_as_restore_holds_it(lock: Path) -> Iterator[None]:
    """The server's lock taken exclusively by another process than the server (this one), as
    `widget restore` holds it while it swaps the files."""
    fd = os.open(lock, os.O_RDONLY | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# -- PostgreSQL -------------------------------------------------------------------------------


@pytest.mark.slow
def test_on_postgresql_it_names_the_commands_to_use_and_they_work(
    tmp_path: Path, widget: Widget, private_postgres: PrivateCluster
) -> None:
    url = private_postgres.new_database()
    assert widget("site", "add", "blog", "--origin", BLOG, database_url=url).code == 0
    said = widget("backup", str(tmp_path / "widget.dump"))
    assert said.code == 2
    assert url not in said.err  # the password is not printed
    dump, load = [line.strip() for line in said.err.splitlines() if line.startswith("  pg_")]
    shell = {**os.environ, "WIDGET_DATABASE_URL": url}

    def run(command: str) -> None:
        command = command.replace("FILE", shlex.quote(str(tmp_path / "widget.dump")))
        subprocess.run(command, shell=True, env=shell, check=True, capture_output=True)

    run(dump)
    assert widget("site", "add", "later", "--origin", "https://later.example").code == 0
    run(load)
    assert [line.split()[0] for line in widget("site", "list").out.splitlines()
            if not line.startswith(" ")] == ["blog"]  # fmt: skip
    put_back = widget("restore", str(tmp_path / "widget.dump"))
    assert put_back.code == 2 and "pg_restore --clean" in put_back.err


# -- help -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [("backup", "integrity_check"), ("backup", "--overwrite"), ("restore", "--force"),
     ("restore", "newer than this version's")],
)  # fmt: skip
def test_the_commands_explain_themselves(widget: Widget, command: str, expected: str) -> None:
    helped = widget(command, "--help")
    assert helped.code == 0
    assert expected in " ".join(helped.out.split())
