"""Commands writing a SQLite database on a disk that fills up (`widget import`, `widget
copy-data`): the operator is told which disk is full and that nothing was saved, never a
reader's "try again in a minute" or a traceback; with room again, the same command works."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.helpers import Widget
from tests.mounts import fill, small_disk
from tests.porting.files import many_comments_file
from tests.servers import widget_cli_started

pytestmark = pytest.mark.slow  # a disk of its own (a mount)

COMMENTS = 3000  # some 3 MB in a database: more than the disk has left


def comment_count(database: Path) -> int:
    conn = sqlite3.connect(database)
    try:
        count: int = conn.execute("SELECT count(*) FROM comments").fetchone()[0]
        return count
    finally:
        conn.close()


def refused_for_lack_of_room(widget: Widget, database: Path, *args: str) -> None:
    refused = widget(*args)
    assert refused.code == 1
    assert refused.err.endswith(
        f"widget: The disk holding {database} is full (database or disk is full): free some"
        " space there. Nothing was saved.\n"
    )  # 'The comments database could not save this; … try again in a minute.' before


def test_an_import_into_a_full_disk_names_it_and_works_once_there_is_room(
    tmp_path: Path, widget: Widget
) -> None:
    source = many_comments_file(tmp_path / "source.jsonl", COMMENTS)
    disk = tmp_path / "disk"
    with small_disk(disk, size_kb=16 * 1024):
        database = disk / "data" / "widget.db"
        added = widget("site", "add", "blog", "--origin", "https://blog.example",
                       data_dir=str(disk / "data"))  # fmt: skip
        assert added.code == 0
        filler = disk / "filler"
        fill(filler, room_left_bytes=1024 * 1024)
        refused_for_lack_of_room(widget, database, "import", str(source), "--site", "blog")
        assert comment_count(database) == 0
        filler.unlink()  # the operator frees some space
        imported = widget("import", str(source), "--site", "blog")
        assert imported.code == 0, imported.err
        assert comment_count(database) == COMMENTS


def test_a_copy_to_a_full_disk_names_it_and_works_once_there_is_room(
    tmp_path: Path, widget: Widget
) -> None:
    source = many_comments_file(tmp_path / "source.jsonl", COMMENTS)
    assert widget("site", "add", "blog", "--origin", "https://blog.example").code == 0
    assert widget("import", str(source), "--site", "blog").code == 0
    disk = tmp_path / "disk"
    with small_disk(disk, size_kb=16 * 1024):
        target = disk / "copy.db"
        filler = disk / "filler"
        fill(filler, room_left_bytes=1024 * 1024)
        # As an operator runs it, in a process of its own: what it prints on its way out too.
        with widget_cli_started(
            tmp_path / "data", "copy-data", "--to", f"sqlite:///{target}"
        ) as command:
            _, errors = command.communicate(timeout=60)
        assert command.returncode == 1
        assert errors.endswith(
            f"widget: The disk holding {target} is full (database or disk is full): free some"
            " space there. Nothing was saved.\n"
        )
        assert "Traceback" not in errors  # the dump, left to the garbage collector, before
        filler.unlink()
        copied = widget("copy-data", "--to", f"sqlite:///{target}")
        assert copied.code == 0, copied.err
        assert comment_count(target) == COMMENTS
