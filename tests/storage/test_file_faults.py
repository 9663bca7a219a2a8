"""The SQLite file deleted, moved or replaced under a running server (or its -wal or -shm):
the server notices before acknowledging anything more, refuses with a 503 and says so in its
log, and every comment it did acknowledge is there after a restart."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.helpers import stored_comments
from tests.servers import WidgetServer, widget_cli, widget_server

pytestmark = pytest.mark.slow

BLOG = "https://blog.example"


def new_site(data_dir: Path) -> None:
    widget_cli(data_dir, "site", "add", "blog", "--origin", BLOG, "--set", "min_seconds_to_post=0")


def acknowledge_comments(server: WidgetServer, count: int) -> dict[int, str]:
    """Post `count` comments; their ids and bodies, every one answered 201."""
    acknowledged = {}
    for n in range(count):
        response = server.post_comment("/p/", f"comment {n} before")
        assert response.status_code == 201, response.text
        acknowledged[response.json()["comment"]["id"]] = f"comment {n} before"
    return acknowledged


def refused_until_restart(server: WidgetServer) -> None:
    """What a writer and a reader see once the file is gone: 503s, with Retry-After."""
    response = server.post_comment("/p/", "after")
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert "try again" in response.json()["error"]
    fragment = server_get(server, "/embed/blog/thread/fragment?page=/p/")
    assert fragment.status_code == 503
    assert server_get(server, "/readyz").status_code == 503
    assert server_get(server, "/healthz").status_code == 200  # alive, not ready


def server_get(server: WidgetServer, path: str) -> httpx.Response:
    return httpx.get(f"{server.local_url}{path}", timeout=10)


def delete_wal(data_dir: Path) -> None:
    (data_dir / "widget.db-wal").unlink()


def delete_shm(data_dir: Path) -> None:
    (data_dir / "widget.db-shm").unlink()


def delete_database(data_dir: Path) -> None:
    (data_dir / "widget.db").unlink()


def move_folder_away(data_dir: Path) -> None:
    shutil.move(data_dir, data_dir.with_name("moved-away"))
    data_dir.mkdir()
    # The secret the restarted server needs to verify form tokens stays where it was.
    shutil.copy(data_dir.with_name("moved-away") / "secret_key", data_dir / "secret_key")


@pytest.mark.parametrize(
    "lose", [delete_database, delete_wal, delete_shm, move_folder_away], ids=lambda f: f.__name__
)
def test_files_lost_under_the_server_fail_closed_and_lose_nothing(
    tmp_path: Path, lose: Callable[[Path], None]
) -> None:
    data_dir = tmp_path / "data"
    new_site(data_dir)
    with widget_server(data_dir) as server:
        acknowledged = acknowledge_comments(server, 20)
        lose(data_dir)
        refused_until_restart(server)
        assert "while widget had it open" in server.output()
        server.kill()  # no shutdown that could tidy up: what is on disk is what counts
    with widget_server(data_dir) as restarted:
        fragment = server_get(restarted, "/embed/blog/thread/fragment?page=/p/").text
        assert all(body in fragment for body in acknowledged.values())
        assert restarted.post_comment("/p/", "after the restart").status_code == 201
    stored = stored_comments(data_dir / "widget.db")
    assert {cid: stored.get(cid) for cid in acknowledged} == acknowledged


def test_a_database_replaced_under_the_server_is_kept_beside_the_new_one(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    new_site(data_dir)
    with widget_server(data_dir) as server:
        acknowledged = acknowledge_comments(server, 20)
        # Another database put in its place (an older copy, say), in one step: a rename and
        # then a new file would leave a moment with nothing at the path, which the server may
        # notice first and rightly call "deleted or moved away". The file it had stays
        # reachable as moved.db.
        other = sqlite3.connect(tmp_path / "other.db")
        other.execute("CREATE TABLE something_else (x)")
        other.close()
        os.link(data_dir / "widget.db", tmp_path / "moved.db")
        os.replace(tmp_path / "other.db", data_dir / "widget.db")
        refused_until_restart(server)
        log = server.output()
        server.kill()
    assert "has been replaced by another file" in log
    saved = list(data_dir.glob("widget.db.saved-*"))
    assert len(saved) == 1, log
    assert str(saved[0]) in log  # the log says where it went
    # Both the file moved away and the copy beside the new one hold every comment.
    for database in (tmp_path / "moved.db", saved[0]):
        stored = stored_comments(database)
        assert {cid: stored.get(cid) for cid in acknowledged} == acknowledged
    # The file put there is left as it was.
    other = sqlite3.connect(data_dir / "widget.db")
    tables = {row[0] for row in other.execute("SELECT name FROM sqlite_master")}
    other.close()
    assert tables == {"something_else"}
