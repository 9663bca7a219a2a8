"""Opening the SQLite file while another program holds it for a moment, as a server and
`widget site add` started together on a new data folder do: widget waits for it (up to
BUSY_TIMEOUT_MS), then says who to wait for."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from widget.errors import SetupError
from widget.storage import sqlite as sqlite_backend
from widget.storage.sqlite import SQLiteStorage


@pytest.fixture
def writing(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """Another program in a write transaction on a new file: what a process starting beside
    widget holds for a moment. SQLite answers a switch to WAL at once with "database is
    locked" then, busy_timeout or not."""
    other = sqlite3.connect(tmp_path / "widget.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    yield other
    other.close()


async def test_opening_a_file_another_program_is_writing_waits_until_it_is_done(
    tmp_path: Path, writing: sqlite3.Connection
) -> None:
    asyncio.get_running_loop().call_later(0.3, writing.execute, "COMMIT")
    storage = SQLiteStorage(tmp_path / "widget.db")
    await storage.open()
    try:
        assert writing.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert writing.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] > 0
    finally:
        await storage.close()


async def test_a_file_held_for_longer_than_widget_waits_names_the_holder(
    tmp_path: Path, writing: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_backend, "BUSY_TIMEOUT_MS", 200)
    with pytest.raises(SetupError) as refused:
        await SQLiteStorage(tmp_path / "widget.db").open()
    assert str(refused.value) == (
        f"{tmp_path / 'widget.db'} is locked by another program (database is locked): let it"
        " finish or stop it, then start widget again."
    )
