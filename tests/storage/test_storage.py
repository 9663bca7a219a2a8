"""The storage contract, run against every backend, and the SQLite backend's own promises."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest

from tests.helpers import BLOG, schema_before
from tests.mounts import small_disk
from widget.errors import Conflict, Forbidden, RateLimited, SetupError
from widget.records import (
    POST_LIKE,
    Admin,
    Comment,
    GuestLikeLimit,
    ImportedComment,
    ImportedLike,
    NewComment,
    PageRef,
    PageWindow,
    Profile,
    QueueQuery,
    RateLimit,
    SingleUse,
    Subscription,
    ThreadEvent,
    ThreadHead,
    User,
)
from widget.refusals import explain
from widget.storage import Outcome, Refused, Storage, storage_for_url
from widget.storage import migrations as migrations_module
from widget.storage.accounts import prune_expired
from widget.storage.migrations import REBUILDS_TABLES, migrations
from widget.storage.sqlite import SQLiteStorage

PAGE = PageRef("blog", "/p/", "https://blog.example/p/", "A post")


def new_comment(body: str = "hi", parent: int | None = None, page: PageRef = PAGE) -> NewComment:
    return NewComment(
        page=page, parent_id=parent, author_name="Ann", author_email="ann@example.com",
        author_url="", body_source=body, body_html=f"<p>{body}</p>", notify=False,
        remote_ip="192.0.2.1", created_at=datetime.now(UTC),
    )  # fmt: skip


async def test_sites(storage: Storage) -> None:
    site = await storage.get_site("blog")
    assert site is not None
    assert site.origins == ("https://blog.example",)
    with pytest.raises(Refused, match=Outcome.SITE_EXISTS.value):
        await storage.add_site("blog", "Again", ["https://x.example"], {})
    changed = await storage.update_site(
        "blog", origins=["https://a.example", "https://b.example"], settings={"order": "newest"}
    )
    assert changed.origins == ("https://a.example", "https://b.example")
    assert changed.settings == {"order": "newest"}
    assert changed.revision == site.revision + 1
    with pytest.raises(Refused, match=Outcome.NO_SITE.value):
        await storage.update_site("nope", name="x")
    assert [s.id for s in await storage.list_sites()] == ["blog"]
    assert await storage.remove_site("blog") is True
    assert await storage.get_site("blog") is None
    assert await storage.remove_site("blog") is False


async def test_threads_are_created_by_the_first_comment(storage: Storage) -> None:
    assert await storage.get_thread_head("blog", "/p/") is None
    comment, head = await storage.add_comment(new_comment(), None)
    assert head.comment_count == 1
    assert head.title == "A post"
    assert comment.depth == 1
    assert comment.root_id == comment.id
    assert await storage.get_thread_head("blog", "/p/") == head
    reply, head2 = await storage.add_comment(new_comment("re", comment.id), None)
    assert reply.depth == 2
    assert reply.root_id == comment.id
    assert head2.version > head.version
    heads = await storage.get_thread_heads("blog", ["/p/", "/none/"])
    assert list(heads) == ["/p/"]


async def test_a_parent_must_be_in_the_same_thread(storage: Storage) -> None:
    other, _ = await storage.add_comment(new_comment(page=PageRef("blog", "/o/", "", "")), None)
    with pytest.raises(Refused, match=Outcome.PARENT_ELSEWHERE.value):
        await storage.add_comment(new_comment(parent=other.id), None)
    with pytest.raises(Refused, match=Outcome.PARENT_ELSEWHERE.value):
        await storage.add_comment(new_comment(parent=12345), None)


async def test_one_failing_write_does_not_undo_its_batch(storage: Storage) -> None:
    writes = [storage.add_comment(new_comment(f"ok {i}"), None) for i in range(20)]
    writes.insert(10, storage.add_comment(new_comment(parent=99999), None))
    results = await asyncio.gather(*writes, return_exceptions=True)
    assert sum(isinstance(r, Refused) for r in results) == 1
    head = await storage.get_thread_head("blog", "/p/")
    assert head is not None
    assert head.comment_count == 20


async def test_pages_by_top_level_comment(storage: Storage) -> None:
    roots = []
    for i in range(10):
        comment, head = await storage.add_comment(new_comment(f"root {i}"), None)
        roots.append(comment.id)
        await storage.add_comment(new_comment(f"reply {i}", comment.id), None)
    _, first = await storage.get_thread_page(head.id, PageWindow("after", None, 4))
    assert [c.id for c in first.roots] == roots[:4]
    assert len(first.replies) == 4
    assert (first.more_before, first.more_after) == (False, True)
    _, middle = await storage.get_thread_page(head.id, PageWindow("after", roots[3], 4))
    assert [c.id for c in middle.roots] == roots[4:8]
    assert (middle.more_before, middle.more_after) == (True, True)
    _, last = await storage.get_thread_page(head.id, PageWindow("before", None, 4))
    assert [c.id for c in last.roots] == roots[6:]
    assert (last.more_before, last.more_after) == (True, False)
    _, before = await storage.get_thread_page(head.id, PageWindow("before", roots[2], 4))
    assert [c.id for c in before.roots] == roots[:2]
    assert (before.more_before, before.more_after) == (False, True)


async def test_pages_by_number_skip_from_either_end(storage: Storage) -> None:
    roots = [(await storage.add_comment(new_comment(f"root {i}"), None))[0].id for i in range(7)]
    head = await storage.get_thread_head("blog", "/p/")
    assert head is not None and head.root_count == 7
    _, second_newest = await storage.get_thread_page(head.id, PageWindow("before", None, 3, 3))
    assert [c.id for c in second_newest.roots] == roots[1:4]
    assert (second_newest.more_before, second_newest.more_after) == (True, True)
    _, oldest = await storage.get_thread_page(head.id, PageWindow("before", None, 3, 6))
    assert [c.id for c in oldest.roots] == roots[:1]
    assert (oldest.more_before, oldest.more_after) == (False, True)
    _, third = await storage.get_thread_page(head.id, PageWindow("after", None, 3, 6))
    assert [c.id for c in third.roots] == roots[6:]
    assert (third.more_before, third.more_after) == (True, False)


async def shown_roots(storage: Storage) -> tuple[int, int]:
    """The thread's kept root count, and the roots its pages actually show."""
    head = await storage.get_thread_head("blog", "/p/", fresh=True)
    assert head is not None
    _, page = await storage.get_thread_page(head.id, PageWindow("after", None, 1000))
    return head.root_count, len(page.roots)


