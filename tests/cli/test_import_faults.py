"""`widget import` stopped early: killed while it stages the file, or out of room to stage it.
Nothing is imported, the next import imports everything, and what the killed one left in the
temporary folder does not pile up."""

from __future__ import annotations

import signal
import sqlite3
import tempfile
import time
from pathlib import Path

import pytest

from tests.helpers import Widget
from tests.mounts import small_disk
from tests.porting.files import many_comments_file
from tests.servers import widget_cli_started
from widget.porting.staging_folder import staging_folder

pytestmark = pytest.mark.slow  # imports killed as processes; a disk of its own

COMMENTS = 3000


def comment_count(data_dir: Path) -> int:
    conn = sqlite3.connect(data_dir / "widget.db")
    try:
        count: int = conn.execute("SELECT count(*) FROM comments").fetchone()[0]
        return count
    finally:
        conn.close()


def test_what_killed_imports_left_is_removed_by_the_next_one(
    tmp_path: Path, widget: Widget, monkeypatch: pytest.MonkeyPatch
) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))  # for the imports in processes of their own
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))  # and for those in this one
    source = many_comments_file(tmp_path / "source.jsonl", COMMENTS)
    data_dir = tmp_path / "data"
    assert widget("site", "add", "blog", "--origin", "https://blog.example").code == 0
    for _ in range(3):  # each killed once it has staged part of the file
        before = set(temporary.glob("widget-import-*/staging.db"))
        with widget_cli_started(data_dir, "import", str(source), "--site", "blog") as command:
            deadline = time.monotonic() + 30
            while not set(temporary.glob("widget-import-*/staging.db")) - before:
                assert command.poll() is None and time.monotonic() < deadline
            command.send_signal(signal.SIGKILL)
            command.wait(timeout=10)
    # Each removed what the one before left (three folders of ~2x the file before).
    assert len(list(temporary.glob("widget-import-*"))) == 1
    assert comment_count(data_dir) == 0
    (temporary / "widget-import-by-someone-else").mkdir()  # no lock in it: not ours to judge
    with staging_folder() as running:  # an import still running keeps its folder
        imported = widget("import", str(source), "--site", "blog")
        assert imported.code == 0, imported.err
        assert f"Imported {COMMENTS:,} comments" in imported.out
        left = sorted(temporary.iterdir())
        assert left == sorted([running, temporary / "widget-import-by-someone-else"])
    assert comment_count(data_dir) == COMMENTS


def test_an_import_without_room_to_stage_says_where_and_imports_nothing(
    tmp_path: Path, widget: Widget, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = many_comments_file(tmp_path / "source.jsonl", COMMENTS)
    assert widget("site", "add", "blog", "--origin", "https://blog.example").code == 0
    disk = tmp_path / "small-tmp"
    with small_disk(disk, size_kb=1024):
        monkeypatch.setattr(tempfile, "tempdir", str(disk))
        refused = widget("import", str(source), "--site", "blog")
        assert refused.code == 1
        assert refused.err.endswith(
            f"widget: The disk holding {disk} is full: an import stages its file there first,"
            " which takes about twice the file's size. Free some space there, or set TMPDIR"
            " to a folder on a disk with room. Nothing was imported.\n"
        )  # a traceback of sqlite3.OperationalError before
        assert list(disk.iterdir()) == []
    assert comment_count(tmp_path / "data") == 0
