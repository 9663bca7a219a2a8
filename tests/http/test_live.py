"""Live updates: committed changes reach every open stream, across instances on PostgreSQL."""

from __future__ import annotations

import contextlib
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from oidc_provider_mock import User as MockUser

from tests.helpers import provider_url
from tests.postgres_cluster import PrivateCluster
from tests.servers import EventStream, WidgetServer, raw_live_stream, widget_cli, widget_server
from tests.signing_in import mock_provider, new_verifier
from widget.live import EventHub, TooManyListeners
from widget.records import ThreadEvent
from widget.views import live as live_views

BLOG = "https://blog.example"


def event(page: str = "/p/", version: int = 1) -> ThreadEvent:
    return ThreadEvent("blog", page, "comment", 1, version, 1)


async def test_a_slow_reader_is_dropped_and_never_blocks_the_others() -> None:
    hub = EventHub(per_thread=10, total=10)
    slow = hub.subscribe("blog", "/p/")
    fast = hub.subscribe("blog", "/p/")
    for version in range(200):  # the slow one reads nothing
        hub.publish(event(version=version))
        assert await fast.next(1.0) == event(version=version)
    assert slow.ended is True
    assert fast.ended is False
    assert hub.listeners == 1


async def test_readers_are_bounded_per_thread_and_in_all() -> None:
    hub = EventHub(per_thread=2, total=3)
    first = hub.subscribe("blog", "/a/")
    hub.subscribe("blog", "/a/")
    with pytest.raises(TooManyListeners):
        hub.subscribe("blog", "/a/")
    hub.subscribe("blog", "/b/")
    with pytest.raises(TooManyListeners):
        hub.subscribe("blog", "/c/")
    hub.unsubscribe(first)
    hub.subscribe("blog", "/c/")
    assert hub.listeners == 3


async def test_one_network_cannot_take_every_place_of_a_thread() -> None:
    hub = EventHub(per_thread=10, total=10, per_network=2)
    first = hub.subscribe("blog", "/a/", "203.0.113.7")
    hub.subscribe("blog", "/b/", "203.0.113.7")
    with pytest.raises(TooManyListeners, match="Too many pages on your network"):
        hub.subscribe("blog", "/a/", "203.0.113.7")
    hub.subscribe("blog", "/a/", "198.51.100.9")  # another network's reader still follows
    hub.unsubscribe(first)
    hub.subscribe("blog", "/c/", "203.0.113.7")  # a place given back counts no more
    assert hub.listeners == 3


async def test_a_quiet_stream_waits_without_losing_what_comes_next() -> None:
    hub = EventHub(per_thread=10, total=10)
    reader = hub.subscribe("blog", "/p/")
    assert await reader.next(0.05) is None  # a heartbeat's worth of quiet
    hub.publish(event(version=7))
    assert await reader.next(1.0) == event(version=7)


@pytest.mark.slow  # widget in a process of its own
def test_a_stream_receives_new_comments_edits_likes_and_deletions(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    widget_cli(data_dir, "site", "add", "blog", "--origin", BLOG, "--set", "min_seconds_to_post=0")
    with widget_server(data_dir) as server:
        stream = EventStream(server.local_url, "blog", "/live/")
        try:
            assert stream.status_code == 200
            hello = stream.wait_for("hello", 2.0)
            assert hello["version"] == 0
            # With a form token of this reader's own (the document's is shared): it posts.
            posted = httpx.post(
                f"{server.local_url}/api/v1/comments", headers={"Origin": server.public_url},
                json={"site": "blog", "page": "/live/", "body": "hello", "name": "Ann",
                      "email": "ann@example.com", "form_token": hello["form_token"]},
            )  # fmt: skip
            assert posted.status_code == 201, posted.text
            created = posted.json()
            comment_id = created["comment"]["id"]
            assert stream.wait_for("comment", 1.0) == {
                "comment": comment_id,
                "version": 2,
                "count": 1,
            }
            headers = {"Origin": server.public_url}
            httpx.post(f"{server.local_url}/api/v1/likes", headers=headers,
                       json={"site": "blog", "page": "/live/", "comment": comment_id, "liked": True})  # fmt: skip
            assert stream.wait_for("like", 1.0)["count"] == 1
            httpx.patch(f"{server.local_url}/api/v1/comments/{comment_id}", headers=headers,
                        json={"token": created["edit_token"], "body": "edited"})  # fmt: skip
            assert stream.wait_for("edit", 1.0)["comment"] == comment_id
            httpx.request("DELETE", f"{server.local_url}/api/v1/comments/{comment_id}",
                          headers=headers, json={"token": created["edit_token"]})  # fmt: skip
            assert stream.wait_for("delete", 1.0)["count"] == 0
            server.post_comment("/another-page/", "elsewhere")
            with pytest.raises(TimeoutError):
                stream.wait_for("comment", 0.5)  # other threads' news is not this stream's
        finally:
            stream.close()


@pytest.mark.slow  # widget in a process of its own
def test_too_many_readers_get_a_503(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    widget_cli(data_dir, "site", "add", "blog", "--origin", BLOG, "--set", "min_seconds_to_post=0")
    with widget_server(data_dir, live_readers_per_thread="1") as server:
        request = (
            "GET /api/v1/events?site=blog&page=/full/ HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{server.port}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", server.port)) as reader:
            reader.sendall(request)
            received = b""
            while b"event: hello" not in received:
                received += reader.recv(4096)
            refused = httpx.get(
                f"{server.local_url}/api/v1/events", params={"site": "blog", "page": "/full/"}
            )
            assert refused.status_code == 503
            assert "Too many readers" in refused.json()["error"]
            assert int(refused.headers["retry-after"]) > 0
        # The reader hung up: its place is free at once, not at its next heartbeat.
        for _ in range(20):
            again = EventStream(server.local_url, "blog", "/full/")
            if again.status_code == 200:
                again.close()
                break
            again.close()
            time.sleep(0.1)
        else:
            pytest.fail("the closed stream's place was never freed")


@pytest.mark.slow  # widget in a process of its own
def test_one_client_cannot_hold_every_live_readers_place(tmp_path: Path) -> None:
    """One client opened 500 streams on a thread in 1.2 s and every other reader of it got a
    503 (5,000 on made-up pages: every thread of the server). Now one network holds at most
    `live_readers_per_network`; readers elsewhere still follow the thread."""
    data_dir = tmp_path / "data"
    widget_cli(data_dir, "site", "add", "blog", "--origin", BLOG)
    # Behind a proxy on 127.0.0.1, so that the test can speak from two networks.
    with (
        widget_server(
            data_dir, live_readers_per_network="3", trusted_proxies="127.0.0.1"
        ) as server,
        contextlib.ExitStack() as held,
    ):
        for page in ("/hot/", "/hot/", "/made-up-1/"):
            sock, answer = raw_live_stream(server, page, "203.0.113.7")
            held.callback(sock.close)
            assert answer.startswith(b"HTTP/1.1 200 "), answer
        refused = httpx.get(
            f"{server.local_url}/api/v1/events",
            params={"site": "blog", "page": "/made-up-2/"},
            headers={"X-Forwarded-For": "203.0.113.7"},
        )
        assert refused.status_code == 503
        assert refused.json()["error"].startswith("Too many pages on your network")
        assert refused.headers["retry-after"] == "30"
        sock, answer = raw_live_stream(server, "/hot/", "198.51.100.9")
        held.callback(sock.close)
        assert answer.startswith(b"HTTP/1.1 200 "), answer


async def test_a_quiet_stream_sends_heartbeats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_views, "HEARTBEAT_S", 0.05)
    hub = EventHub(per_thread=10, total=10)
    reader = hub.subscribe("blog", "/p/")
    stream = live_views._forward(reader)
    assert await anext(stream) == ": heartbeat\n\n"
    hub.publish(event(version=3))
    assert await anext(stream) == 'event: comment\ndata: {"comment":1,"version":3,"count":1}\n\n'
    hub.close()  # the server stops: the reader is told to reload, and the stream ends
    assert await anext(stream) == "event: reset\ndata: {}\n\n"
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