async def test_the_root_count_follows_every_change_of_what_pages_show(storage: Storage) -> None:
    first, _ = await storage.add_comment(new_comment("first"), None)
    second, _ = await storage.add_comment(new_comment("second"), None)
    reply, _ = await storage.add_comment(new_comment("reply", first.id), None)
    assert await shown_roots(storage) == (2, 2)  # a reply adds no top-level comment
    held, _ = await storage.add_comment(
        dataclasses.replace(new_comment("held"), status="pending"), None
    )
    assert await shown_roots(storage) == (2, 2)
    await storage.set_status([held.id], "approved", ["blog"])
    assert await shown_roots(storage) == (3, 3)
    await storage.set_status([first.id], "spam", ["blog"])  # kept in place for its reply
    assert await shown_roots(storage) == (3, 3)
    await storage.delete_comment(reply.id)  # and now nothing holds it there
    assert await shown_roots(storage) == (2, 2)
    await storage.set_status([first.id], "approved", ["blog"])  # a moderator's undo
    assert await shown_roots(storage) == (3, 3)
    await storage.set_status([reply.id], "approved", ["blog"])
    await storage.delete_comment(first.id)  # removed, but its reply keeps it on the page
    assert await shown_roots(storage) == (3, 3)
    await storage.set_status([second.id], "spam", ["blog"])
    assert await shown_roots(storage) == (2, 2)
    await storage.set_status([second.id], "approved", ["blog"])
    assert await shown_roots(storage) == (3, 3)

    tally = await storage.import_comments(
        "blog", items_of(imported("a"), imported("b", "a"), imported("s", status="spam"))
    )
    assert tally.imported == 3
    assert await shown_roots(storage) == (4, 4)
    assert await storage.erase_author("ann@example.com", None) > 0  # everything Ann wrote
    assert await shown_roots(storage) == (0, 0)


# Rows as they stood before 0012: three top-level comments, one removed but kept for its
# approved reply, one spam.
BEFORE_0012 = """
INSERT INTO sites (id, name, created_at) VALUES ('blog', 'Blog', {now});
INSERT INTO threads (site_id, page_id, comment_count, created_at) VALUES ('blog', '/p/', 2, {now});
INSERT INTO comments (thread_id, depth, status, author_name, author_email, author_url,
    body_source, body_html, created_at)
    SELECT id, 1, 'approved', 'Ann', '', '', 'a', '<p>a</p>', {now} FROM threads;
INSERT INTO comments (thread_id, depth, status, author_name, author_email, author_url,
    body_source, body_html, created_at)
    SELECT id, 1, 'deleted', 'Ann', '', '', 'b', '<p>b</p>', {now} FROM threads;
INSERT INTO comments (thread_id, parent_id, root_id, depth, status, author_name,
    author_email, author_url, body_source, body_html, created_at)
    SELECT thread_id, id, id, 2, 'approved', 'Bo', '', '', 'c', '<p>c</p>', {now}
    FROM comments WHERE body_source = 'b';
INSERT INTO comments (thread_id, depth, status, author_name, author_email, author_url,
    body_source, body_html, created_at)
    SELECT id, 1, 'spam', 'Cy', '', '', 'd', '<p>d</p>', {now} FROM threads
"""


async def test_migration_0012_counts_the_roots_threads_already_show(
    tmp_path: Path, database_url: str
) -> None:
    await schema_before(database_url, 12, BEFORE_0012)
    storage = storage_for_url(database_url)
    await storage.open()  # applies 0012
    try:
        assert await shown_roots(storage) == (2, 2)
    finally:
        await storage.close()


async def test_likes_are_idempotent(storage: Storage) -> None:
    comment, _ = await storage.add_comment(new_comment(), None)
    now = datetime.now(UTC)
    assert (await storage.set_like(PAGE, comment.id, "v1", True, None, now))[0] == 1
    assert (await storage.set_like(PAGE, comment.id, "v1", True, None, now))[0] == 1
    assert (await storage.set_like(PAGE, comment.id, "v2", True, None, now))[0] == 1 + 1
    assert (await storage.set_like(PAGE, POST_LIKE, "v1", True, None, now))[0] == 1
    head = await storage.get_thread_head("blog", "/p/")
    assert head is not None
    assert await storage.get_voter_likes(head.id, "v1") == {comment.id, POST_LIKE}
    assert (await storage.set_like(PAGE, comment.id, "v1", False, None, now))[0] == 1
    assert (await storage.set_like(PAGE, comment.id, "v1", False, None, now))[0] == 1


async def test_a_network_counts_a_bounded_number_of_guest_likes(storage: Storage) -> None:
    comment, _ = await storage.add_comment(new_comment(), None)
    now = datetime.now(UTC)
    home = GuestLikeLimit("net-home", 2, "No more from your network.")
    assert (await storage.set_like(PAGE, comment.id, "v1", True, None, now, home))[0] == 1
    assert (await storage.set_like(PAGE, comment.id, "v2", True, None, now, home))[0] == 2
    with pytest.raises(Forbidden, match="No more from your network"):
        await storage.set_like(PAGE, comment.id, "v3", True, None, now, home)
    # Liking again is no new like; taking one back makes room; other networks have their own.
    assert (await storage.set_like(PAGE, comment.id, "v2", True, None, now, home))[0] == 2
    assert (await storage.set_like(PAGE, comment.id, "v1", False, None, now, home))[0] == 1
    assert (await storage.set_like(PAGE, comment.id, "v3", True, None, now, home))[0] == 2
    cafe = GuestLikeLimit("net-cafe", 2, "No more from your network.")
    assert (await storage.set_like(PAGE, comment.id, "v4", True, None, now, cafe))[0] == 3
    assert (await storage.set_like(PAGE, comment.id, "user:1", True, None, now))[0] == 4
    # The post itself is counted on its own.
    assert (await storage.set_like(PAGE, POST_LIKE, "v5", True, None, now, home))[0] == 1


async def test_one_network_at_once_still_gets_only_its_guest_likes(storage: Storage) -> None:
    comment, _ = await storage.add_comment(new_comment(), None)
    now = datetime.now(UTC)
    home = GuestLikeLimit("net-home", 3, "No more from your network.")
    results = await asyncio.gather(
        *(storage.set_like(PAGE, comment.id, f"v{n}", True, None, now, home) for n in range(20)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, Forbidden)]
    assert len(refused) == 17, results
    stored = await storage.get_comment(comment.id)
    assert stored is not None and stored.like_count == 3


