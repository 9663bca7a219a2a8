"""Limits that live in the server process: a real `widget serve`, real sockets, real clients.

Slow inputs must not stall other readers; heads too large or too slow, bodies too slow and more
connections than the process can hold are all answered (431, 408, 503) or closed, never left
to pile up."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.servers import WidgetServer, widget_cli, widget_server

pytestmark = pytest.mark.slow

BLOG = "https://blog.example"


def add_blog(data_dir: Path) -> None:
    widget_cli(data_dir, "site", "add", "blog", "--origin", BLOG, "--set", "min_seconds_to_post=0")


def post_json(server: WidgetServer, body: str, n: int) -> httpx.Response:
    comment = {
        "site": "blog", "page": "/p/", "url": f"{BLOG}/p/", "body": body, "name": "Ann",
        "email": f"ann{n}@example.com", "form_token": server.form_token("blog", "/p/"),
    }  # fmt: skip
    return httpx.post(
        f"{server.local_url}/api/v1/comments", json=comment,
        headers={"Origin": server.public_url}, timeout=60,
    )  # fmt: skip


class HealthProbe:
    """Asks /healthz again and again on one kept-alive connection. Each probe is three requests
    back to back, and counts the quickest: a server that stalls delays all three, while a
    loaded machine that is slow to schedule this test's own thread delays one now and then."""

    def __init__(self, server: WidgetServer) -> None:
        self._client = httpx.Client(base_url=server.local_url, timeout=30)
        self._stop = threading.Event()
        self.timings: list[tuple[float, float]] = []  # (when, seconds taken)
        self._thread = threading.Thread(target=self._probe, daemon=True)

    def _probe(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            quickest = 3600.0
            for _ in range(3):
                sent = time.monotonic()
                assert self._client.get("/healthz").status_code == 200
                quickest = min(quickest, time.monotonic() - sent)
            self.timings.append((started, quickest))
            time.sleep(0.01)

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._client.close()

    def during(self, start: float, end: float) -> list[float]:
        """The probes that overlapped the time from `start` to `end`, slowest first."""
        taken = [
            seconds for when, seconds in self.timings if when <= end and when + seconds >= start
        ]
        return sorted(taken, reverse=True)


@pytest.mark.parametrize("shape", ["[", "!["])
def test_healthz_answers_at_once_while_slow_markdown_is_posted(tmp_path: Path, shape: str) -> None:
    """Ten posts of thousands of "[" (or "![") cost markdown-it about a second of CPU each;
    meanwhile every other request is answered as fast as ever."""
    data_dir = tmp_path / "data"
    add_blog(data_dir)
    body = shape * (9_000 // len(shape))
    with widget_server(data_dir) as server, HealthProbe(server) as probe:
        time.sleep(0.5)  # a few probes before, for the record
        started = time.monotonic()
        with ThreadPoolExecutor(10) as pool:
            answers = list(pool.map(lambda n: post_json(server, body, n), range(10)))
        ended = time.monotonic()
    for answer in answers:
        # Accepted, or refused as too complex to display: either way, said in words.
        assert answer.status_code in {201, 422}, answer.text
        if answer.status_code == 422:
            assert "too complex" in answer.json()["error"]
    probes = probe.during(started, ended)
    assert probes[0] < 0.05, (
        f"/healthz took {probes[0] * 1000:.0f} ms while the posts were rendered"
    )
    assert len(probes) >= 10, "the posts were over before /healthz was asked enough to tell"
