"""`/metrics` as Prometheus scrapes it: off without a token, refused with a wrong one, and what it
counts once requests, comments and deliveries have happened."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from tests.helpers import (
    EMBED,
    OWN_ORIGIN,
    PUBLIC_URL,
    loaded_at_start,
    make_settings,
    post_comment,
    running_app,
)
from tests.servers import free_port
from widget.sites import change_site_setting

TOKEN = "scrape-me-please"
SCRAPE = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def client(tmp_path: Path, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    # A mail server nobody listens on: every email delivery fails.
    settings = make_settings(
        tmp_path, database_url=database_url, metrics_token=TOKEN, smtp_host="127.0.0.1",
        smtp_port=free_port(), smtp_security="none", outbox_retry_s=60,
    )  # fmt: skip
    async with running_app(settings) as app:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, by (name, labels)."""
    answer = await client.get("/metrics", headers=SCRAPE)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert answer.headers["cache-control"] == "no-store"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


async def test_metrics_are_off_without_a_token(tmp_path: Path) -> None:
    async with running_app(make_settings(tmp_path)) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            off = await client.get("/metrics", headers=SCRAPE)
    assert off.status_code == 404
    assert "set WIDGET_METRICS_TOKEN" in off.text


async def test_a_scraper_without_the_token_gets_nothing(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        refused = await client.get("/metrics", headers=headers)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert "widget_http" not in refused.text


async def test_requests_comments_readers_and_the_outbox_are_counted(
    client: httpx.AsyncClient,
) -> None:
    app: Starlette = client.app  # type: ignore[attr-defined]
    for _ in range(3):
        assert (await client.get("/embed/blog/thread/fragment", params=EMBED)).status_code == 200
    assert (await post_comment(client, body="Hello")).status_code == 201
    assert (
        await post_comment(client, body="Buy now", homepage="http://x.example")
    ).status_code == 201
    assert (await post_comment(client, body="")).status_code == 422
    await change_site_setting(app.state.widget.storage, "blog", "moderation", "all")
    assert (await post_comment(client, body="Held", notify=True)).status_code == 201
    # Clients choose paths and methods; label values must not follow them.
    await client.get("/no/such/page/12345")
    await client.request("BREW", "/embed/blog/thread/fragment", params=EMBED)
    await client.post("/api/v1/comments", json={"site": "blog"}, headers=OWN_ORIGIN)

    samples = await scrape(client)
    fragment = (("method", "GET"), ("route", "/embed/{site}/thread/fragment"), ("status", "200"))
    assert samples[("widget_http_requests_total", fragment)] == 3
    assert (
        samples[
            (
                "widget_http_request_duration_seconds_count",
                (("route", "/embed/{site}/thread/fragment"),),
            )
        ]
        >= 3
    )
    assert samples[("widget_comments_total", (("outcome", "approved"),))] == 1
    assert samples[("widget_comments_total", (("outcome", "spam"),))] == 1
    assert samples[("widget_comments_total", (("outcome", "pending"),))] == 1
    assert samples[("widget_comments_total", (("outcome", "refused"),))] == 1
    routes = {
        dict(labels).get("route") for name, labels in samples if name.startswith("widget_http")
    }
    assert "unmatched" in routes
    assert not any("blog" in str(route) or "12345" in str(route) for route in routes)
    methods = {
        dict(labels).get("method")
        for name, labels in samples
        if name == "widget_http_requests_total"
    }
    assert methods <= {"GET", "POST", "other"}
    assert samples[("widget_live_readers", ())] == 0
    assert samples[("widget_database_write_queue", ())] == 0
    assert samples[("widget_database_connections_max", ())] >= 1
    in_use = {state: samples[("widget_database_connections", (("state", state),))]
              for state in ("idle", "busy")}  # fmt: skip
    assert 1 <= sum(in_use.values()) <= samples[("widget_database_connections_max", ())]
    assert samples[("process_resident_memory_bytes", ())] > 0
    assert samples[("process_open_fds", ())] > 0

    # The held comment asked to be notified, and a moderator is told: emails to a dead server.
    await change_site_setting(app.state.widget.storage, "blog", "notify_emails", "mod@example.com")
    assert (await post_comment(client, body="Tell the moderator")).status_code == 201
    app.state.widget.outbox.wake()
    for _ in range(200):
        samples = await scrape(client)
        if samples.get(("widget_outbox_failures_total", (("kind", "email"),)), 0) >= 1:
            break
        await asyncio.sleep(0.05)
    assert samples[("widget_outbox_failures_total", (("kind", "email"),))] >= 1
    assert samples[("widget_outbox_jobs", (("state", "queued"),))] >= 1  # waiting to be retried


@pytest.mark.parametrize(("token", "loaded"), [("", False), (TOKEN, True)])
def test_prometheus_client_is_loaded_only_with_metrics_on(token: str, loaded: bool) -> None:
    """It holds about a megabyte that a server nobody scrapes need not (issue 13, item 2)."""
    settings = {"metrics_token": token} if token else {}  # off: the default
    modules = loaded_at_start(["prometheus_client"], **settings)
    assert modules == {"prometheus_client": loaded}