async def test_a_single_use_token_posts_one_comment(storage: Storage) -> None:
    now = datetime.now(UTC)
    once = SingleUse("token-1", now + timedelta(days=2), "This form has posted already.")
    first, _ = await storage.add_comment(
        dataclasses.replace(new_comment("one"), form_token=once), None
    )
    with pytest.raises(Conflict, match="This form has posted already"):
        await storage.add_comment(dataclasses.replace(new_comment("two"), form_token=once), None)
    at_once = await asyncio.gather(
        *(
            storage.add_comment(
                dataclasses.replace(
                    new_comment(f"at once {n}"),
                    form_token=SingleUse("token-2", now + timedelta(days=2), "Posted already."),
                ),
                None,
            )
            for n in range(5)
        ),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Conflict) for r in at_once) == 4, at_once
    head = await storage.get_thread_head("blog", "/p/")
    assert head is not None and head.comment_count == 2  # "one" and one of "at once"
    assert first.body_source == "one"


async def test_spent_tokens_are_kept_until_they_expire(storage: Storage) -> None:
    now = datetime.now(UTC)
    # The domain refuses expired tokens; storage's housekeeping forgets them (here: one that
    # just expired), and only them.
    gone = SingleUse("expired", now - timedelta(seconds=1), "Posted already.")
    await storage.add_comment(dataclasses.replace(new_comment("a"), form_token=gone), None)
    kept = SingleUse("kept", now + timedelta(seconds=60), "Posted already.")
    await storage.add_comment(dataclasses.replace(new_comment("c"), form_token=kept), None)
    with pytest.raises(Conflict):
        await storage.add_comment(dataclasses.replace(new_comment("b"), form_token=gone), None)
    await storage._run(prune_expired)  # as the backends' housekeeping runs it, every 5 minutes
    await storage.add_comment(dataclasses.replace(new_comment("b"), form_token=gone), None)
    with pytest.raises(Conflict):
        await storage.add_comment(dataclasses.replace(new_comment("d"), form_token=kept), None)


async def test_rate_limits_allow_a_burst_then_refuse(storage: Storage) -> None:
    limit = RateLimit("post:192.0.2.1", 3, 60.0)
    for i in range(3):
        await storage.add_comment(new_comment(f"n{i}"), limit)
    with pytest.raises(RateLimited) as refused:
        await storage.add_comment(new_comment("too many"), limit)
    assert 0 < refused.value.retry_after_s <= 20
    head = await storage.get_thread_head("blog", "/p/")
    assert head is not None
    assert head.comment_count == 3


async def test_rate_limit_checks_count_what_was_committed(
    storage: Storage, database_url: str
) -> None:
    limit = RateLimit("post:192.0.2.9", 2, 60.0)
    await storage.check_rate_limits([limit], datetime.now(UTC))  # a key never seen
    await storage.add_comment(new_comment("one"), limit)
    # Undone with the write that took it: the reply to no comment counts for nothing.
    with pytest.raises(Refused, match=Outcome.PARENT_ELSEWHERE.value):
        await storage.add_comment(new_comment("orphan", parent=999_999), limit)
    await storage.check_rate_limits([limit], datetime.now(UTC))
    await storage.add_comment(new_comment("two"), limit)
    with pytest.raises(RateLimited):
        await storage.check_rate_limits([limit], datetime.now(UTC))
    # A process that starts afresh finds the same in the database.
    again = storage_for_url(database_url)
    await again.open()
    try:
        with pytest.raises(RateLimited):
            await again.check_rate_limits([limit], datetime.now(UTC))
        await again.check_rate_limits([RateLimit("post:192.0.2.10", 2, 60.0)], datetime.now(UTC))
    finally:
        await again.close()


async def test_edit_and_delete(storage: Storage) -> None:
    async def edit(comment_id: int, body: str) -> tuple[Comment, ThreadHead]:
        return await storage.edit_comment(
            comment_id, body_source=body, body_html=f"<p>{body}</p>", author_name="Ann",
            author_url="", edited_at=datetime.now(UTC),
        )  # fmt: skip

    comment, head = await storage.add_comment(new_comment(), None)
    edited, head2 = await edit(comment.id, "new")
    assert edited.body_html == "<p>new</p>"
    assert edited.edited_at is not None
    assert head2.version > head.version
    head3 = await storage.delete_comment(comment.id)
    assert head3.comment_count == 0
    with pytest.raises(Refused, match=Outcome.COMMENT_GONE.value):
        await storage.delete_comment(comment.id)
    # An author edits only what is shown: not a removed comment, nor one held for moderators.
    held, _ = await storage.add_comment(dataclasses.replace(new_comment(), status="pending"), None)
    for gone_id, body in ((comment.id, "new"), (held.id, "hi")):
        with pytest.raises(Refused, match=Outcome.COMMENT_GONE.value):
            await edit(gone_id, "changed behind the moderator's back")
        kept = await storage.get_comment(gone_id)
        assert kept is not None and kept.body_source == body


async def test_removing_a_site_removes_its_threads(storage: Storage) -> None:
    for i in range(5):
        comment, _ = await storage.add_comment(new_comment(f"{i}"), None)
        await storage.add_comment(new_comment("re", comment.id), None)
    assert await storage.remove_site("blog")
    assert await storage.get_thread_head("blog", "/p/") is None


# -- SQLite's own promises ---------------------------------------------------------------------