@pytest.fixture
def shared_postgres(private_postgres: PrivateCluster) -> str:
    """A PostgreSQL database for two server processes to share, on the tests' own server:
    the test runs whether or not WIDGET_TEST_POSTGRES_URL names one."""
    return private_postgres.new_database()


def sign_in_through(server: WidgetServer) -> str:
    """The popup's flow and the frame's exchange, all through one instance; the session token."""
    verifier, challenge = new_verifier()
    with httpx.Client(base_url=server.local_url) as popup:
        start = popup.post(
            "/auth/mock/start", data={"challenge": challenge}, headers={"Origin": server.public_url}
        )
        consent = httpx.post(provider_url(start), data={"sub": "alice"})
        page = popup.get(consent.headers["location"].removeprefix(server.public_url))
        code = re.search(r'data-code="([^"]+)"', page.text)
        assert code, page.text
        session = popup.post(
            "/api/v1/auth/session", json={"verifier": verifier, "code": code.group(1)},
            headers={"Origin": server.public_url},
        )  # fmt: skip
    token: str = session.json()["token"]
    return token


@pytest.fixture
def identity_provider() -> Iterator[str]:
    alice = MockUser(sub="alice", claims={"name": "Alice", "email_verified": False})
    with mock_provider(alice) as url:
        yield url


@pytest.mark.slow  # two widgets in processes of their own
def test_two_instances_share_events_rate_limits_and_sessions(
    tmp_path: Path, shared_postgres: str, identity_provider: str
) -> None:
    widget_cli(
        tmp_path / "a",
        "site",
        "add",
        "blog",
        "--origin",
        BLOG,
        "--set",
        "min_seconds_to_post=0",
        database_url=shared_postgres,
    )
    settings = {
        "database_url": shared_postgres, "post_rate_per_minute": "5", "secret_key": "shared",
        "provider_mock_issuer": identity_provider, "provider_mock_client_id": "w",
        "provider_mock_client_secret": "s",
    }  # fmt: skip
    with (
        widget_server(tmp_path / "a", open_files=None, **settings) as a,
        widget_server(tmp_path / "b", open_files=None, **settings) as b,
    ):
        stream = EventStream(b.local_url, "blog", "/shared/")
        try:
            stream.wait_for("hello", 2.0)
            created = a.post_comment("/shared/", "posted through A")
            assert created.status_code == 201
            seen = stream.wait_for("comment", 1.0)  # within a second, through LISTEN/NOTIFY
            assert seen["comment"] == created.json()["comment"]["id"]
            fragment = httpx.get(
                f"{b.local_url}/embed/blog/thread/fragment", params={"page": "/shared/"}
            )
            assert "posted through A" in fragment.text
            # One client, two instances: the limit of 5 a minute holds across both.
            statuses = [
                (a if n % 2 else b).post_comment("/shared/", f"n{n}").status_code for n in range(5)
            ]
            assert statuses == [201, 201, 201, 201, 429]
            # A session made on A works on B: sessions live in the database.
            token = sign_in_through(a)
            on_b = httpx.post(
                f"{b.local_url}/api/v1/me", json={"site": "blog", "page": "/shared/"},
                headers={"Origin": b.public_url, "Authorization": f"Bearer {token}"},
            )  # fmt: skip
            assert on_b.json()["user"]["name"] == "Alice"
        finally:
            stream.close()
