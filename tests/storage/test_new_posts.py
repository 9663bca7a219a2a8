"""New posts' storage, on each backend: a feed taken by one poller at a time, each entry's emails
queued once whatever overlaps, and subscriptions to a site's new posts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.helpers import outbox_rows, schema_before
from widget.records import NewJob, PostSubscription
from widget.storage import Storage, storage_for_url

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def mail_to(address: str) -> NewJob:
    return ("email", {"to": address, "subject": "New post"})


async def test_a_feed_is_taken_by_one_poller_until_done_or_the_lease_runs_out(
    storage: Storage,
) -> None:
    first = await storage.claim_feed_poll("blog", NOW, 300)
    assert first is not None and first.feed_url == "" and not first.polled
    assert await storage.claim_feed_poll("blog", NOW + timedelta(seconds=10), 300) is None
    # A poller that died lets it go when the lease runs out.
    again = await storage.claim_feed_poll("blog", NOW + timedelta(seconds=301), 300)
    assert again is not None
    await storage.record_feed_poll("blog", "https://blog.example/feed/", ('"e1"', "Mon"), [],
                                   NOW, NOW + timedelta(seconds=900))  # fmt: skip
    assert await storage.claim_feed_poll("blog", NOW + timedelta(seconds=899), 300) is None
    due = await storage.claim_feed_poll("blog", NOW + timedelta(seconds=900), 300)
    assert due is not None
    assert (due.feed_url, due.etag, due.last_modified, due.polled) == (
        "https://blog.example/feed/",
        '"e1"',
        "Mon",
        True,
    )


async def test_pollers_claiming_at_once_get_the_feed_once(storage: Storage) -> None:
    claims = await asyncio.gather(*(storage.claim_feed_poll("blog", NOW, 300) for _ in range(8)))
    assert sum(claim is not None for claim in claims) == 1


async def test_an_entry_queues_its_emails_once_however_often_it_is_recorded(
    storage: Storage,
) -> None:
    await storage.claim_feed_poll("blog", NOW, 300)
    entries = [("k1", [mail_to("a@example.com"), mail_to("b@example.com")]), ("k2", [])]
    later = NOW + timedelta(seconds=900)
    assert await storage.record_feed_poll("blog", "u", ("", ""), entries, NOW, later) == 2
    # A poll that overlapped (its lease ran out) records the same entries: nothing more.
    assert await storage.record_feed_poll("blog", "u", ("", ""), entries, NOW, later) == 0
    assert [row["payload"] for row in await outbox_rows(storage)] == [
        '{"to": "a@example.com", "subject": "New post"}',
        '{"to": "b@example.com", "subject": "New post"}',
    ]
    assert await storage.seen_feed_entries("blog", ["k1", "k2", "k3"]) == {"k1", "k2"}
    assert await storage.seen_feed_entries("blog", []) == set()


async def test_a_failed_poll_is_kept_and_tried_again_later(storage: Storage) -> None:
    await storage.claim_feed_poll("blog", NOW, 300)
    await storage.feed_poll_failed("blog", "the feed answered 500", NOW + timedelta(seconds=900))
    assert await storage.get_feed_poll_error("blog") == "the feed answered 500"
    assert await storage.claim_feed_poll("blog", NOW + timedelta(seconds=60), 300) is None
    retry = await storage.claim_feed_poll("blog", NOW + timedelta(seconds=900), 300)
    assert retry is not None and not retry.polled
    await storage.record_feed_poll("blog", "u", ("", ""), [], NOW, NOW)
    assert await storage.get_feed_poll_error("blog") == ""


async def test_post_subscriptions_start_unconfirmed_and_end_on_unsubscribe(
    storage: Storage,
) -> None:
    await storage.add_site("other", "Other", ["https://other.example"], {})
    mine = await storage.subscribe_to_posts("blog", "Reader@Example.com", NOW)
    assert (mine.site_id, mine.email, mine.confirmed) == ("blog", "reader@example.com", False)
    assert await storage.subscribe_to_posts("blog", "reader@example.com", NOW) == mine
    await storage.subscribe_to_posts("other", "reader@example.com", NOW)
    assert await storage.subscribers(PostSubscription, "blog") == []
    confirmed = await storage.confirm_post_subscription(mine.id, NOW)
    assert confirmed is not None and confirmed.confirmed
    assert [s.email for s in await storage.subscribers(PostSubscription, "blog")] == [
        "reader@example.com"
    ]
    assert await storage.subscribers(PostSubscription, "other") == []
    assert await storage.unsubscribe(PostSubscription, mine.id)
    assert not await storage.unsubscribe(PostSubscription, mine.id)
    assert await storage.get_subscription(PostSubscription, mine.id) is None
    assert await storage.confirm_post_subscription(mine.id, NOW) is None


async def test_removing_a_site_removes_its_feed_and_subscribers(storage: Storage) -> None:
    mine = await storage.subscribe_to_posts("blog", "reader@example.com", NOW)
    await storage.claim_feed_poll("blog", NOW, 300)
    await storage.record_feed_poll("blog", "u", ("", ""), [("k1", [])], NOW, NOW)
    assert await storage.remove_site("blog")
    assert await storage.get_subscription(PostSubscription, mine.id) is None
    assert await storage.seen_feed_entries("blog", ["k1"]) == set()


# A site and a comment as they stood before 0011.
BEFORE_0011 = """
INSERT INTO sites (id, name, created_at) VALUES ('blog', 'Blog', {now});
INSERT INTO threads (site_id, page_id, created_at) VALUES ('blog', '/p/', {now});
INSERT INTO comments (thread_id, depth, status, author_name, author_email, body_source,
    body_html, notify, created_at)
    SELECT id, 1, 'approved', 'Ann', 'ann@example.com', 'Hi', '<p>Hi</p>', true, {now} FROM threads
"""


async def test_migration_0011_keeps_comments_and_adds_no_wish_for_new_posts(
    tmp_path: Path, database_url: str
) -> None:
    await schema_before(database_url, 11, BEFORE_0011)
    storage = storage_for_url(database_url)
    await storage.open()  # applies 0011
    try:
        comment = await storage.get_comment(1)
        assert comment is not None and comment.author_name == "Ann"
        assert comment.notify and not comment.notify_posts
        assert await storage.claim_feed_poll("blog", NOW, 300) is not None
    finally:
        await storage.close()


async def test_erasing_an_author_ends_their_emails_of_new_posts(storage: Storage) -> None:
    mine = await storage.subscribe_to_posts("blog", "ann@example.com", NOW)
    other = await storage.subscribe_to_posts("blog", "bob@example.com", NOW)
    await storage.erase_author("Ann@Example.com", None)
    assert await storage.get_subscription(PostSubscription, mine.id) is None
    assert await storage.get_subscription(PostSubscription, other.id) is not None