async def test_sqlite_runs_in_wal_with_full_sync(tmp_path: Path) -> None:
    storage = SQLiteStorage(tmp_path / "w.db")
    await storage.open()
    await storage.close()
    conn = sqlite3.connect(tmp_path / "w.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    numbers = [row[0] for row in conn.execute("SELECT number FROM schema_migrations")]
    assert numbers == [number for number, _, _ in migrations("sqlite")]
    conn.close()


async def test_each_migration_applies_to_the_schema_before_it(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.db")
    applied = []
    for number, _name, sql in migrations("sqlite"):
        conn.executescript(sql)  # raises if it does not fit the schema before it
        applied.append(number)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sites", "threads", "comments", "likes", "rate_limits"} <= tables
    assert applied == sorted(applied)
    conn.close()


# Rows as they stood before 0007: a guest's like of a post, and an admin's session.
BEFORE_0007 = """
INSERT INTO sites (id, name, created_at) VALUES ('blog', 'Blog', {now});
INSERT INTO threads (site_id, page_id, like_count, created_at) VALUES ('blog', '/p/', 1, {now});
INSERT INTO likes (thread_id, voter, comment_id, created_at)
    SELECT id, 'v-old', 0, {now} FROM threads;
INSERT INTO admins (email, password_hash, created_at) VALUES ('boss@example.com', 'hash', {now});
INSERT INTO admin_sessions (token_hash, admin_id, created_at, expires_at)
    SELECT 'old-hash', id, {now}, {later} FROM admins
"""


async def test_migration_0007_keeps_likes_and_ends_sessions_stored_before_it(
    tmp_path: Path, database_url: str
) -> None:
    await schema_before(database_url, 7, BEFORE_0007)
    storage = storage_for_url(database_url)
    await storage.open()  # applies 0007
    try:
        now = datetime.now(UTC)
        assert await storage.get_session(Admin, "old-hash", now) is None
        head = await storage.get_thread_head("blog", "/p/")
        assert head is not None and head.like_count == 1
        assert await storage.get_voter_likes(head.id, "v-old") == {POST_LIKE}
        # A like from before counts against no network.
        one = GuestLikeLimit("net", 1, "No more from your network.")
        assert (await storage.set_like(PAGE, POST_LIKE, "v-new", True, None, now, one))[0] == 2
        with pytest.raises(Forbidden):
            await storage.set_like(PAGE, POST_LIKE, "v-newer", True, None, now, one)
        once = SingleUse("token", now + timedelta(days=2), "Posted already.")
        await storage.add_comment(dataclasses.replace(new_comment(), form_token=once), None)
    finally:
        await storage.close()


# Rows as they stood before 0014, in every table it rebuilds and in those naming their rows, with
# gaps in the numbers (comment 12, the newest, was deleted for good before the upgrade).
BEFORE_0014 = """
INSERT INTO sites (id, name, created_at) VALUES ('blog', 'Blog', {now});
INSERT INTO threads (id, site_id, page_id, comment_count, created_at, closed, origin, root_count)
    VALUES (3, 'blog', '/p/', 2, {now}, 0, '', 1), (7, 'blog', '/q/', 1, {now}, 1, '{{}}', 1);
INSERT INTO users (id, provider, subject, name, created_at, updated_at)
    VALUES (5, 'github', 'ann', 'Ann', {now}, {now});
INSERT INTO comments (id, thread_id, parent_id, root_id, depth, status, author_name, author_email,
    body_source, body_html, created_at, user_id, pinned, import_key, lang)
    VALUES (10, 3, NULL, NULL, 1, 'approved', 'Ann', 'ann@example.com', 'a', '<p>a</p>', {now},
            5, 1, '', 'fr'),
           (11, 3, 10, 10, 2, 'approved', 'Bo', '', 'b', '<p>b</p>', {now}, NULL, 0, 'wp-2', ''),
           (9, 7, NULL, NULL, 1, 'approved', 'Cy', '', 'c', '<p>c</p>', {now}, NULL, 0, '', '');
INSERT INTO likes (thread_id, voter, comment_id, created_at, network)
    VALUES (3, 'user:5', 11, {now}, ''), (3, 'v', 0, {now}, 'net');
INSERT INTO sessions VALUES ('session-hash', 5, {now}, {later});
INSERT INTO login_codes VALUES ('code-hash', 'challenge', 5, {later});
INSERT INTO bans (id, site_id, kind, value, created_at) VALUES (4, 'blog', 'email', 'x@y.z', {now});
INSERT INTO admins (id, email, password_hash, created_at)
    VALUES (2, 'boss@example.com', 'hash', {now});
INSERT INTO admin_sessions VALUES ('admin-hash', 2, {now}, {later});
INSERT INTO outbox (id, kind, payload, due_at, created_at) VALUES (8, 'comment', '{{}}', {now}, {now});
INSERT INTO subscriptions (id, thread_id, email, created_at, lang)
    VALUES (6, 3, 'ann@example.com', {now}, 'fr');
INSERT INTO post_subscriptions (id, site_id, email, created_at)
    VALUES (1, 'blog', 'ann@example.com', {now});
INSERT INTO passkeys (id, user_id, credential_id, public_key, sign_count, name, created_at)
    VALUES (13, 5, 'credential', x'a50102', 3, 'Phone', {now});
"""
NUMBERED = ("threads", "users", "comments", "bans", "admins", "outbox", "subscriptions",
            "post_subscriptions", "passkeys")  # fmt: skip


def rows_of_every_table(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """But for the bookkeeping of migrations and the readiness row each start writes."""
    tables = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN"
        " ('sqlite_sequence', 'schema_migrations', 'rate_limits') ORDER BY name"
    )]  # fmt: skip
    return {
        table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall() for table in tables
    }


def schema_of(conn: sqlite3.Connection) -> dict[str, str]:
    """Each table's and index's CREATE statement without comments, spaces and quotes."""
    found = {}
    for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"):
        text = "".join(line.split("--", 1)[0] for line in sql.splitlines())
        found[name] = "".join(text.split()).replace('"', "")
    return found


def indexes(conn: sqlite3.Connection) -> set[tuple[str, str, str | None]]:
    return set(conn.execute("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index'"))


async def test_migration_0014_keeps_every_row_and_number_and_gives_none_twice(
    tmp_path: Path, migrated_sqlite: Path
) -> None:
    """The tables whose numbers are handed out are rebuilt with AUTOINCREMENT: every row, id,
    index and reference is kept (dropping a table with foreign keys on would have deleted the
    rows naming it: sessions, replies, likes...), and a deleted row's number is not given again."""
    path = tmp_path / "old.db"
    await schema_before(f"sqlite:///{path}", 14, BEFORE_0014)
    conn = sqlite3.connect(path)
    rows, schema = rows_of_every_table(conn), schema_of(conn)
    before_indexes = indexes(conn)
    conn.close()
    storage = SQLiteStorage(path)
    await storage.open()  # applies 0014
    await storage.close()

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys = ON")
    try:
        assert rows_of_every_table(conn) == rows
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        # The same columns, types, defaults, constraints and foreign keys; the same indexes.
        after = {name: sql.replace("AUTOINCREMENT", "") for name, sql in schema_of(conn).items()}
        assert after == {**schema, "sqlite_sequence": ANY}
        assert indexes(conn) == before_indexes
        # Each numbered table now remembers the largest number it gave.
        sequences = dict(conn.execute("SELECT name, seq FROM sqlite_sequence"))
        assert sequences == {
            table: max((row[0] for row in rows[table]), default=0) for table in NUMBERED
        }
        assert sequences["comments"] == 11
        # A new install has the very same schema (but for schema_before's own bookkeeping).
        fresh = sqlite3.connect(migrated_sqlite)
        assert {**schema_of(fresh), "schema_migrations": ""} == {
            **schema_of(conn),
            "schema_migrations": "",
        }
        fresh.close()
        # The newest comment deleted, the next one takes a number of its own.
        conn.execute("DELETE FROM comments WHERE id = 11")
        conn.execute(
            "INSERT INTO comments (thread_id, depth, status, author_name, author_email,"
            " body_source, body_html, created_at) VALUES (3, 1, 'approved', 'D', '', 'd', 'd', 0)"
        )
        assert conn.execute("SELECT max(id) FROM comments").fetchone() == (12,)
    finally:
        conn.close()


async def test_a_rebuild_that_leaves_a_reference_dangling_is_undone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A migration that rebuilds tables runs with foreign keys off: one that would leave a row
    naming a row that is not there (here, a session of a deleted account) is undone whole, and
    the server does not start on it."""
    path = tmp_path / "w.db"
    storage = SQLiteStorage(path)
    await storage.open()
    ann = await storage.upsert_user(Profile("github", "ann", "Ann"), datetime.now(UTC))
    await storage.add_session(User, "session-hash", ann.id, datetime.now(UTC) + timedelta(days=1))
    await storage.close()
    known = migrations("sqlite")
    broken = (known[-1][0] + 1, "broken", f"{REBUILDS_TABLES}\nDELETE FROM users;")
    monkeypatch.setattr(migrations_module, "migrations", lambda backend: (*known, broken))
    with pytest.raises(
        SetupError, match="a row of sessions names a row of users that is not there"
    ):
        await SQLiteStorage(path).open()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT name FROM users").fetchall() == [("Ann",)]
        assert conn.execute("SELECT max(number) FROM schema_migrations").fetchone() == (
            known[-1][0],
        )
    finally:
        conn.close()


@pytest.mark.slow  # a disk of its own (a mount), and a file of a few megabytes
async def test_an_upgrade_that_fills_the_disk_changes_nothing_and_says_so(tmp_path: Path) -> None:
    """0014 rewrites the numbered tables whole: with too little room for that, the start stops
    with what to do, and the file is as it was; with room, the same file upgrades."""
    made = tmp_path / "made" / "widget.db"
    await schema_before(f"sqlite:///{made}", 14, BEFORE_0014)
    conn = sqlite3.connect(made)
    conn.executemany(
        "INSERT INTO comments (thread_id, depth, status, author_name, author_email,"
        " body_source, body_html, created_at) VALUES (3, 1, 'approved', 'Ann', '', ?, ?, 0)",
        [(f"{n} " + "words " * 150,) * 2 for n in range(3000)],
    )  # fmt: skip
    conn.commit()
    rows = rows_of_every_table(conn)
    conn.close()
    size_kb = made.stat().st_size // 1024
    disk = tmp_path / "disk"
    with small_disk(disk, size_kb=size_kb * 3 // 2):  # room for the file and half of it again
        path = disk / "widget.db"
        shutil.copyfile(made, path)
        with pytest.raises(SetupError, match=r"is full .* free some space, then start again"):
            await SQLiteStorage(path).open()
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("SELECT max(number) FROM schema_migrations").fetchone() == (13,)
            assert rows_of_every_table(conn) == rows
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            conn.close()
        roomy = tmp_path / "roomy" / "widget.db"
        roomy.parent.mkdir()
        for left in disk.glob("widget.db*"):  # as it was left, whatever the failed start wrote
            shutil.copyfile(left, roomy.with_name(left.name))
    storage = SQLiteStorage(roomy)
    await storage.open()
    await storage.close()
    conn = sqlite3.connect(roomy)
    try:
        assert conn.execute("SELECT max(number) FROM schema_migrations").fetchone() == (14,)
        assert rows_of_every_table(conn) == rows
    finally:
        conn.close()


async def test_a_dump_loaded_with_its_numbers_gives_none_of_them_again(
    database_url: str, tmp_path: Path
) -> None:
    """Loading keeps each row's number (an explicit id): new rows go past the largest loaded,
    and past the largest ever given once that one is deleted."""
    source = SQLiteStorage(tmp_path / "source.db")
    await source.open()
    target = storage_for_url(database_url)
    await target.open()
    try:
        await source.add_site("blog", "The blog", [BLOG], {})
        for n in range(3):
            await source.add_comment(new_comment(f"comment {n}"), None)
        await target.restore(source.dump())
        newest, _ = await target.add_comment(new_comment("after the copy"), None)
        assert newest.id == 4
        await target.set_status([newest.id], "spam", ["blog"])
        assert await target.purge_spam(["blog"]) == 1
        after, _ = await target.add_comment(new_comment("after the spam went"), None)
        assert after.id == 5
    finally:
        await target.close()
        await source.close()


async def test_writes_by_another_instance_are_seen_within_a_second(
    storage: Storage, database_url: str
) -> None:
    """SQLite: another process (the command line) writing to the file; PostgreSQL: another
    instance. Either way this one's cached heads and sites must follow within a second."""
    await storage.add_comment(new_comment(), None)
    head = await storage.get_thread_head("blog", "/p/")  # now cached
    assert head is not None and await storage.get_site("blog") is not None
    other = storage_for_url(database_url)
    await other.open()
    try:
        await other.add_comment(new_comment("from elsewhere"), None)
        await other.update_site("blog", name="Renamed")
    finally:
        await other.close()
    for _ in range(30):
        fresh = await storage.get_thread_head("blog", "/p/")
        site = await storage.get_site("blog")
        if fresh is not None and fresh.comment_count == 2 and site and site.name == "Renamed":
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("this instance never saw the other's changes")


async def test_the_page_query_uses_the_roots_index(tmp_path: Path) -> None:
    storage = SQLiteStorage(tmp_path / "q.db")
    await storage.open()
    await storage.close()
    conn = sqlite3.connect(tmp_path / "q.db")
    plan = " ".join(
        row[3] for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM comments WHERE thread_id = 1 AND parent_id IS NULL"
            " AND id > 0 ORDER BY id LIMIT 51"
        )
    )  # fmt: skip
    assert "comments_roots" in plan
    replies = " ".join(
        row[3] for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM comments WHERE root_id IN (1, 2, 3) ORDER BY id"
        )
    )  # fmt: skip
    assert "comments_by_root" in replies
    conn.close()


