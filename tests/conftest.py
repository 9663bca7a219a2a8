"""Fixtures: a real app per test on its own SQLite file, and an httpx client talking ASGI to it."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from tests.helpers import (
    BLOG,
    CHEAP_PASSWORDS,
    PUBLIC_URL,
    QUICK,
    Ran,
    Widget,
    make_settings,
    postgres_schema,
    running_app,
)
from tests.mail import Inbox, mail_settings, start_smtp
from tests.postgres_cluster import PrivateCluster
from widget.app import create_app
from widget.cli import main
from widget.config import Settings
from widget.sites import add_site
from widget.storage import Storage, storage_for_url

POSTGRES_URL = os.environ.get("WIDGET_TEST_POSTGRES_URL", "")
# Every test that takes `database_url` runs on each backend: SQLite always, PostgreSQL when
# WIDGET_TEST_POSTGRES_URL names a server (scripts/test sets it when one answers; CI always).
BACKENDS = ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]


# Where the tests' files go (tmp_path) unless --basetemp says: a folder in memory, where the
# system has one. Each test writes a database with synchronous=FULL, and every fsync to a disk
# costs system CPU time and a wait (the fast tests: 29-32 s of CPU on disk, 24-25 s here, in
# one interleaved run); in memory it returns at once. What the tests check stays the same: a
# killed process loses nothing either way (the kernel keeps what was written), and the tests
# of full disks and read-only folders make their own mounts.
# A whole run keeps its files until it ends (some 100 MB for the fast tests, more for all of
# them), and a container's /dev/shm may be as small as 64 MB: only with room to spare.
IN_MEMORY = Path("/dev/shm")
IN_MEMORY_FREE_BYTES = 2 * 1024**3


def _room_in_memory() -> bool:
    if not (IN_MEMORY.is_dir() and os.access(IN_MEMORY, os.W_OK)):
        return False
    disk = os.statvfs(IN_MEMORY)
    return disk.f_bavail * disk.f_frsize >= IN_MEMORY_FREE_BYTES


def pytest_configure(config: pytest.Config) -> None:
    if config.option.basetemp is None and _room_in_memory():
        tempfile.tempdir = str(IN_MEMORY)  # pytest keeps its numbered folders under it
    # The properties of tests/http/test_fuzz.py try 20 examples each in the quick loop
    # (scripts/check) and 60 in the full run (scripts/test: --hypothesis-profile=thorough):
    # the same checks, with fewer random inputs while working (1.7 s of the fast tests' CPU
    # at 60). Examples that once failed are tried first either way (.hypothesis/).
    from hypothesis import settings

    settings.register_profile("quick", max_examples=20)
    settings.register_profile("thorough", max_examples=60)
    settings.load_profile("quick")  # hypothesis loads the one on the command line after this


def pytest_collection_finish(session: pytest.Session) -> None:
    # What is loaded by now (modules, classes, functions: some 150,000 objects) lives as long
    # as the process: out of the garbage collector's sight, each full collection the tests set
    # off has that much less to go through (1.6 s of the fast tests' CPU in all, 0.9 s after).
    gc.freeze()
    # The tests make and drop objects by the million (requests, rows, pages), few of them in
    # cycles: at Python's thresholds (700, 10, 10) the collector ran ~1,400 times during the
    # fast tests, eleven of them through everything alive; at these, ~130 times and once, for
    # the same garbage found (its time in the collector 1.7 -> 1.2 s, one run each). A test
    # process only: the server keeps Python's own.
    gc.set_threshold(50_000, 20, 100)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database with every migration applied, made once: each test starts
    from a copy, not from the dozen fsynced transactions of the migrations (most of a test's
    setup time). Tests of the migrations themselves make their own files."""
    path = tmp_path_factory.mktemp("template") / "widget.db"

    async def migrate() -> None:
        backend = storage_for_url(f"sqlite:///{path}")
        await backend.open()
        await backend.close()  # checkpointed: the file alone holds everything

    asyncio.run(migrate())
    return path


