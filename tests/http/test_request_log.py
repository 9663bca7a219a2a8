"""The request log: one line per request with its id (also sent as `X-Request-Id`), and no
token or email address in any line the server writes, whatever the request or the mail server
says. The whole log of a real `widget serve` is read, after every emailed link has been opened
and a delivery to a known address has failed."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.helpers import BLOG, EMBED, PAGE, PUBLIC_URL, Widget, make_settings, post_comment
from tests.mail import Inbox, body_of
from tests.servers import WidgetServer, free_port, widget_cli, widget_server
from widget.app import create_app

REQUEST_ID = re.compile(r"[0-9a-f]{16}\Z")


def request_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "widget.requests"]


# -- through the app ------------------------------------------------------------------------------


async def test_every_answer_carries_its_own_request_id_and_one_log_line(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="widget.requests"):
        answers = [
            await client.get("/embed/blog/thread/fragment", params=EMBED),
            await post_comment(client),
            await post_comment(client, email="a@x.example,root"),
            await client.get("/no/such/page"),
            await client.get("/data", params={"token": "not-a-token"}),
        ]
        etag = answers[0].headers["etag"]
        answers.append(
            await client.get(
                "/embed/blog/thread/fragment", params=EMBED, headers={"If-None-Match": etag}
            )
        )
    assert [a.status_code for a in answers] == [200, 201, 422, 404, 400, 200]
    ids = [a.headers["x-request-id"] for a in answers]
    assert all(REQUEST_ID.match(i) for i in ids)
    assert len(set(ids)) == len(ids)
    lines = {r.request_id: r.getMessage() for r in request_records(caplog)}  # type: ignore[attr-defined]
    assert len(request_records(caplog)) == len(answers)
    assert re.fullmatch(r"GET /embed/blog/thread/fragment\?page=%2Fhello%2F&url=\[redacted\]"
                        r"&title=\[redacted\] 200 [\d.]+ms", lines[ids[0]])  # fmt: skip
    assert lines[ids[1]].startswith("POST /api/v1/comments 201 ")
    assert lines[ids[2]].startswith("POST /api/v1/comments 422 ")
    assert lines[ids[3]].startswith("GET /no/such/page 404 ")
    assert lines[ids[4]].startswith("GET /data?token=[redacted] 400 ")


async def test_scripts_and_style_sheets_that_arrive_carry_no_request_id(
    app: Starlette, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Nobody sees a header on a script that arrived, and a page view fetches two: the log
    line is all there is of them. One that did not arrive is a page, with its id to quote."""
    with caplog.at_level(logging.INFO, logger="widget.requests"):
        script = await client.get(app.state.widget.assets.url("thread.js"))
        embed = await client.get("/embed.js")
        missing = await client.get("/static/nothing.0123456789ab.js")
    assert [a.status_code for a in (script, embed, missing)] == [200, 200, 404]
    assert "x-request-id" not in script.headers and "x-request-id" not in embed.headers
    assert REQUEST_ID.match(missing.headers["x-request-id"])
    assert len(request_records(caplog)) == 3


async def test_a_request_id_is_taken_from_a_trusted_proxy_only(
    tmp_path: Path, database_url: str
) -> None:
    proxies = (ipaddress.ip_network("10.0.0.0/8"),)
    settings = make_settings(tmp_path, database_url=database_url, trusted_proxies=proxies)
    app = create_app(settings)
    async with app.router.lifespan_context(app):

        async def request_id(peer: str, sent: str) -> str:
            transport = httpx.ASGITransport(app=app, client=(peer, 5000))
            async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
                answer = await client.get("/healthz", headers={"X-Request-Id": sent})
            return answer.headers["x-request-id"]

        assert await request_id("10.1.2.3", "edge-4f2a.9") == "edge-4f2a.9"
        assert REQUEST_ID.match(await request_id("203.0.113.7", "edge-4f2a.9"))
        assert REQUEST_ID.match(await request_id("10.1.2.3", "two words\r\nX: y"))
        assert REQUEST_ID.match(await request_id("10.1.2.3", "x" * 65))