async def test_an_authors_history_is_searched_by_index_not_scanned(tmp_path: Path) -> None:
    """Each post asks for its author's history: a scan of the comments there made every post
    slower as the table grew (7 ms a post at 11,500 comments)."""
    storage = SQLiteStorage(tmp_path / "q.db")
    await storage.open()
    statements: list[str] = []
    try:
        for reader in storage._all_readers:  # every statement as run, with its values
            await reader._execute(reader._conn.set_trace_callback, statements.append)  # type: ignore[no-untyped-call]
        for user_id, email in [(None, "a@example.com"), (7, ""), (7, "a@example.com")]:
            await storage.author_history("blog", email, user_id, "fp", datetime.now(UTC))
    finally:
        await storage.close()
    conn = sqlite3.connect(tmp_path / "q.db")
    history = [s for s in statements if "fingerprint" in s]
    assert len(history) == 3
    for statement in history:
        plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}")]
        assert not [step for step in plan if step.startswith("SCAN c")], plan
        assert any("comments_by_fingerprint" in step for step in plan), plan
    conn.close()


async def test_committed_changes_reach_the_event_sink(storage: Storage) -> None:
    seen: list[ThreadEvent] = []
    storage.on_event(seen.append)
    comment, _ = await storage.add_comment(new_comment(), None)
    with pytest.raises(Refused, match=Outcome.PARENT_ELSEWHERE.value):
        await storage.add_comment(new_comment(parent=99999), None)  # rolled back: no event
    await storage.set_like(PAGE, comment.id, "v1", True, None, datetime.now(UTC))
    await storage.edit_comment(
        comment.id, body_source="new", body_html="<p>new</p>", author_name="Ann",
        author_url="", edited_at=datetime.now(UTC),
    )  # fmt: skip
    await storage.delete_comment(comment.id)
    for _ in range(500):  # PostgreSQL delivers through LISTEN, a moment after COMMIT (10 s)
        if len(seen) >= 4:
            break
        await asyncio.sleep(0.02)
    assert [(e.kind, e.comment_id, e.count) for e in seen] == [
        ("comment", comment.id, 1),
        ("like", comment.id, 1),
        ("edit", comment.id, 1),
        ("delete", comment.id, 0),
    ]
    versions = [e.version for e in seen]
    assert versions == sorted(versions) and len(set(versions)) == 4


