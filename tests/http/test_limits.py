"""Rate limits per IP address (IPv6 per /64), behind trusted proxies only."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from tests.helpers import BLOG, PUBLIC_URL, QUICK, make_settings, post_comment, with_form_token
from widget.app import create_app
from widget.config import load_settings
from widget.serving import AddressLimit
from widget.sites import add_site
from widget.views.addresses import client_address, rate_limit_key


@pytest.fixture
async def default_app(tmp_path: Path, database_url: str) -> AsyncIterator[Starlette]:
    trusted = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))
    settings = make_settings(
        tmp_path, post_rate_per_minute=5, trusted_proxies=trusted, database_url=database_url
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await add_site(app.state.widget.storage, "blog", [BLOG], "", QUICK)
        yield app


def client_for(app: Starlette, ip: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 5000))
    return httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL)


async def test_the_default_is_five_comments_a_minute(tmp_path: Path) -> None:
    assert load_settings(environ={}, data_dir=str(tmp_path)).post_rate_per_minute == 5


async def test_the_sixth_comment_in_a_minute_is_429(default_app: Starlette) -> None:
    async with client_for(default_app, "198.51.100.1") as client:
        for i in range(5):
            assert (await post_comment(client, body=f"n{i}")).status_code == 201
        refused = await post_comment(client, body="one too many")
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 13
        assert "posting too fast" in refused.json()["error"]
    async with client_for(default_app, "198.51.100.2") as neighbour:
        assert (await post_comment(neighbour, email="bob@example.com")).status_code == 201
        # The same commenter from another address is held to the same limit.
        moved = await post_comment(neighbour, email="ann@example.com")
        assert moved.status_code == 429


async def test_posts_refused_after_the_check_still_count(default_app: Starlette) -> None:
    """A post is counted in the transaction that stores it; one refused on the way there (a
    reply to a comment that is not there) is counted on its own, as every attempt is."""
    async with client_for(default_app, "198.51.100.3") as client:
        for _ in range(5):
            missing_parent = await post_comment(client, parent=999_999)
            assert missing_parent.status_code == 422, missing_parent.text
        refused = await post_comment(client)
        assert refused.status_code == 429
        assert "posting too fast" in refused.json()["error"]


async def test_ipv6_addresses_count_by_64(default_app: Starlette) -> None:
    for i in range(5):
        async with client_for(default_app, f"2001:db8:1:2::{i + 1}") as client:
            assert (await post_comment(client, email=f"n{i}@example.com")).status_code == 201
    async with client_for(default_app, "2001:db8:1:2:ffff::9") as same_64:
        assert (await post_comment(same_64, email="n9@example.com")).status_code == 429
    async with client_for(default_app, "2001:db8:1:3::1") as other_64:
        assert (await post_comment(other_64, email="n10@example.com")).status_code == 201


async def test_forwarded_for_counts_only_from_trusted_proxies(default_app: Starlette) -> None:
    async with client_for(default_app, "10.0.0.5") as proxy:
        for i in range(5):
            response = await proxy.post(
                "/api/v1/comments",
                json=with_form_token({"site": "blog", "page": "/p/", "body": f"b{i}", "name": "A",
                                      "email": f"a{i}@example.com"}),
                headers={"Origin": PUBLIC_URL, "X-Forwarded-For": f"192.0.2.{i + 1}"},
            )  # fmt: skip
            assert response.status_code == 201  # five different clients behind the proxy
    async with client_for(default_app, "203.0.113.50") as spoofer:
        statuses = []
        for i in range(6):
            response = await spoofer.post(
                "/api/v1/comments",
                json=with_form_token({"site": "blog", "page": "/p/", "body": f"s{i}", "name": "A",
                                      "email": f"s{i}@example.com"}),
                headers={"Origin": PUBLIC_URL, "X-Forwarded-For": f"192.0.2.{100 + i}"},
            )  # fmt: skip
            statuses.append(response.status_code)
        # An untrusted peer's X-Forwarded-For is ignored: it is one client, limited at five.
        assert statuses == [201] * 5 + [429]


def test_client_address_rules() -> None:
    trusted = [ipaddress.ip_network("10.0.0.0/8")]
    assert client_address("10.1.1.1", "1.2.3.4, 10.2.2.2", trusted) == "1.2.3.4"
    # The client may have written its own X-Forwarded-For; only the hops proxies added count.
    assert client_address("10.1.1.1", "6.6.6.6, 1.2.3.4", trusted) == "1.2.3.4"
    assert client_address("8.8.8.8", "1.2.3.4", trusted) == "8.8.8.8"
    assert client_address("10.1.1.1", "garbage", trusted) == "10.1.1.1"
    assert client_address("::ffff:192.0.2.1", None, trusted) == "192.0.2.1"
    assert rate_limit_key("2001:db8::1") == "2001:db8::/64"
    assert rate_limit_key("192.0.2.1") == "192.0.2.1"


def test_connections_count_per_address_and_ipv6_network_but_never_for_a_trusted_proxy() -> None:
    per_address = AddressLimit(256, (ipaddress.ip_network("10.0.0.0/8"),))
    assert per_address.key("203.0.113.7") == "203.0.113.7"
    # A subscriber's /64 is one client, whichever of its addresses it connects from.
    assert per_address.key("2001:db8:1:2::1") == per_address.key("2001:db8:1:2:ffff::9")
    assert per_address.key("2001:db8:1:2::1") != per_address.key("2001:db8:1:3::1")
    assert per_address.key("10.1.2.3") is None  # a proxy carries everyone's connections
    assert per_address.key("::ffff:10.1.2.3") is None
    for address in ("203.0.113.7", "2001:db8:1:2::1", "::ffff:203.0.113.7"):
        assert per_address.key(address) == rate_limit_key(address)  # as rate limits count
    assert per_address.key("not an address") is None
