"""Real servers for the tests that need them: widget under uvicorn in its own process, and a
host page ("the blog") on another port, so that the browser sees two different sites."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import queue
import resource
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import LOOPBACK

__all__ = [
    "EventStream",
    "HostPages",
    "WidgetServer",
    "free_port",
    "host_pages",
    "raw_live_stream",
    "serve_in_thread",
    "serve_until_it_stops",
    "widget_cli",
    "widget_cli_started",
    "widget_server",
    "widget_servers",
]


# How often a server's thread looks whether it is asked to stop: shutdown() waits for that look.
# At socketserver's default of 0.5 s, each test with a server of its own (feeds, webhooks,
# Akismet, a provider) waited up to half a second on its way out: some 20 s of the fast
# tests' 50 s of waiting.
STOP_POLL_S = 0.02


def serve_in_thread(server: socketserver.BaseServer) -> Callable[[], None]:
    """Serve in a daemon thread; the function returned stops the server, closes its socket
    and waits for the thread."""
    thread = threading.Thread(target=server.serve_forever, args=(STOP_POLL_S,), daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    return stop


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class WidgetServer:
    def __init__(self, process: subprocess.Popen[bytes], port: int, data_dir: Path) -> None:
        self.process = process
        self.port = port
        self.data_dir = data_dir
        # Browsers reach it by name; Python reaches it by address (it does not resolve *.localhost).
        self.public_url = f"http://comments.localhost:{port}"
        self.local_url = f"http://127.0.0.1:{port}"
        self.secret = ""
        self.log_path = data_dir.parent / f"widget-{port}.log"

    def form_token(self, site: str, page: str) -> str:
        """What the comment form of `page` carries, signed with this server's secret."""
        from tests.helpers import form_token

        secret = self.secret or (self.data_dir / "secret_key").read_text().strip()
        return form_token(site, page, secret)

    def post_comment(self, page: str, body: str) -> httpx.Response:
        """A guest's comment on the site "blog", as its form would send it."""
        comment = {"site": "blog", "page": page, "body": body, "name": "Ann",
                   "email": "a@example.com", "form_token": self.form_token("blog", page)}  # fmt: skip
        return httpx.post(
            f"{self.local_url}/api/v1/comments", json=comment, headers={"Origin": self.public_url}
        )

    def output(self) -> str:
        """What the server has printed and logged so far."""
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def _wait_until_serving(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(f"{self.local_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"widget did not start:\n{self.output()}")
            time.sleep(0.1)

    def _stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def widget_cli(data_dir: Path, *args: str, stdin: str = "", **settings: str) -> str:
    """Run `widget ARGS` on the data folder (and settings) of a running or future server."""
    with widget_cli_started(data_dir, *args, start_at=None, **settings) as command:
        output, errors = command.communicate(stdin, timeout=60)
    if command.returncode:
        raise subprocess.CalledProcessError(command.returncode, args, output, errors)
    return output


@contextlib.contextmanager
def widget_cli_started(
    data_dir: Path, *args: str, start_at: float | None = None, **settings: str
) -> Iterator[subprocess.Popen[str]]:
    """`widget ARGS` started and not waited for (to race it against something else); killed
    if still running afterwards, its pipes closed (a failed test left both to whichever test
    ran next, which failed on the ResourceWarnings)."""
    extra = {f"WIDGET_{name.upper()}": value for name, value in settings.items()}
    with subprocess.Popen(
        _widget_command(args, start_at),
        env=_widget_env(data_dir, "http://comments.localhost:8000", extra),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as command:  # fmt: skip
        try:
            yield command
        finally:
            command.kill()  # a no-op once it has exited


# Processes meant to start together import widget first, then wait for one moment to run its
# command line: what they do at start then overlaps, as on a machine that boots them at once.
_LAUNCH_AT = (
    "import sys, time, uvicorn, widget.app, widget.cli;"
    " time.sleep(max(0.0, float(sys.argv[1]) - time.time()));"
    " sys.exit(widget.cli.main(sys.argv[2:]))"
)


def _widget_command(args: Sequence[str], start_at: float | None) -> list[str]:
    if start_at is None:
        return [sys.executable, "-m", "widget", *args]
    return [sys.executable, "-c", _LAUNCH_AT, str(start_at), *args]


def _widget_env(data_dir: Path, public_url: str, extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
    env.update(
        WIDGET_DATA_DIR=str(data_dir),
        WIDGET_PUBLIC_URL=public_url,
        WIDGET_DEMO="false",
        WIDGET_POST_RATE_PER_MINUTE="100000",
        WIDGET_LOG_LEVEL="warning",
        WIDGET_OUTBOUND_PRIVATE_NETWORKS=LOOPBACK,  # the tests' providers listen there
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def widget_server(
    data_dir: Path, open_files: tuple[int, int] | None = None, **settings: str
) -> Iterator[WidgetServer]:
    """`widget serve` in a child process on a free port, stopped (or killed) afterwards.
    `open_files` sets its (soft, hard) limit of open files, for tests of running out."""
    with widget_servers([data_dir], None, open_files, **settings) as servers:
        yield servers[0]


@contextlib.contextmanager
def widget_servers(
    data_dirs: Sequence[Path], start_at: float | None = None,
    open_files: tuple[int, int] | None = None, **settings: str,
) -> Iterator[list[WidgetServer]]:  # fmt: skip
    """One `widget serve` per data folder (a folder may come twice), each on a free port;
    stopped (or killed) afterwards. With `start_at` (a time.time()), all begin at that moment,
    for what races at start."""
    servers: list[WidgetServer] = []
    try:
        for data_dir in data_dirs:
            servers.append(_start_server(data_dir, settings, start_at, open_files))
        for server in servers:
            server._wait_until_serving(30)
        yield servers
    finally:
        for server in servers:
            server._stop()


def _start_server(
    data_dir: Path, settings: Mapping[str, str], start_at: float | None,
    open_files: tuple[int, int] | None,
) -> WidgetServer:  # fmt: skip
    port = free_port()
    extra = {f"WIDGET_{name.upper()}": value for name, value in settings.items()}
    env = _widget_env(data_dir, f"http://comments.localhost:{port}", extra)
    with open(data_dir.parent / f"widget-{port}.log", "wb") as log:
        process = subprocess.Popen(
            _widget_command(["serve", "--port", str(port)], start_at),
            env=env, stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=(lambda: resource.setrlimit(resource.RLIMIT_NOFILE, open_files))
            if open_files else None,
        )  # fmt: skip
    server = WidgetServer(process, port, data_dir)
    server.secret = settings.get("secret_key", "")
    return server


def serve_until_it_stops(
    data_dir: Path, timeout_s: float, *args: str, **settings: str
) -> tuple[int, str, float]:
    """`widget serve ARGS`, expected to give up by itself: (exit code, what it printed,
    seconds it took). Raises TimeoutError (after killing it) if it is still running."""
    extra = {f"WIDGET_{name.upper()}": value for name, value in settings.items()}
    env = _widget_env(data_dir, "http://comments.localhost:8000", extra)
    started = time.monotonic()
    try:
        result = subprocess.run(
            _widget_command(["serve", *args], None),
            env=env, capture_output=True, text=True, timeout=timeout_s,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise TimeoutError(f"widget serve still running after {timeout_s} s: {exc.output}") from exc
    return result.returncode, result.stdout + result.stderr, time.monotonic() - started


class HostPages:
    """A blog on another site: pages set by the test, served from a thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://blog.localhost:{port}"
        self.origin = self.url
        self.pages: dict[str, str] = {}


@contextlib.contextmanager
def host_pages() -> Iterator[HostPages]:
    port = free_port()
    host = HostPages(port)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = host.pages.get(self.path.split("?")[0])
            if body is None:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    stop = serve_in_thread(http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler))
    try:
        yield host
    finally:
        stop()


class EventStream:
    """A reader of `/api/v1/events`, on a thread of its own: `wait_for("comment", 1.0)`."""

    def __init__(self, base_url: str, site: str, page: str) -> None:
        self.events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self._client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(5, read=None))
        self._response = self._client.send(
            self._client.build_request(
                "GET", "/api/v1/events", params={"site": site, "page": page}
            ),
            stream=True,
        )
        self.status_code = self._response.status_code
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        kind = ""
        try:
            for line in self._response.iter_lines():
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    self.events.put((kind, json.loads(line.removeprefix("data: "))))
        except (httpx.HTTPError, httpx.StreamError):
            pass  # closed: by the test, or by the server

    def wait_for(self, kind: str, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {kind!r} event within {timeout_s} s")
            try:
                got, data = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if got == kind:
                return data

    def close(self) -> None:
        self._response.close()
        self._client.close()


def raw_live_stream(
    server: WidgetServer, page: str = "/p/", forwarded_for: str = ""
) -> tuple[socket.socket, bytes]:
    """A live-update stream of the site "blog" opened as a script would, on a raw socket: the
    socket, and the answer's head (with the body's first bytes)."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    forwarded = f"X-Forwarded-For: {forwarded_for}\r\n" if forwarded_for else ""
    sock.sendall(
        f"GET /api/v1/events?site=blog&page={page} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}"
        f"\r\n{forwarded}\r\n".encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        if not chunk:
            break
        answer += chunk
    return sock, answer