async def test_users_are_one_per_provider_identity(storage: Storage) -> None:
    now = datetime.now(UTC)
    ann = await storage.upsert_user(Profile("github", "17", "Ann", "ann@example.com"), now)
    again = await storage.upsert_user(Profile("github", "17", "Ann B.", "", "https://a/p.png"), now)
    assert again.id == ann.id
    assert (again.name, again.email, again.avatar_url) == ("Ann B.", "", "https://a/p.png")
    # The same email at another provider is another person.
    other = await storage.upsert_user(Profile("google", "17", "Ann", "ann@example.com"), now)
    assert other.id != ann.id
    assert await storage.get_user(ann.id) == again


async def test_login_codes_are_single_use_bound_and_short_lived(storage: Storage) -> None:
    now = datetime.now(UTC)
    user = await storage.upsert_user(Profile("oidc", "s", "Sam"), now)
    soon = now + timedelta(seconds=60)
    await storage.add_login_code("code-hash", "challenge", user.id, soon)
    assert await storage.take_login_code("code-hash", "wrong challenge", now) is None
    assert await storage.take_login_code("other hash", "challenge", now) is None
    assert await storage.take_login_code("code-hash", "challenge", now) == user.id
    assert await storage.take_login_code("code-hash", "challenge", now) is None  # used up
    await storage.add_login_code("polled", "challenge 2", user.id, soon)
    assert await storage.take_login_code(None, "challenge 2", now) == user.id  # by polling
    await storage.add_login_code("late", "challenge 3", user.id, soon)
    assert await storage.take_login_code("late", "challenge 3", soon + timedelta(seconds=1)) is None


async def test_sign_in_failures_are_told_once_to_their_challenge_only(storage: Storage) -> None:
    now = datetime.now(UTC)
    soon = now + timedelta(minutes=10)
    await storage.add_sign_in_failure("challenge", "Sign-in was cancelled.", soon)
    await storage.add_sign_in_failure("challenge", "The provider could not be reached.", soon)
    assert await storage.take_sign_in_failure("another challenge", now) is None
    assert await storage.take_sign_in_failure("challenge", now) == (
        "The provider could not be reached."  # the latest reason
    )
    assert await storage.take_sign_in_failure("challenge", now) is None  # told once
    await storage.add_sign_in_failure("late", "Too late.", soon)
    assert await storage.take_sign_in_failure("late", soon + timedelta(seconds=1)) is None


async def test_sessions_expire_and_end(storage: Storage) -> None:
    now = datetime.now(UTC)
    user = await storage.upsert_user(Profile("oidc", "s", "Sam"), now)
    await storage.add_session(User, "token-hash", user.id, now + timedelta(hours=1))
    assert await storage.get_session(User, "token-hash", now) == user
    assert await storage.get_session(User, "token-hash", now + timedelta(hours=2)) is None
    await storage.delete_session(User, "token-hash")
    assert await storage.get_session(User, "token-hash", now) is None


async def test_provider_apps_are_registered_once(storage: Storage) -> None:
    assert await storage.get_provider_app("mastodon", "mastodon.example") is None
    first = await storage.add_provider_app("mastodon", "mastodon.example", "id1", "secret1")
    second = await storage.add_provider_app("mastodon", "mastodon.example", "id2", "secret2")
    assert first == second == ("id1", "secret1")
    assert await storage.get_provider_app("mastodon", "mastodon.example") == ("id1", "secret1")


async def wait_for_events(seen: list[ThreadEvent], count: int) -> None:
    for _ in range(500):  # PostgreSQL delivers through LISTEN, a moment after COMMIT (10 s at most)
        if len(seen) >= count:
            return
        await asyncio.sleep(0.02)


async def test_status_changes_keep_counts_true_and_tell_readers(storage: Storage) -> None:
    seen: list[ThreadEvent] = []
    storage.on_event(seen.append)
    held, _ = await storage.add_comment(
        dataclasses.replace(new_comment("held"), status="pending"), None
    )
    shown, head = await storage.add_comment(new_comment("shown"), None)
    assert head.comment_count == 1
    # PostgreSQL tells of a write a moment later: the new comment's news first, then none left.
    await wait_for_events(seen, 1)
    assert [(e.kind, e.comment_id) for e in seen] == [("comment", shown.id)]
    seen.clear()
    changed = await storage.set_status([held.id, shown.id], "approved", ["blog"])
    assert [c.id for c in changed] == [held.id]  # the approved one did not change
    assert changed[0].status == "approved"
    await storage.set_status([shown.id], "spam", ["blog"])
    await storage.set_status([shown.id], "deleted", ["blog"])  # spam -> deleted: no change seen
    assert await storage.set_status([held.id], "spam", ["another-site"]) == []
    await wait_for_events(seen, 2)
    assert [(e.kind, e.comment_id, e.count) for e in seen] == [
        ("comment", held.id, 2),
        ("delete", shown.id, 1),
    ]
    thread = await storage.get_thread(held.thread_id)
    assert thread is not None and thread.comment_count == 1
    assert await storage.count_by_status(["blog"]) == {"blog": {"approved": 1, "deleted": 1}}


