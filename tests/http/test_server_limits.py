"""Limits that live in the server process: a real `widget serve`, real sockets, real clients.

Slow inputs must not stall other readers; heads too large or too slow, bodies too slow and more
connections than the process can hold are all answered (431, 408, 503) or closed, never left
to pile up."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.servers import EventStream, WidgetServer, raw_live_stream, widget_cli, widget_server

pytestmark = pytest.mark.slow

BLOG = "https://blog.example"


def add_blog(data_dir: Path) -> None:
    widget_cli(data_dir, "site", "add", "blog", "--origin", BLOG, "--set", "min_seconds_to_post=0")


def post_json(
    server: WidgetServer, body: str, n: int, client: httpx.Client | None = None
) -> httpx.Response:
    comment = {
        "site": "blog", "page": "/p/", "url": f"{BLOG}/p/", "body": body, "name": "Ann",
        "email": f"ann{n}@example.com", "form_token": server.form_token("blog", "/p/"),
    }  # fmt: skip
    return (client or httpx).post(
        f"{server.local_url}/api/v1/comments", json=comment,
        headers={"Origin": server.public_url}, timeout=60,
    )  # fmt: skip


class HealthProbe:
    """Asks /healthz every 10 ms on one kept-alive connection, over a bare socket (so that the
    time measured is the server's, not this test's HTTP client's), noting each answer's time."""

    REQUEST = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"

    def __init__(self, server: WidgetServer) -> None:
        self._sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        self._stop = threading.Event()
        self.timings: list[tuple[float, float]] = []  # (when, seconds taken)
        self._thread = threading.Thread(target=self._probe, daemon=True)

    def _probe(self) -> None:
        while not self._stop.is_set():
            sent = time.monotonic()
            self._sock.sendall(self.REQUEST)
            answer = b""
            while not (answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"}")):
                chunk = self._sock.recv(4096)
                assert chunk, "the server closed the connection"
                answer += chunk
            self.timings.append((sent, time.monotonic() - sent))
            time.sleep(0.01)

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()

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
    with (
        widget_server(data_dir) as server,
        httpx.Client() as client,
        ThreadPoolExecutor(10) as pool,
        HealthProbe(server) as probe,
    ):
        time.sleep(0.5)  # a few probes before, for the record
        started = time.monotonic()
        answers = list(pool.map(lambda n: post_json(server, body, n, client), range(10)))
        ended = time.monotonic()
    for answer in answers:
        # Accepted, or refused as too complex to display: either way, said in words.
        assert answer.status_code in {201, 422}, answer.text
        if answer.status_code == 422:
            assert "too complex" in answer.json()["error"]
    # On a machine shared with other work, this test and the server are now and then not
    # scheduled for 50 to 200 ms, posts or not (measured: the server's own event loop woke that
    # late while idle). So the bound is on nine answers in ten, not on every one; a server that
    # renders on its event loop answers few, each after 300 ms or more.
    probes = probe.during(started, ended)
    ninth_decile = probes[len(probes) // 10]
    assert ninth_decile < 0.05, (
        f"one /healthz in ten took {ninth_decile * 1000:.0f} ms or more while the posts were"
        f" rendered ({len(probes)} answers, the slowest in {probes[0] * 1000:.0f} ms)"
    )
    assert len(probes) >= 20, f"only {len(probes)} answers in {ended - started:.1f} s"


# -- the head and the body ------------------------------------------------------------------------


def exchange(server: WidgetServer, *parts: bytes, timeout_s: float = 15) -> tuple[float, bytes]:
    """Send `parts` on a new connection (stopping if the server cuts in), then read until the
    server closes it: (seconds from connecting to the close, what it answered)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout_s) as sock:
        with contextlib.suppress(OSError):  # the server may answer, and close, mid-way
            for part in parts:
                sock.sendall(part)
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                answer += chunk
    return time.monotonic() - started, answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer else 0


def peak_memory_mb(server: WidgetServer) -> float:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert match
    return int(match.group(1)) / 1024


def request_head(*headers: bytes, target: bytes = b"/healthz") -> bytes:
    return b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n" + b"".join(h + b"\r\n" for h in headers)


