"""What a page view costs a reader, measured in Chromium: requests to the comment server and
bytes on the wire for everything the widget adds (the snippet, the frame, its files, avatars,
the per-viewer call), for a cold visit and a warm reload, then what a reader who stays on the
page adds (the live stream).

    .venv/bin/python bench/page_view.py [--comments 200] [--replies 60] [--authors 30]

It runs `widget serve` as shipped on a fresh data folder, fills one thread through the public
API, serves a blog post with the snippet from another site (blog.localhost), and loads it in
Chromium (/usr/bin/chromium) through a TCP relay that counts what crosses the network: each
request, and the bytes both ways. Figures go to stdout as JSON and to
bench/results/page_view.json.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
POST_PATH = "/a-post/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def widget_env(data_dir: Path, public: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
    env.update(
        WIDGET_DATA_DIR=str(data_dir),
        WIDGET_PUBLIC_URL=public,
        WIDGET_DEMO="false",
        WIDGET_POST_RATE_PER_MINUTE="1000000",
        WIDGET_LOG_LEVEL="warning",
    )
    return env


@contextlib.contextmanager
def widget_serving(data_dir: Path, port: int, blog_origin: str, public: str) -> Iterator[str]:
    env = widget_env(data_dir, public)
    widget = [sys.executable, "-m", "widget"]
    subprocess.run(
        [*widget, "site", "add", "blog", "--origin", blog_origin, "--set",
         "min_seconds_to_post=0"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    process = subprocess.Popen([*widget, "serve", "--port", str(port)], env=env, cwd=ROOT)
    local = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{local}/healthz").status_code == 200:
                    break
            time.sleep(0.1)
        yield local
    finally:
        process.terminate()
        process.wait(timeout=20)


def seed(local: str, public: str, blog: str, comments: int, replies: int, authors: int) -> None:
    """A thread as readers write one, through the public API (each answer brings the next
    form's token)."""
    rng = random.Random(2026)
    page = {"site": "blog", "page": POST_PATH, "url": blog + POST_PATH, "title": "A post"}
    frame = httpx.get(f"{local}/embed/blog/thread", params={k: v for k, v in page.items()
                                                            if k != "site"})  # fmt: skip
    token = frame.text.split('name="form_token" value="', 1)[1].split('"', 1)[0]
    ids: list[int] = []
    for n in range(comments):
        is_reply = n >= comments - replies or (ids and n % 4 == 3 and len(ids) > 5)
        parent = rng.choice(ids[-20:]) if is_reply and ids else None
        author = n % authors
        body = {**page, "body": f"Comment {n}: some words about the post, *nicely* put.",
                "name": f"Reader {author}", "email": f"reader{author}@example.com",
                "parent": parent, "form_token": token}  # fmt: skip
        answer = httpx.post(f"{local}/api/v1/comments", json=body, headers={"Origin": public})
        answer.raise_for_status()
        data = answer.json()
        token = data["form_token"]
        ids.append(data["comment"]["id"])


def read_once(local: str, blog: str) -> None:
    """Another reader has read the thread as it is: the reader measured is not the first
    after the last comment, as most are not (the first gets the document compressed
    quickly; the server then compresses it at brotli's best for everyone after)."""
    # The frame's URL as embed.js makes it: on the blog's white page it resolves the theme to
    # light (with "auto" here, the reader measured was the first of their URL after all).
    params = {"page": POST_PATH, "url": blog + POST_PATH, "title": "A post", "theme": "light",
              "lang": "en"}  # fmt: skip
    httpx.get(f"{local}/embed/blog/thread", params=params, headers={"Accept-Encoding": "br"})
    time.sleep(1)  # the best compression is made in the background


def serve_blog(port: int, public: str) -> http.server.ThreadingHTTPServer:
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A post</title>
</head><body><h1>A post</h1><p>Words.</p><div id="comments"></div>
<script src="{public}/embed.js" data-site="blog" data-page-id="{POST_PATH}" async></script>
</body></html>""".encode()

    class Blog(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Blog)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Wire:
    """A TCP relay in front of the comment server that sees what crosses the network: bytes
    each way (headers and bodies as sent, compressed or not) and each request's line. What the
    browser takes from its own cache never reaches it, exactly as on a real network."""

    REQUEST_LINE = re.compile(rb"(?:^|\r\n)(GET|HEAD|POST|PATCH|PUT|DELETE|OPTIONS) (\S+) HTTP/1")

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.sent = self.received = 0
        self.requests: list[str] = []
        self.request_bytes: list[int] = []  # both ways, by request
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream_port))
            # The connection's latest request, which the bytes crossing it are counted to (a
            # browser sends the next request on a connection after the last answer).
            latest: list[int] = [-1]
            for pair in ((client, server, True), (server, client, False)):
                threading.Thread(target=self._pump, args=(*pair, latest), daemon=True).start()

    def _pump(
        self, source: socket.socket, target: socket.socket, upstream: bool, latest: list[int]
    ) -> None:
        try:
            while data := source.recv(65536):
                with self.lock:
                    if upstream:
                        self.sent += len(data)
                        for match in self.REQUEST_LINE.finditer(data):
                            self.requests.append(f"{match[1].decode()} {match[2].decode()}")
                            self.request_bytes.append(0)
                            latest[0] = len(self.requests) - 1
                    else:
                        self.received += len(data)
                    if 0 <= latest[0] < len(self.request_bytes):
                        self.request_bytes[latest[0]] += len(data)
                target.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)

    def take(self) -> dict[str, Any]:
        with self.lock:
            taken = {
                "requests": len(self.requests),
                "bytes": self.sent + self.received,
                "bytes_down": self.received,
                "what": [request.split("?")[0] for request in self.requests],
                "bytes_each": self.request_bytes,
            }
            self.sent = self.received = 0
            self.requests = []
            self.request_bytes = []
        return taken


def measure(wire: Wire, blog_url: str) -> dict[str, Any]:
    def view(page: Page, load: Any) -> dict[str, Any]:
        load(wait_until="networkidle")
        page.frame_locator("#comments iframe").locator(".wg-comment").first.wait_for()
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(500)  # a last request (avatars below the fold) to arrive
        return wire.take()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1000, "height": 900})
        page = context.new_page()
        wire.take()
        cold = view(page, lambda **kw: page.goto(blog_url, **kw))
        warm = view(page, page.reload)
        # A reader who stays: the frame opens its live stream after a while in sight.
        page.wait_for_timeout(11_000)
        stay = wire.take()
        browser.close()
    return {"cold": cold, "warm": warm, "staying 11 s more": stay}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--comments", type=int, default=200)
    parser.add_argument("--replies", type=int, default=60)
    parser.add_argument("--authors", type=int, default=30)
    args = parser.parse_args()
    port, blog_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as folder:
        wire = Wire(port)
        public = f"http://comments.localhost:{wire.port}"  # browsers come through the relay
        blog = f"http://blog.localhost:{blog_port}"
        with widget_serving(Path(folder) / "data", port, blog, public) as local:
            seed(local, public, blog, args.comments, args.replies, args.authors)
            read_once(local, blog)
            server = serve_blog(blog_port, public)
            try:
                result = measure(wire, blog + POST_PATH)
            finally:
                server.shutdown()
    result["thread"] = vars(args)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "page_view.json").write_text(json.dumps(result, indent=2))
    summary = {k: {key: v[key] for key in ("requests", "bytes", "what", "bytes_each")}
               for k, v in result.items() if k != "thread"}  # fmt: skip
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
