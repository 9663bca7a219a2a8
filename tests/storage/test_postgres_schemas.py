"""Two deployments sharing one PostgreSQL database, each in a schema of its own, hear only their
own changes (NOTIFY is heard database-wide); two instances of one deployment hear each other."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest

from tests.helpers import BLOG, postgres_schema
from widget.records import NewComment, PageRef, ThreadEvent
from widget.storage import Storage, storage_for_url
from widget.storage.postgres import channels_of

POSTGRES_URL = os.environ.get("WIDGET_TEST_POSTGRES_URL", "")
pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="needs WIDGET_TEST_POSTGRES_URL (CI always sets it)"
)
PAGE = PageRef("blog", "/p/", f"{BLOG}/p/", "P")


@asynccontextmanager
async def opened(url: str) -> AsyncIterator[tuple[Storage, list[ThreadEvent]]]:
    storage = storage_for_url(url)
    await storage.open()
    heard: list[ThreadEvent] = []
    storage.on_event(heard.append)
    try:
        yield storage, heard
    finally:
        await storage.close()


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    for _ in range(int(timeout_s / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not heard within {timeout_s} s")


def comment(body: str) -> NewComment:
    return NewComment(
        page=PAGE, parent_id=None, author_name="Ann", author_email="ann@example.com",
        author_url="", body_source=body, body_html=f"<p>{body}</p>", notify=False,
        remote_ip="192.0.2.1", created_at=datetime.now(UTC),
    )  # fmt: skip


def test_each_schema_has_channels_of_its_own() -> None:
    assert channels_of("public") == ("widget_events", "widget_sites")
    one, other = channels_of("blog_a"), channels_of("blog_b")
    assert one != other and one[0] != one[1]
    assert all(len(name) <= 63 for name in (*one, *channels_of("s" * 63)))


async def test_deployments_in_two_schemas_do_not_hear_each_other() -> None:
    async with (
        postgres_schema(POSTGRES_URL) as first_url,
        postgres_schema(POSTGRES_URL) as second_url,
        opened(first_url) as (first, first_heard),
        opened(first_url) as (_, twin_heard),  # another instance of the first deployment
        opened(second_url) as (second, second_heard),
    ):
        for storage in (first, second):  # the same site and page ids in both
            await storage.add_site("blog", "Blog", [BLOG], {})
        await first.add_comment(comment("in the first"), None)
        await until(lambda: len(first_heard) >= 1 and len(twin_heard) >= 1)
        await second.add_comment(comment("in the second"), None)
        await until(lambda: len(second_heard) >= 1)
        # Then one more change in the first: PostgreSQL delivers notifications in the order
        # their transactions committed, so once this one is heard, a stray notification of
        # the second's would have been heard before it (no time to wait and hope).
        await first.add_comment(comment("again in the first"), None)
        await until(lambda: len(first_heard) >= 2 and len(twin_heard) >= 2)
        assert [e.kind for e in first_heard] == ["comment", "comment"]
        assert [e.kind for e in twin_heard] == ["comment", "comment"]
        assert [e.kind for e in second_heard] == ["comment"]
        assert [e.comment_id for e in first_heard] == [e.comment_id for e in twin_heard]
