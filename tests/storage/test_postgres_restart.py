"""PostgreSQL restarting under a running server (a private cluster, restarted for real): every
request gets an answer or a 503 with Retry-After, never a 500; live readers are told to
reload once the server listens again, and then hear what comes next."""

from __future__ import annotations

import concurrent.futures
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
from widget.storage.postgres import CONNECT_TIMEOUT_S, QUERY_TIMEOUT_S

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


def test_a_database_that_stops_answering_gets_503s_in_bounded_time_then_serves_again(
    tmp_path: Path, private_postgres: PrivateCluster
) -> None:
    """A hung server (every PostgreSQL process stopped: no answer, no reset): each request,
    on a connection of the pool or a new one, is answered 503 with Retry-After within the
    query and connect timeouts, instead of waiting as long as the server stays silent."""
    url = private_postgres.new_database()
    data_dir = tmp_path / "data"
    widget_cli(data_dir, "site", "add", "blog", "--origin", BLOG,
               "--set", "min_seconds_to_post=0", database_url=url)  # fmt: skip
    with widget_server(data_dir, database_url=url) as server:
        assert server.post_comment("/p/", "before").status_code == 201
        fragment = f"{server.local_url}/embed/blog/thread/fragment?page=/p/"
        assert httpx.get(fragment).status_code == 200  # the pool's connections are open
        bound_s = QUERY_TIMEOUT_S + CONNECT_TIMEOUT_S + 5

        def timed(request: Callable[[], httpx.Response]) -> tuple[int, str | None, float]:
            started = time.monotonic()
            response = request()
            return (
                response.status_code,
                response.headers.get("retry-after"),
                (time.monotonic() - started),
            )

        post = partial(
            httpx.post, f"{server.local_url}/api/v1/comments", timeout=bound_s,
            json={"site": "blog", "page": "/p/", "body": "while it hangs", "name": "Ann",
                  "email": "a@example.com", "form_token": server.form_token("blog", "/p/")},
            headers={"Origin": server.public_url},
        )  # fmt: skip
        # (The fragment may come from memory meanwhile: this instance still hears every
        # change. Readiness asks the database.)
        ready = partial(httpx.get, f"{server.local_url}/readyz", timeout=bound_s)
        private_postgres.freeze()
        try:
            with concurrent.futures.ThreadPoolExecutor(6) as pool:
                answers = list(pool.map(timed, [post, ready, post, ready, post, ready]))
        finally:
            private_postgres.thaw()
        assert {(status, bool(retry_after)) for status, retry_after, _ in answers} == {
            (503, True)
        }, answers  # before: each waited as long as the server was frozen (a client timeout)
        deadline = time.monotonic() + 20
        while httpx.get(f"{server.local_url}/readyz").status_code != 200:
            assert time.monotonic() < deadline, "never ready again"
            time.sleep(0.2)
        after = server.post_comment("/p/", "after it answers again")
        assert after.status_code == 201
        assert "after it answers again" in httpx.get(fragment).text
