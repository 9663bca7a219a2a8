"""Starting `widget serve`: a server that cannot run exits at once, non-zero, with a message
naming what to fix (so that a supervisor restarts it or alerts); servers starting together on
one new database or data folder all start."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.mounts import read_only
from tests.postgres_cluster import PrivateCluster
from tests.servers import (
    free_port,
    serve_until_it_stops,
    widget_cli,
    widget_cli_started,
    widget_server,
    widget_servers,
)

pytestmark = pytest.mark.slow

BLOG = "https://blog.example"
# "At once": a server that gives up takes well under a second; the margin is for a loaded
# machine. What fails is a server that stays up, serving nothing.
AT_ONCE_S = 20


def migrated(data_dir: Path) -> Path:
    """A data folder with a database and a secret, made while all was writable."""
    widget_cli(data_dir, "migrate")
    return data_dir / "widget.db"


def expect_exit(data_dir: Path, *messages: str, code: int = 1, **settings: str) -> str:
    status, output, _ = serve_until_it_stops(data_dir, AT_ONCE_S, **settings)
    assert status == code, output
    for message in messages:
        assert message in output, output
    assert "Traceback" not in output
    return output


def test_a_read_only_data_folder(tmp_path: Path) -> None:
    database = migrated(tmp_path / "data")
    with read_only(tmp_path / "data"):
        expect_exit(
            tmp_path / "data", f"cannot write to {database}", "writable by the user widget runs as"
        )


def test_a_read_only_data_folder_with_no_database_yet(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    with read_only(tmp_path / "data"):
        # Without a secret to keep: the secret is the first thing that needs the folder.
        expect_exit(
            tmp_path / "data",
            f"cannot keep a generated secret in {tmp_path / 'data' / 'secret_key'}",
            "or set WIDGET_SECRET_KEY",
            code=2,
        )
        expect_exit(
            tmp_path / "data", f"cannot write to {tmp_path / 'data' / 'widget.db'}",
            secret_key="set",
        )  # fmt: skip


def test_a_read_only_database_file(tmp_path: Path) -> None:
    database = migrated(tmp_path / "data")
    with read_only(database):
        expect_exit(tmp_path / "data", f"cannot write to {database}", "attempt to write")


def damage(database: Path) -> None:
    # Page 1 past the header: where SQLite keeps the tables' definitions.
    with database.open("r+b") as file:
        file.seek(100)
        file.write(b"\xff" * 3000)


@pytest.mark.parametrize(
    "spoil",
    [lambda db: db.write_bytes(b"not a database " * 400), damage],
    ids=["not a database", "damaged"],
)
def test_a_file_that_is_not_a_sound_database(tmp_path: Path, spoil: Callable[[Path], None]) -> None:
    database = migrated(tmp_path / "data")
    spoil(database)
    expect_exit(
        tmp_path / "data", f"{database} is not a widget database, or it is damaged",
        "Restore it from a backup",
    )  # fmt: skip


def test_a_database_from_a_newer_version(tmp_path: Path, private_postgres: PrivateCluster) -> None:
    database = migrated(tmp_path / "data")
    conn = sqlite3.connect(database)
    conn.execute("INSERT INTO schema_migrations VALUES (9999, 'from_the_future', 0)")
    conn.commit()
    conn.close()
    expect_exit(
        tmp_path / "data", f"{database} has been upgraded by a newer version of widget",
        "migration 9999",
    )  # fmt: skip
    url = private_postgres.new_database()
    widget_cli(tmp_path / "data", "migrate", database_url=url)
    private_postgres.execute(
        url, "INSERT INTO schema_migrations VALUES (9999, 'from_the_future', now())"
    )
    expect_exit(
        tmp_path / "data", "has been upgraded by a newer version of widget", "migration 9999",
        database_url=url,
    )  # fmt: skip


def test_postgres_unreachable_or_refusing_the_login(
    tmp_path: Path, private_postgres: PrivateCluster
) -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/widget"
    expect_exit(
        tmp_path / "data", "cannot reach PostgreSQL database 'widget' at 127.0.0.1:",
        "check that PostgreSQL is running", database_url=nowhere,
    )  # fmt: skip
    wrong_password = private_postgres.url(password="not-the-password")
    output = expect_exit(
        tmp_path / "data", "refused the login", "password authentication failed",
        "check the user name and password", database_url=wrong_password,
    )  # fmt: skip
    assert "not-the-password" not in output
    expect_exit(
        tmp_path / "data", "PostgreSQL database 'no_such_database'", "createdb",
        database_url=private_postgres.url("no_such_database"),
    )  # fmt: skip


def test_postgres_taking_no_more_connections(
    tmp_path: Path, private_postgres: PrivateCluster
) -> None:
    """max_connections reached (here, as the same refusal comes, a user's CONNECTION LIMIT):
    PostgreSQL is running and reachable, so 'check that PostgreSQL is running' was the
    wrong advice."""
    url = private_postgres.new_database()
    widget_cli(tmp_path / "data", "migrate", database_url=url)
    user = f"limited_{free_port()}"
    private_postgres.execute(url, f"CREATE ROLE {user} LOGIN PASSWORD 'pw' CONNECTION LIMIT 0")
    expect_exit(
        tmp_path / "data", f"(user {user}) takes no more connections (too many connections",
        "raise max_connections (or the user's CONNECTION LIMIT), or make"
        " WIDGET_DATABASE_POOL_MAX smaller; then start again.",
        database_url=private_postgres.url(url.rsplit("/", 1)[1], user=user, password="pw"),
    )  # fmt: skip


def test_postgres_cancelling_statements_at_once(
    tmp_path: Path, private_postgres: PrivateCluster
) -> None:
    """A statement_timeout too short for the start's statements: it is not that PostgreSQL
    cannot be reached ('check that PostgreSQL is running' was the advice)."""
    url = private_postgres.new_database()
    name = url.rsplit("/", 1)[1]
    private_postgres.execute(url, f'ALTER DATABASE "{name}" SET statement_timeout = 1')
    expect_exit(
        tmp_path / "data", f"PostgreSQL database '{name}'", "cancelled a statement widget runs"
        " at start (canceling statement due to statement timeout): a statement_timeout set for"
        " the database or its user is too short for it.", database_url=url,
    )  # fmt: skip


def test_a_port_in_use(tmp_path: Path) -> None:
    with widget_server(tmp_path / "first") as first:
        status, output, _ = serve_until_it_stops(
            tmp_path / "second", AT_ONCE_S, "--port", str(first.port)
        )
    assert status == 1
    assert f"port {first.port} on 127.0.0.1 is already in use" in output
    assert "--port" in output


# -- starting together ------------------------------------------------------------------------


# Races are won by chance: each test starts its processes together several times.
ATTEMPTS = 4


def test_instances_starting_together_on_a_new_postgres_database(
    tmp_path: Path, private_postgres: PrivateCluster
) -> None:
    for attempt in range(ATTEMPTS):
        url = private_postgres.new_database()
        # Both on one new data folder too: the secret they generate must be one.
        shared = tmp_path / f"attempt-{attempt}" / "data"
        shared.parent.mkdir()
        together = time.time() + 3  # after both have imported widget
        with widget_servers(
            [shared, shared], start_at=together, database_url=url, demo="true"
        ) as servers:
            widget_cli(shared, "site", "add", "blog", "--origin", BLOG,
                       "--set", "min_seconds_to_post=0", database_url=url)  # fmt: skip
            for server in servers:  # both started (else widget_servers says why)
                demo = httpx.get(f"{server.local_url}/embed/demo/thread", params={"page": "/post/"})
                assert demo.status_code == 200
                # Signed with the secret in the folder: each instance uses that one.
                assert server.post_comment("/p/", f"through {server.port}").status_code == 201


def test_a_server_and_commands_starting_together_on_a_new_data_folder(tmp_path: Path) -> None:
    for attempt in range(ATTEMPTS):
        data_dir = tmp_path / f"attempt-{attempt}" / "data"
        data_dir.parent.mkdir()
        together = time.time() + 3  # after all have imported widget
        with (
            widget_cli_started(data_dir, "site", "add", "blog", "--origin", BLOG,
                               "--set", "min_seconds_to_post=0", start_at=together) as site_add,
            widget_cli_started(data_dir, "migrate", start_at=together) as migrate,
            widget_servers([data_dir], start_at=together) as (server,),
        ):  # fmt: skip
            for command in (site_add, migrate):
                output, errors = command.communicate(timeout=60)
                assert command.returncode == 0, output + errors
            # Signed with the secret in the folder: the server uses that one.
            assert server.post_comment("/p/", "hello").status_code == 201


def test_an_empty_secret_file_is_never_used_as_the_secret(tmp_path: Path) -> None:
    # What a process starting beside another used to read: the file created, not yet written.
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "secret_key").write_text("")
    expect_exit(data_dir, f"{data_dir / 'secret_key'} is empty", code=2)


@pytest.mark.parametrize(("operators", "runs_with"), [(None, b"2"), ("4", b"4")])
def test_the_server_tunes_malloc_unless_the_operator_did(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, operators: str | None, runs_with: bytes
) -> None:
    """glibc's malloc arenas, one a thread, hold memory apart, and its moving threshold for
    blocks of their own keeps big freed blocks in the heap (see serving.MALLOC_SETTINGS):
    `widget serve` runs itself again with both set, in the same process, keeping what the
    operator set."""
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    if operators is None:
        monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    else:
        monkeypatch.setenv("MALLOC_ARENA_MAX", operators)
    with widget_server(tmp_path / "data") as server:
        assert httpx.get(f"{server.local_url}/healthz").status_code == 200
        environ = Path(f"/proc/{server.process.pid}/environ").read_bytes().split(b"\0")
        assert b"MALLOC_ARENA_MAX=" + runs_with in environ
        assert b"MALLOC_MMAP_THRESHOLD_=131072" in environ