async def test_the_queue_filters_and_pages(storage: Storage) -> None:
    other = PageRef("blog", "/q/", "https://blog.example/q/", "Quiet 100% post")
    ids = [(await storage.add_comment(new_comment(f"c{n}"), None))[0].id for n in range(5)]
    spam, _ = await storage.add_comment(
        dataclasses.replace(new_comment("50% off", page=other), status="spam"), None
    )
    everything = await storage.list_queue(QueueQuery(("blog",)))
    assert [item.comment.id for item in everything] == [spam.id, *reversed(ids)]
    assert everything[0].title == "Quiet 100% post"
    page = await storage.list_queue(QueueQuery(("blog",), status="approved", limit=2,
                                               before_id=ids[3]))  # fmt: skip
    assert [item.comment.id for item in page] == [ids[2], ids[1]]
    assert [i.comment.id for i in await storage.list_queue(QueueQuery(("blog",), text="0%"))] == [
        spam.id
    ]
    assert await storage.list_queue(QueueQuery(("blog",), text="c_")) == []  # `_` is literal
    by_page = await storage.list_queue(QueueQuery(("blog",), page="QUIET"))
    assert [item.comment.id for item in by_page] == [spam.id]
    by_author = await storage.list_queue(QueueQuery(("blog",), author="192.0.2.1", limit=100))
    assert len(by_author) == 6
    one_thread = await storage.list_queue(QueueQuery(("blog",), thread_id=spam.thread_id))
    assert [item.comment.id for item in one_thread] == [spam.id]
    assert await storage.list_queue(QueueQuery(("elsewhere",))) == []


async def test_pinned_comments_come_with_the_default_page(storage: Storage) -> None:
    first, _ = await storage.add_comment(new_comment("first"), None)
    second, _ = await storage.add_comment(new_comment("second"), None)
    reply, _ = await storage.add_comment(new_comment("reply", parent=second.id), None)
    await storage.set_pinned(second.id, True)
    with pytest.raises(Refused, match=Outcome.NOT_TOP_LEVEL.value):
        await storage.set_pinned(reply.id, True)
    _, page = await storage.get_thread_page(first.thread_id, PageWindow("after", None, 1))
    assert [c.id for c in page.pinned] == [second.id]
    assert [c.id for c in page.roots] == [first.id]
    assert {c.id for c in page.replies} == {reply.id}
    _, later = await storage.get_thread_page(first.thread_id, PageWindow("after", first.id, 1))
    assert later.pinned == []


async def test_closed_threads_take_no_comments(storage: Storage) -> None:
    comment, _ = await storage.add_comment(new_comment(), None)
    head = await storage.set_closed(comment.thread_id, True)
    assert head.closed
    with pytest.raises(Refused, match=Outcome.THREAD_CLOSED.value):
        await storage.add_comment(new_comment(), None)
    await storage.set_closed(comment.thread_id, False)
    await storage.add_comment(new_comment(), None)
    with pytest.raises(Refused, match=Outcome.NO_THREAD.value):
        await storage.set_closed(999_999, True)


async def test_admins_and_their_sessions(storage: Storage) -> None:
    now = datetime.now(UTC)
    admin = await storage.add_admin("boss@example.com", "hash-1", None, now)
    helper = await storage.add_admin("helper@example.com", "hash-2", ["blog"], now)
    assert helper.sites == ("blog",) and helper.may_manage("blog")
    assert not helper.may_manage("other") and admin.may_manage("other")
    with pytest.raises(Refused, match=Outcome.ADMIN_EXISTS.value):
        await storage.add_admin("boss@example.com", "x", None, now)
    assert await storage.get_admin_login("boss@example.com") == (admin, "hash-1")
    await storage.add_session(Admin, "h1", admin.id, now + timedelta(hours=1))
    await storage.add_session(Admin, "old", admin.id, now - timedelta(seconds=1))
    assert await storage.get_session(Admin, "h1", now) == admin
    assert await storage.get_session(Admin, "old", now) is None
    changed = await storage.update_admin("boss@example.com", password_hash="hash-3")
    assert changed == admin
    assert await storage.get_session(Admin, "h1", now) is None  # a new password ends sessions
    scoped = await storage.update_admin("boss@example.com", sites=["blog"])
    assert scoped is not None and scoped.sites == ("blog",)
    assert await storage.update_admin("nobody@example.com", sites=None) is None
    assert [a.email for a in await storage.list_admins()] == [
        "boss@example.com", "helper@example.com",
    ]  # fmt: skip
    assert await storage.remove_admin("helper@example.com")
    assert not await storage.remove_admin("helper@example.com")


async def test_bans_are_lifted_only_within_scope(storage: Storage) -> None:
    now = datetime.now(UTC)
    everywhere = await storage.add_ban(None, "email", "a@example.com", "", now)
    here = await storage.add_ban("blog", "network", "192.0.2.0/24", "", now)
    assert len(await storage.list_bans("blog")) == 2
    assert not await storage.remove_ban(everywhere.id, ["blog"])
    assert await storage.remove_ban(here.id, ["blog"])
    assert await storage.remove_ban(everywhere.id, None)
    assert await storage.list_bans("blog") == []


async def test_an_author_sees_and_erases_only_their_own_comments(storage: Storage) -> None:
    now = datetime.now(UTC)
    user = await storage.upsert_user(Profile("github", "7", "Ann"), now)
    await storage.add_session(User, "session-hash", user.id, now + timedelta(days=1))
    mine, _ = await storage.add_comment(new_comment("mine"), None)
    bob = dataclasses.replace(new_comment("reply", parent=mine.id), author_email="bob@x.example")
    reply, _ = await storage.add_comment(bob, None)
    held = dataclasses.replace(new_comment("held"), author_email="ANN@example.com",
                               status="pending")  # fmt: skip
    waiting, _ = await storage.add_comment(held, None)
    signed_in, head = await storage.add_comment(
        dataclasses.replace(new_comment("as a user"), author_email="", user_id=user.id), None
    )
    assert head.comment_count == 3
    subscription = await storage.subscribe(head.id, "ann@example.com", now)
    await storage.confirm_subscription(subscription.id, "thread", now)

    by_email = await storage.author_comments("Ann@Example.com", None)
    assert [item.comment.id for item in by_email] == [mine.id, waiting.id]
    assert by_email[0].url == "https://blog.example/p/"
    assert [i.comment.id for i in await storage.author_comments(None, user.id)] == [signed_in.id]

    assert await storage.erase_author("ann@example.com", None) == 2
    assert await storage.author_comments("ann@example.com", None) == []
    erased = await storage.get_comment(mine.id)
    assert erased is not None
    assert (erased.status, erased.author_name, erased.body_source, erased.remote_ip) == (
        "deleted", "", "", "",
    )  # fmt: skip
    assert (await storage.get_comment(reply.id)) == reply  # replies by others are untouched
    thread = await storage.get_thread(head.id)
    assert thread is not None and thread.comment_count == 2  # the held one was never counted
    assert await storage.subscribers(Subscription, head.id) == []
    assert await storage.erase_author("ann@example.com", None) == 0  # nothing left to erase

    assert await storage.erase_author(None, user.id) == 1
    assert await storage.get_user(user.id) is None
    assert await storage.get_session(User, "session-hash", now) is None


