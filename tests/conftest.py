"""Fixtures: a real app per test on its own SQLite file, and an httpx client talking ASGI to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from tests.helpers import BLOG, PUBLIC_URL, make_settings
from widget.app import create_app
from widget.config import Settings
from widget.sites import add_site


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await add_site(app.state.widget.storage, "blog", [BLOG], "The blog")
        yield app


ClientFactory = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def client_from(app: Starlette) -> AsyncIterator[ClientFactory]:
    """Clients as seen from a given IP address: client_from("2001:db8::1")."""
    clients: list[httpx.AsyncClient] = []

    def make(ip: str = "203.0.113.7") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        client = httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def client(client_from: ClientFactory) -> httpx.AsyncClient:
    return client_from()
