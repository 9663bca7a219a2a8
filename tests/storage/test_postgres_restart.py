"""PostgreSQL restarting under a running server (a private cluster, restarted for real): every
request gets an answer or a 503 with Retry-After, never a 500; live readers are told to
reload once the server listens again, and then hear what comes next."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx
import pytest

from tests.postgres_cluster import PrivateCluster
from tests.servers import EventStream, WidgetServer, widget_cli, widget_server

pytestmark = pytest.mark.slow

BLOG = "https://blog.example"


class Traffic:
    """Writers and readers hitting the server from threads, as fast as they can, until
    stopped; what they got."""

    def __init__(self, server: WidgetServer) -> None:
        self.server = server
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.unavailable_without_retry_after = 0
        self._stop = threading.Event()
        self._threads = [
            *(threading.Thread(target=self._write, args=(n,)) for n in range(2)),
            *(threading.Thread(target=self._read) for _ in range(3)),
        ]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _write(self, worker: int) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            self._note("post", partial(self.server.post_comment, "/p/", f"worker {worker}, {n}"))

    def _read(self) -> None:
        with httpx.Client(base_url=self.server.local_url) as client:
            while not self._stop.is_set():
                self._note("read", partial(client.get, "/embed/blog/thread/fragment?page=/p/"))

    def _note(self, kind: str, request: Callable[[], httpx.Response]) -> None:
        try:
            response = request()
        except httpx.TransportError:  # a connection cut: no answer at all
            self.statuses[(kind, 0)] += 1
            return
        self.statuses[(kind, response.status_code)] += 1
        if response.status_code == 503 and not response.headers.get("retry-after"):
            self.unavailable_without_retry_after += 1


def test_a_restart_gives_503s_not_500s_and_readers_reload(
    tmp_path: Path, private_postgres: PrivateCluster
) -> None:
    url = private_postgres.new_database()
    data_dir = tmp_path / "data"
    widget_cli(data_dir, "site", "add", "blog", "--origin", BLOG,
               "--set", "min_seconds_to_post=0", database_url=url)  # fmt: skip
    with widget_server(data_dir, database_url=url) as server:
        reader = EventStream(server.local_url, "blog", "/p/")
        try:
            reader.wait_for("hello", 5.0)
            with Traffic(server) as traffic:
                time.sleep(1.0)
                private_postgres.restart()
                time.sleep(3.0)  # and a while after, as the pool and the listener reconnect
            answered = {status for _, status in traffic.statuses}
            assert answered <= {200, 201, 503}, traffic.statuses
            assert traffic.unavailable_without_retry_after == 0
            # Comments were committed while the listener was down; the reader is told to
            # reload, and then hears about the next one on the same stream.
            reader.wait_for("reset", 15.0)
            created = server.post_comment("/p/", "after the restart")
            assert created.status_code == 201
            created_id = created.json()["comment"]["id"]
            while reader.wait_for("comment", 5.0)["comment"] != created_id:
                pass
        finally:
            reader.close()


def test_while_postgres_is_down_the_server_is_alive_but_not_ready(
    tmp_path: Path, private_postgres: PrivateCluster
) -> None:
    url = private_postgres.new_database()
    data_dir = tmp_path / "data"
    widget_cli(data_dir, "site", "add", "blog", "--origin", BLOG, database_url=url)
    with widget_server(data_dir, database_url=url, live_readers_per_thread="1") as server:
        private_postgres.stop()
        try:
            ready = httpx.get(f"{server.local_url}/readyz")
            assert ready.status_code == 503
            assert int(ready.headers["retry-after"]) > 0
            posted = server.post_comment("/p/", "while it is down")
            assert posted.status_code == 503
            assert "try again" in posted.json()["error"]
            assert int(posted.headers["retry-after"]) > 0
            for _ in range(2):  # a live reader refused now does not keep its place
                follow = httpx.get(
                    f"{server.local_url}/api/v1/events", params={"site": "blog", "page": "/p/"}
                )
                assert follow.status_code == 503
                assert "database" in follow.json()["error"]
            assert httpx.get(f"{server.local_url}/healthz").status_code == 200
        finally:
            private_postgres.start()
        deadline = time.monotonic() + 20
        while httpx.get(f"{server.local_url}/readyz").status_code != 200:
            assert time.monotonic() < deadline, "never ready again"
            time.sleep(0.2)
        reader = EventStream(server.local_url, "blog", "/p/")
        try:
            assert reader.status_code == 200
            reader.wait_for("hello", 5.0)
        finally:
            reader.close()