@pytest.fixture(params=BACKENDS)
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_sqlite: Path
) -> AsyncIterator[str]:
    """A fresh database of its own, migrated and empty: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        path = tmp_path / "data" / "widget.db"
        path.parent.mkdir()
        shutil.copyfile(migrated_sqlite, path)
        yield f"sqlite:///{path}"
        return
    async with postgres_schema(POSTGRES_URL) as url:
        yield url


@pytest.fixture
async def storage(database_url: str) -> AsyncIterator[Storage]:
    """The storage tests' database, opened, with the site "blog" ("The blog", at BLOG)."""
    backend = storage_for_url(database_url)
    await backend.open()
    await backend.add_site("blog", "The blog", [BLOG], {})
    yield backend
    await backend.close()


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivateCluster]:
    """A PostgreSQL server of the tests' own, made on first use: restart or stop it at will,
    and leave it running."""
    cluster = PrivateCluster()
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path / "data", database_url=database_url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    # Tests post the moment a page is open; the default wait is tested on its own.
    async with running_app(settings) as app:
        yield app


ClientFactory = Callable[..., httpx.AsyncClient]


@contextlib.asynccontextmanager
async def clients_of(app: Starlette) -> AsyncIterator[ClientFactory]:
    """Clients of `app` as seen from a given IP address, closed afterwards."""
    clients: list[httpx.AsyncClient] = []

    def make(ip: str = "203.0.113.7") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        client = httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL)
        clients.append(client)
        return client

    try:
        yield make
    finally:
        for client in clients:
            await client.aclose()


@pytest.fixture
async def client_from(app: Starlette) -> AsyncIterator[ClientFactory]:
    """Clients as seen from a given IP address: client_from("2001:db8::1")."""
    async with clients_of(app) as make:
        yield make


@pytest.fixture
def client(client_from: ClientFactory) -> httpx.AsyncClient:
    return client_from()


# Mail: a real SMTP server per test, and an app that sends to it.


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    controller, inbox = start_smtp()
    yield controller.port, inbox
    controller.stop()


@pytest.fixture
def inbox(smtp: tuple[int, Inbox]) -> Inbox:
    return smtp[1]


@pytest.fixture
async def mail_app(
    tmp_path: Path, database_url: str, smtp: tuple[int, Inbox]
) -> AsyncIterator[Starlette]:
    app = create_app(mail_settings(tmp_path, database_url, smtp[0]))
    async with app.router.lifespan_context(app):
        await add_site(app.state.widget.storage, "blog", [BLOG], "The blog", QUICK)
        yield app


@pytest.fixture
async def mail_client_from(mail_app: Starlette) -> AsyncIterator[ClientFactory]:
    """Visitors of the app that sends mail, each from the IP address given."""
    async with clients_of(mail_app) as make:
        yield make


@pytest.fixture
async def mail_client(mail_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A visitor (at 203.0.113.7) of the app that sends mail."""
    transport = httpx.ASGITransport(app=mail_app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
        yield client


# The command line, run in this process: `main(argv)` is what the `widget` script calls.


@pytest.fixture
def widget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Widget:
    """`widget ARGS` as a shell would run it on the data folder tmp_path/data, in this process:
    settings as keywords (`database_url=...`, kept for the commands after), what is piped in as
    `stdin=`. From a test that runs an app, call it in a thread (`asyncio.to_thread`): the
    command runs an event loop of its own."""
    for name in [name for name in os.environ if name.startswith("WIDGET_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("WIDGET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WIDGET_DEMO", "false")
    for name, value in CHEAP_PASSWORDS.items():
        monkeypatch.setenv(f"WIDGET_{name.upper()}", str(value))

    def run(*args: str, stdin: str = "", **settings: str) -> Ran:
        for name, value in settings.items():
            monkeypatch.setenv(f"WIDGET_{name.upper()}", value)
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))  # a pipe: not a terminal
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse: --help, or arguments it cannot parse
            code = exit_.code if isinstance(exit_.code, int) else 1
        printed = capsys.readouterr()
        return Ran(code, printed.out, printed.err)

    return run