def imported(
    key: str, parent: str | None = None, page: PageRef = PAGE, **fields: object
) -> ImportedComment:
    values: dict[str, object] = {
        "author_name": "Ann", "author_email": "ann@example.com", "author_url": "",
        "body_source": key, "body_html": f"<p>{key}</p>", "status": "approved",
        "created_at": datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC),
    }  # fmt: skip
    values.update(fields)
    return ImportedComment(key, parent, page, **values)  # type: ignore[arg-type]


async def items_of(
    *items: ImportedComment | ImportedLike,
) -> AsyncIterator[ImportedComment | ImportedLike]:
    for item in items:
        yield item


async def test_imports_are_all_or_nothing_and_idempotent(storage: Storage) -> None:
    other = PageRef("blog", "/q/", "https://blog.example/q/", "Q")
    batch: list[ImportedComment | ImportedLike] = [
        imported("a"), imported("b", "a"), imported("c", "b"), imported("lost", "nowhere"),
        imported("s", status="spam"), imported("d", page=other),
        ImportedLike("/p/", "a", "voter-1", datetime.now(UTC)),
        ImportedLike("/p/", None, "voter-1", datetime.now(UTC)),
    ]  # fmt: skip
    dry = await storage.import_comments("blog", items_of(*batch), dry_run=True)
    assert (dry.imported, dry.threads_created, dry.orphans) == (6, 2, ["lost"])
    assert await storage.count_by_status(["blog"]) == {"blog": {}}  # a dry run writes nothing

    tally = await storage.import_comments("blog", items_of(*batch))
    assert (tally.imported, tally.likes, tally.threads_created) == (6, 2, 2)
    again = await storage.import_comments("blog", items_of(*batch))
    assert (again.imported, again.threads_created) == (0, 0)
    assert again.duplicates == ["a", "b", "c", "lost", "s", "d"]

    rows: dict[str, list[dict[str, object]]] = {}
    async for exported in storage.export(["blog"], "/p/"):
        rows.setdefault(exported.table, []).extend(exported.rows)
    comments = {row["import_key"]: row for row in rows["comments"]}
    assert set(comments) == {"a", "b", "c", "lost", "s"}
    assert comments["c"]["parent_import_key"] == "b"
    assert comments["lost"]["parent_id"] is None
    assert comments["a"]["created_at"] == datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    (thread,) = rows["threads"]
    assert (thread["like_count"], thread["closed"]) == (1, False)
    head = await storage.get_thread(int(thread["id"]))  # type: ignore[call-overload]
    assert head is not None and head.comment_count == 4  # the spam is not counted
    assert [like["import_key"] for like in rows["likes"]] == [None, "a"]


async def test_an_import_that_fails_halfway_leaves_nothing(storage: Storage) -> None:
    async def failing() -> AsyncIterator[ImportedComment | ImportedLike]:
        yield imported("one")
        yield imported("two", "one")
        raise RuntimeError("the staging file went away")

    with pytest.raises(RuntimeError, match="staging file went away"):
        await storage.import_comments("blog", failing())
    assert await storage.count_by_status(["blog"]) == {"blog": {}}
    assert await storage.get_thread_head("blog", "/p/") is None  # not even the thread
    tally = await storage.import_comments("blog", items_of(imported("one")))
    assert tally.imported == 1  # and the database takes the next import as usual


def test_every_refusal_storage_reports_reaches_people_as_a_sentence() -> None:
    for outcome in Outcome:
        error = explain(Refused(outcome, "blog"))
        assert 400 <= error.status < 500, outcome
        assert error.message.endswith("."), outcome


async def test_gauges_show_waiting_writes_and_busy_connections(storage: Storage) -> None:
    before = storage.gauges()
    assert before.connections_max >= 1
    assert before.connections_idle + before.connections_busy <= before.connections_max
    writes = [
        asyncio.create_task(storage.add_comment(new_comment(f"gauged {n}"), None))
        for n in range(20)
    ]
    await asyncio.sleep(0)  # each write has queued (SQLite) or taken a connection (PostgreSQL)
    during = storage.gauges()
    assert during.write_queue + during.connections_busy > 0
    await asyncio.gather(*writes)
    after = storage.gauges()
    assert (after.write_queue, after.connections_busy) == (0, 0)


async def test_emptying_spam_keeps_what_a_kept_comment_answers(storage: Storage) -> None:
    spam = dataclasses.replace(new_comment("buy now"), status="spam")
    lone, _ = await storage.add_comment(new_comment("liked, then found out"), None)
    await storage.set_like(PAGE, lone.id, "voter-1", True, None, datetime.now(UTC))
    await storage.set_status([lone.id], "spam", ["blog"])
    # Replies came while their parents were published; the parents were found out later.
    chain, _ = await storage.add_comment(new_comment("spam in disguise"), None)
    await storage.add_comment(dataclasses.replace(spam, parent_id=chain.id), None)
    answered, _ = await storage.add_comment(new_comment("also spam"), None)
    kept, _ = await storage.add_comment(new_comment("a real answer", parent=answered.id), None)
    await storage.set_status([chain.id, answered.id], "spam", ["blog"])
    await storage.add_site("other", "Other", ["https://other.example"], {})
    other_page = PageRef("other", "/x/", "https://other.example/x/", "X")
    elsewhere, _ = await storage.add_comment(
        dataclasses.replace(new_comment("spam elsewhere", page=other_page), status="spam"), None
    )
    assert await storage.purge_spam(["blog"]) == 3  # the lone one, and the chain leaf by leaf
    assert await storage.get_comment(lone.id) is None
    assert await storage.get_comment(chain.id) is None
    assert (await storage.get_comment(answered.id)).status == "spam"  # type: ignore[union-attr]
    assert (await storage.get_comment(kept.id)) is not None
    assert (await storage.get_comment(elsewhere.id)) is not None
    assert await storage.get_voter_likes(lone.thread_id, "voter-1") == set()
    assert await storage.purge_spam(["blog"]) == 0
    assert await storage.purge_spam([]) == 0