async def test_an_unexpected_error_tells_the_person_the_id_to_quote(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from widget.views.request_log import RequestLog

    async def broken(request: Request) -> Response:
        raise RuntimeError(f"lost {request.query_params['token']} for ann@example.com")

    app = Starlette(routes=[Route("/broken", broken)], middleware=[Middleware(RequestLog)])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    with caplog.at_level(logging.INFO, logger="widget.requests"):
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            answer = await client.get("/broken", params={"token": "abc.def"})
    assert answer.status_code == 500
    request_id = answer.headers["x-request-id"]
    assert f"tell the site's owner this request id: {request_id}" in answer.text
    (record,) = request_records(caplog)
    assert record.getMessage().startswith("GET /broken?token=[redacted] 500 ")


# -- a real server's whole log ---------------------------------------------------------------------

BOUNCE = "bounce@example.com"
GIVEN_UP = "not sent, and never will be"  # the outbox's line for a recipient refused for good
ADDRESSES = ("ann@example.com", "bob@example.com", BOUNCE, "mods@example.com")


class PickyInbox(Inbox):
    """A mail server that refuses one recipient, naming it, as real ones do."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address == BOUNCE:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def picky_smtp() -> Iterator[tuple[int, PickyInbox]]:
    inbox = PickyInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, inbox
    controller.stop()


def wait_for_mail(inbox: Inbox, to: str, subject: str, timeout_s: float = 20.0) -> str:
    """The text of the first mail to `to` whose subject starts with `subject`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for message in inbox.messages:
            if message["To"] == to and str(message["Subject"]).startswith(subject):
                return body_of(message)
        time.sleep(0.05)
    raise AssertionError(f"no mail {subject!r} to {to}: {[m['Subject'] for m in inbox.messages]}")


def links(server: WidgetServer, text: str, path: str) -> list[str]:
    """The links in a mail to `path`, as paths on the server's local address."""
    found = re.findall(rf"{re.escape(server.public_url + path)}\?token=[\w.\-]+", text)
    assert found, text
    return [link.removeprefix(server.public_url) for link in found]


class Visitor:
    """Requests to the server, each answer's request id kept."""

    def __init__(self, server: WidgetServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.local_url, timeout=10)
        self.request_ids: list[str] = []

    def __enter__(self) -> Visitor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.http.close()

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        answer = self.http.request(method, path, **kwargs)
        self.request_ids.append(answer.headers["x-request-id"])
        return answer

    def comment(self, email: str, name: str = "Ann", **fields: Any) -> httpx.Response:
        body = {**PAGE, "body": f"{name} writes {len(self.request_ids)}", "name": name,
                "email": email, "form_token": self.server.form_token("blog", PAGE["page"]),
                **fields}  # fmt: skip
        answer = self.send("POST", "/api/v1/comments", json=body,
                           headers={"Origin": self.server.public_url})  # fmt: skip
        assert answer.status_code == 201, answer.text
        return answer


def request_lines(log: str, log_format: str) -> dict[str, list[str]]:
    """Request id -> the request lines that name it."""
    found: dict[str, list[str]] = {}
    for line in log.splitlines():
        if log_format == "json":
            entry = json.loads(line)  # every line is one JSON object
            if entry["logger"] == "widget.requests":
                assert {"method", "path", "status", "duration_ms"} <= set(entry)
                found.setdefault(entry["request_id"], []).append(line)
        elif " widget.requests: " in line:
            match = re.search(r" id=(\S+)$", line)
            assert match, line
            found.setdefault(match.group(1), []).append(line)
    return found


@pytest.mark.slow
@pytest.mark.parametrize(("log_format", "log_level"), [("text", "debug"), ("json", "info")])
def test_the_servers_log_holds_no_token_and_no_address(
    tmp_path: Path, database_url: str, picky_smtp: tuple[int, PickyInbox], log_format: str,
    log_level: str,
) -> None:  # fmt: skip
    port, inbox = picky_smtp
    data_dir = tmp_path / "data"
    widget_cli(data_dir, "site", "add", "blog", "--origin", BLOG, "--set", "min_seconds_to_post=0",
               "--set", "notify_emails=mods@example.com", database_url=database_url)  # fmt: skip
    settings = {"database_url": database_url, "smtp_host": "127.0.0.1", "smtp_port": str(port),
                "smtp_security": "none", "log_level": log_level, "log_format": log_format}  # fmt: skip
    tokens: list[str] = []
    with widget_server(data_dir, open_files=None, **settings) as server, Visitor(server) as visitor:
        origin = {"Origin": server.public_url}
        visitor.comment("ann@example.com", notify=True)
        visitor.comment(BOUNCE, name="Bounce", notify=True)  # its confirmation is refused
        asked = visitor.send("POST", "/embed/blog/data-request", headers=origin,
                             data={**EMBED, "email": "ann@example.com"})  # fmt: skip
        assert asked.status_code == 303

        confirm = links(
            server, wait_for_mail(inbox, "ann@example.com", "Confirm"), "/notify/confirm"
        )
        moderate = links(
            server, wait_for_mail(inbox, "mods@example.com", "[blog]"), "/notify/moderate"
        )
        own_data = links(server, wait_for_mail(inbox, "ann@example.com", "Your comments"), "/data")
        for link in [*confirm, *moderate, *own_data]:
            assert visitor.send("GET", link).status_code == 200, link
        token = confirm[0].split("token=")[1]
        confirmed = visitor.send("POST", "/notify/confirm", headers=origin,
                                 data={"token": token, "scope": "thread"})  # fmt: skip
        assert "Confirmed" in confirmed.text
        own_token = own_data[0].split("token=")[1]
        assert visitor.send("GET", "/data/export", params={"token": own_token}).status_code == 200

        visitor.comment("bob@example.com", name="Bob")  # ann follows the thread now
        follow_up = wait_for_mail(inbox, "ann@example.com", "New comment")
        (unsubscribe,) = links(server, follow_up, "/notify/unsubscribe")
        assert visitor.send("GET", unsubscribe).status_code == 200
        one_click = visitor.send("POST", unsubscribe, content=b"List-Unsubscribe=One-Click",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert one_click.status_code == 200
        # Addresses and tokens where nothing expects them.
        assert visitor.send("GET", "/ann@example.com/x").status_code == 404
        assert visitor.send("GET", "/api/v1/counts", params={
            "site": "blog", "page": "/ann@example.com/", "email": "ann@example.com",
            "next": token}).status_code == 200  # fmt: skip
        tokens += [link.split("token=")[1] for link in [*confirm, *moderate, *own_data]]
        tokens.append(unsubscribe.split("token=")[1])
        log_path = data_dir.parent / f"widget-{server.port}.log"
        deadline = time.monotonic() + 20
        while GIVEN_UP not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    log = log_path.read_text()

    for token in tokens:
        # Nor any part of one: the data link's payload is the address, in base64.
        assert not [part for part in token.split(".") if len(part) >= 8 and part in log], token
    unnamed = log.replace("://postgres@", "://")  # the test database's user, not a person
    assert re.findall(r"[\w.+-]+(?:@|%40)[\w-]+\.[\w.-]+", unnamed, re.IGNORECASE) == []
    assert not any(address.split("@")[0] + "%40" in log for address in ADDRESSES)
    # The refused delivery is logged (given up: a 5xx refuses the address for good), without
    # the address the mail server named.
    given_up = [line for line in log.splitlines() if GIVEN_UP in line]
    assert len(given_up) == 1
    assert "550 5.1.1 <[address]>: Recipient address rejected" in given_up[0]
    # One line per request, found by the id its answer carried; uvicorn's access log is gone.
    by_id = request_lines(log, log_format)
    assert all(len(lines) == 1 for lines in by_id.values())
    assert set(visitor.request_ids) <= set(by_id)
    assert 'HTTP/1.1" 200' not in log
    confirm_line = by_id[visitor.request_ids[3]][0]
    assert "GET /notify/confirm?token=[redacted]" in confirm_line
    assert "/[redacted]/x" in by_id[visitor.request_ids[-2]][0]


# -- what libraries and exceptions say ----------------------------------------------------------


def test_lines_from_elsewhere_lose_tokens_and_addresses_on_the_way_out(tmp_path: Path) -> None:
    """The last guard: an exception's message or a library's line that names a link, a signed
    token or an address is written without them, in both formats, traceback included."""
    token = "eyJlIjoiYW5uQGV4YW1wbGUuY29tIn0.aw1kXg.OXWSg2wTpTMM8wY_Z0wGQSEEWac"
    for log_format in ("text", "json"):
        log_file = tmp_path / f"{log_format}.log"
        script = (
            "import logging, sys\n"
            "from widget.config import load_settings\n"
            "from widget.logs import configure_logging\n"
            f"configure_logging(load_settings(log_format={log_format!r}))\n"
            "try:\n"
            f"    raise ValueError('GET https://c.example/data?token={token}&x=1 for ann@example.com')\n"
            "except ValueError:\n"
            "    logging.getLogger('some.library').exception('failed: %s', 'bob%40example.com')\n"
            "logging.getLogger('httpx').info('HTTP Request: GET https://c.example/?code=abc')\n"
            # Redacting takes time in proportion to a line, whatever a client put in it (a
            # backtracking pattern took minutes over these): the process ends well within 60 s.
            "for text in ('a' * 200_000 + '@', 'a%40' * 50_000, '@a' * 100_000):\n"
            "    logging.getLogger('some.library').warning(text)\n"
        )
        with log_file.open("wb") as out:
            subprocess.run([sys.executable, "-c", script], stderr=out, check=True, timeout=60,
                           env={**os.environ, "WIDGET_DATA_DIR": str(tmp_path / "data")})  # fmt: skip
        log = log_file.read_text()
        assert "ValueError: GET https://c.example/data?token=[redacted]&x=1 for [address]" in (
            log if log_format == "text" else json.loads(log.splitlines()[0])["exception"]
        )
        assert "failed: [address]" in log
        assert token.split(".")[2] not in log and "example.com" not in log.replace("c.example", "")
        assert "code=abc" not in log  # httpx's lines below warnings are not written at all


def test_settings_and_the_start_banner_hide_the_database_password(widget: Widget) -> None:
    shown = widget("settings", database_url="postgresql://widget:s3cr%40t@127.0.0.1:1/widget").out
    assert "postgresql://widget:********@127.0.0.1:1/widget" in shown
    assert "s3cr" not in shown


async def test_request_lines_are_written_together_and_in_order() -> None:
    """Request lines wait a moment to be written together (one write, not one a request);
    any other line writes those waiting first, so the log keeps its order."""
    import asyncio
    import io

    from widget.logs import REQUEST_LINES_FLUSH_S, RequestLine, TextFormatter, _Handler

    stream = io.StringIO()
    handler = _Handler(stream)
    handler.setFormatter(TextFormatter())
    for n in range(3):
        handler.request_line(RequestLine(time.time(), "GET", f"/{n}", 200, 0.1, f"id{n}"))
    assert stream.getvalue() == ""
    await asyncio.sleep(REQUEST_LINES_FLUSH_S + 0.1)
    assert [line.split(" GET ")[1].split()[0] for line in stream.getvalue().splitlines()] == [
        "/0", "/1", "/2",
    ]  # fmt: skip
    handler.request_line(RequestLine(time.time(), "GET", "/3", 500, 0.1, "id3"))
    handler.emit(logging.makeLogRecord({"msg": "it broke", "levelno": 40, "levelname": "ERROR"}))
    last = stream.getvalue().splitlines()[-2:]
    assert " GET /3 500 " in last[0] and "it broke" in last[1]
