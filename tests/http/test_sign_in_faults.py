"""A provider that is down or answers nonsense: the popup shows why (never a bare 500), and the
frame is told, by message or, when it polls with its verifier, by the answer to its poll."""

from __future__ import annotations

import http.server
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from oidc_provider_mock import User as MockUser

from tests.helpers import PUBLIC_URL, loopback_http, make_settings, running_app, start_sign_in
from tests.servers import free_port, serve_in_thread
from tests.signing_in import Popup, exchange, mock_provider
from widget.auth.providers import HTTP_TIMEOUT_S
from widget.config import Settings

UNREACHABLE = "The provider could not be reached; try again in a moment."


class Provider:
    """A real OpenID provider, and a server beside it that breaks it in one way per path:
    /{fault}/.well-known/openid-configuration answers as that fault says."""

    def __init__(self, real: str) -> None:
        self.real = real
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.closed_port = free_port()  # nobody listens there: connections are refused
        self.hang_s = HTTP_TIMEOUT_S + 2

    def discovery(self, token_endpoint: str) -> bytes:
        document = loopback_http().get(f"{self.real}/.well-known/openid-configuration").json()
        document["token_endpoint"] = token_endpoint
        return json.dumps(document).encode()

    def answer(self, fault: str, last: str) -> tuple[int, str, bytes]:
        token_faults = {
            "tokenrefused": f"http://127.0.0.1:{self.closed_port}/token",
            "tokenoverloaded": f"{self.url}/overloaded/token",
            "tokengarbage": f"{self.url}/garbage/token",
        }
        if fault in token_faults and last == "openid-configuration":
            return 200, "application/json", self.discovery(token_faults[fault])
        if fault == "overloaded":
            return 503, "text/html", b"<h1>Service Unavailable</h1>"
        if fault == "garbage":
            return 200, "application/json", b"<html>not json"
        if fault == "wrongshape":
            return 200, "application/json", b"[1, 2, 3]"
        if fault == "noendpoints":
            return 200, "application/json", b'{"issuer": "x"}'
        if fault == "hang":
            time.sleep(self.hang_s)
        return 404, "text/plain", b"no"


@pytest.fixture(scope="module")
def broken() -> Iterator[Provider]:
    alice = MockUser(sub="alice", claims={"name": "Alice", "email_verified": False})
    with mock_provider(alice) as real:
        provider = Provider(real)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = self.path.split("?")[0].strip("/").split("/")
                status, kind, body = provider.answer(parts[0], parts[-1])
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", provider.port), Handler)
        server.daemon_threads = True
        stop = serve_in_thread(server)
        try:
            yield provider
        finally:
            stop()


FAULTS = ["refused", "overloaded", "garbage", "wrongshape", "noendpoints"]
TOKEN_FAULTS = ["tokenrefused", "tokenoverloaded", "tokengarbage"]


def issuer(broken: Provider, fault: str) -> str:
    if fault == "refused":
        return f"http://127.0.0.1:{broken.closed_port}"
    return f"{broken.url}/{fault}"


def settings_with(
    tmp_path: Path, database_url: str, broken: Provider, faults: list[str]
) -> Settings:
    providers = {
        fault: {"issuer": issuer(broken, fault), "client_id": "widget", "client_secret": "s3cret"}
        for fault in faults
    }
    return make_settings(tmp_path, database_url=database_url, providers=providers)


@pytest.fixture
async def client(
    tmp_path: Path, database_url: str, broken: Provider
) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_with(tmp_path, database_url, broken, FAULTS + TOKEN_FAULTS)
    async with running_app(settings) as app:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4000))
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            yield client


async def assert_told(client: httpx.AsyncClient, popup: Popup, page: httpx.Response) -> None:
    """The popup's page says why and hands the reason to the frame; polling gets it too."""
    assert page.status_code == 502, page.text
    assert UNREACHABLE in page.text
    assert f'data-error="{UNREACHABLE}"' in page.text  # what popup.js posts to the frame
    assert 'data-code=""' in page.text
    polled = await exchange(client, popup.verifier, None)
    assert polled.status_code == 400
    assert polled.json()["error"] == UNREACHABLE


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_provider_whose_discovery_fails_stops_the_start_with_a_page(
    client: httpx.AsyncClient, broken: Provider, fault: str
) -> None:
    popup = Popup(client, issuer(broken, fault), fault)

    page = await start_sign_in(client, popup.name, popup.challenge)
    await assert_told(client, popup, page)


@pytest.mark.parametrize("fault", TOKEN_FAULTS)
async def test_a_provider_whose_token_endpoint_fails_stops_the_callback_with_a_page(
    client: httpx.AsyncClient, broken: Provider, fault: str
) -> None:
    popup = Popup(client, broken.real, fault)
    callback = popup.consent(await popup.start())
    page = await popup.come_back(callback)
    await assert_told(client, popup, page)


@pytest.mark.slow
async def test_a_provider_that_never_answers_times_out_into_a_page(
    tmp_path: Path, broken: Provider
) -> None:
    settings = settings_with(tmp_path, f"sqlite:///{tmp_path / 'widget.db'}", broken, ["hang"])
    async with running_app(settings) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            popup = Popup(client, issuer(broken, "hang"), "hang")
            began = time.monotonic()
            page = await start_sign_in(client, "hang", popup.challenge)
            assert time.monotonic() - began < broken.hang_s
            await assert_told(client, popup, page)