def test_request_heads_over_the_limits_are_answered_431_and_cut_off(tmp_path: Path) -> None:
    with widget_server(tmp_path / "data") as server:
        memory_before = peak_memory_mb(server)
        # A 64 MB header, sent as fast as the server reads: cut off after the first 32 KB.
        seconds, answer = exchange(
            server, request_head(b"X-Big: "), *[b"a" * 65536 for _ in range(1024)]
        )
        assert status_of(answer) == 431
        assert seconds < 5
        assert answer.endswith(b"at most 100 fields and 32,768 bytes in all.")
        assert b"connection: close" in answer
        assert peak_memory_mb(server) - memory_before < 30
        too_many = request_head(*(b"X-%d: 1" % n for n in range(101))) + b"\r\n"
        long_url = request_head(target=b"/healthz?" + b"a" * 40_000) + b"\r\n"
        for head in (too_many, long_url):
            assert status_of(exchange(server, head)[1]) == 431
        # Up to the limits, all is well: 100 fields, 32,000 bytes.
        fine = request_head(
            *(b"X-%d: %s" % (n, b"a" * 300) for n in range(98)), b"Connection: close"
        )
        assert len(fine) < 32_000
        assert status_of(exchange(server, fine + b"\r\n")[1]) == 200
        assert "Refused a request whose head was too large" in server.output()


