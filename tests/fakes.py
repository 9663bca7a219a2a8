"""Stand-ins for what cannot run here: Akismet's API, DNS answers."""

from __future__ import annotations

import http.server
import socket
import time
import urllib.parse
from typing import Any

from tests.servers import serve_in_thread


class AkismetServer:
    """comment-check as Akismet answers it: "true" (spam), "false" (ham), or "invalid" with a
    debug header for a wrong key. Texts with "[slow]" or "[broken]" make it hang or fail."""

    key = "akismet-test-key"

    def __init__(self) -> None:
        self.questions: list[dict[str, str]] = []
        handler = self._handler()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/1.1"
        self.close = serve_in_thread(self.server)

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        questions = self.questions
        key = self.key

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                questions.append(form)
                content = form.get("comment_content", "")
                headers = {"Content-Type": "text/plain; charset=utf-8"}
                if self.path != "/1.1/comment-check":
                    status, answer = 404, "not found"
                elif form.get("api_key") != key:
                    status, answer = 200, "invalid"
                    headers["X-akismet-debug-help"] = "Empty or invalid API key"
                elif "[broken]" in content:
                    status, answer = 500, "Internal Server Error"
                elif "[slow]" in content:
                    time.sleep(1.0)
                    status, answer = 200, "false"
                else:
                    status, answer = 200, "true" if "viagra" in content.lower() else "false"
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer.encode())

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


class FakeDNS:
    """Stands in for DNS: the test sets each name's answers, and each question is counted.
    `answer(name, first, then)` answers `first` once, then `then` from there on (a name
    rebound between two questions). Numeric forms (2130706433) resolve as the system would."""

    def __init__(self) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.asked: list[str] = []

    def answer(self, name: str, *answers: list[str]) -> None:
        self.answers[name] = list(answers)

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        answers = self.answers.get(host)
        if answers is None:
            infos = socket.getaddrinfo(host, port, flags=socket.AI_NUMERICHOST)
            return [str(info[4][0]) for info in infos]
        return answers.pop(0) if len(answers) > 1 else answers[0]