def test_slow_heads_get_a_408_and_silent_connections_are_closed(tmp_path: Path) -> None:
    with widget_server(tmp_path / "data", header_timeout_s="1") as server:
        seconds, answer = exchange(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        assert status_of(answer) == 408
        assert answer.endswith(b"The request's headers took too long to arrive.")
        assert 0.9 < seconds < 10
        seconds, answer = exchange(server)  # connects, and says nothing
        assert answer == b""
        assert 0.9 < seconds < 10
        # Kept alive after a request, the next head has the same time, from then.
        kept = request_head() + b"\r\n"
        seconds, answer = exchange(server, kept, b"GET /healthz HTTP/1.1\r\n")
        assert answer.startswith(b"HTTP/1.1 200 OK") and b"HTTP/1.1 408 " in answer


def test_slow_bodies_get_a_408_and_nothing_fails_in_the_log(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    add_blog(data_dir)
    with widget_server(data_dir, body_timeout_s="1") as server:
        head = (
            b"POST /api/v1/comments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Origin: " + server.public_url.encode() + b"\r\nContent-Length: 1000\r\n\r\n"
        )
        seconds, answer = exchange(server, head, b'{"body": "a trickle')
        assert status_of(answer) == 408
        assert answer.endswith(b"The request's body took too long to arrive.")
        assert 0.9 < seconds < 10
        # Answered before its body came (no Origin: 403), and the rest never comes: closed,
        # with that one answer.
        seconds, answer = exchange(server, head.replace(b"Origin", b"X-Not-Origin"), b"{")
        assert answer.count(b"HTTP/1.1 ") == 1 and status_of(answer) == 403
        assert 0.9 < seconds < 10
        assert post_json(server, "Posted at once", 1).status_code == 201
    log = server.output()
    assert "Closed a connection whose request body came too slowly" in log
    assert "Traceback" not in log and "Exception in ASGI application" not in log


def test_live_streams_outlast_the_timeouts(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    add_blog(data_dir)
    with widget_server(data_dir, header_timeout_s="1", body_timeout_s="1") as server:
        stream = EventStream(server.local_url, "blog", "/p/")
        try:
            assert stream.status_code == 200
            stream.wait_for("hello", 5)
            time.sleep(3)  # three times as long as either timeout
            assert post_json(server, "Still listening?", 1).status_code == 201
            assert stream.wait_for("comment", 10)["count"] == 1
        finally:
            stream.close()


# -- open files -----------------------------------------------------------------------------------


def healthz(server: WidgetServer) -> httpx.Response:
    return httpx.get(f"{server.local_url}/healthz", timeout=10)


def test_connections_and_live_readers_stay_under_the_open_file_limit(tmp_path: Path) -> None:
    """With 256 open files allowed (512 at most), a thousand idle connections, then as many
    live readers and slow requests as will come: every request gets an answer, a 503 with
    Retry-After when there is no room, and each refusal is logged."""
    data_dir = tmp_path / "data"
    add_blog(data_dir)
    # All from one address: no bound per address here, only the open files'.
    settings = {
        "header_timeout_s": "60",
        "body_timeout_s": "60",
        "live_readers_per_network": "100000",
        "connections_per_address": "100000",
    }
    with (
        widget_server(data_dir, open_files=(256, 512), **settings) as server,
        contextlib.ExitStack() as held,
    ):
        # Idle connections (a browser's spares, or an attack): the oldest make room.
        idle = [
            held.enter_context(socket.create_connection(("127.0.0.1", server.port)))
            for _ in range(1000)
        ]
        assert [healthz(server).status_code for _ in range(20)] == [200] * 20
        assert "closed the longest idle one" in server.output()
        for sock in idle:
            sock.close()
        said = re.search(
            r"open files: +512 \(raised from 256\): room for ([\d,]+) connections, ([\d,]+) of"
            r" them live readers",
            server.output(),
        )
        assert said, server.output()
        connections, live_readers = (int(n.replace(",", "")) for n in said.groups())
        assert 0 < live_readers < connections < 512
        # Live readers, up to their share; the pages still load when it is taken.
        answers = []
        for _ in range(live_readers + 10):
            sock, answer = raw_live_stream(server)
            held.callback(sock.close)
            answers.append(answer)
        statuses = [answer.split(b"\r\n", 1)[0] for answer in answers]
        assert statuses.count(b"HTTP/1.1 200 OK") == live_readers
        assert statuses[-1] == b"HTTP/1.1 503 Service Unavailable"
        assert b"\r\nretry-after: 30\r\n" in answers[-1]
        assert healthz(server).status_code == 200
        # Requests that hold their connection (a body that never comes), until there is no room.
        slow = b"POST /api/v1/comments HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"
        for _ in range(connections):
            sock = socket.create_connection(("127.0.0.1", server.port))
            held.callback(sock.close)
            sock.sendall(slow)
        refused = healthz(server)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "5"
        assert "too many open connections" in refused.text
        assert "Answered 503" in server.output()
        held.close()  # every reader and slow client goes: room again
        deadline = time.monotonic() + 10
        while healthz(server).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)


def from_address(server: WidgetServer, address: str) -> socket.socket:
    """A connection to the server from `address` (any 127.x.y.z reaches it here)."""
    sock = socket.socket()
    sock.settimeout(10)
    sock.bind((address, 0))
    sock.connect(("127.0.0.1", server.port))
    return sock


def test_one_address_cannot_hold_every_connection(tmp_path: Path) -> None:
    """One client holding request bodies open (1,700 in 0.15 s) took every connection under
    2,048 open files, and every other reader got 503 for as long as it went on. Now an address
    holds `connections_per_address` (256); past that it is answered 503 at once, and other
    addresses are served."""
    data_dir = tmp_path / "data"
    add_blog(data_dir)
    with (
        widget_server(data_dir, open_files=(256, 512)) as server,
        contextlib.ExitStack() as held,
    ):
        said = re.search(r"room for ([\d,]+) connections", server.output())
        assert said, server.output()
        room = int(said.group(1).replace(",", ""))
        assert room > 256  # the bound, not the open files, is what stops the client
        slow = b"POST /api/v1/comments HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"
        for _ in range(256):
            sock = from_address(server, "127.0.0.3")
            held.callback(sock.close)
            sock.sendall(slow)
        with from_address(server, "127.0.0.3") as one_more:
            answer = b""
            while chunk := one_more.recv(4096):  # answered and closed without asking
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 503 ")
        assert b"\r\nretry-after: 5\r\n" in answer
        assert answer.endswith(
            b"Too many connections are open from your address; close some, then try again"
            b" in a few seconds."
        )
        assert "256 connections open from one address" in server.output()
        # Other readers are served meanwhile; fewer connections than the room, as before.
        with from_address(server, "127.0.0.4") as reader:
            reader.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert reader.recv(4096).startswith(b"HTTP/1.1 200 ")
        held.close()  # the client lets go: its address is served again
        for _ in range(50):
            with from_address(server, "127.0.0.3") as again:
                again.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if again.recv(4096).startswith(b"HTTP/1.1 200 "):
                    break
            time.sleep(0.05)
        else:
            pytest.fail("the address's closed connections were never given back")
