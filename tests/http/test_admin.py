"""The admin side: accounts, sign-in, CSRF, the moderation queue, comment tools, site settings."""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import httpx
import itsdangerous
import pytest
from starlette.applications import Starlette

from tests.admins import PASSWORD, Admin, hidden, log_in, make_admin, signed_in
from tests.conftest import ClientFactory
from tests.helpers import (
    BLOG,
    EMBED,
    OWN_ORIGIN,
    PAGE,
    PUBLIC_URL,
    QUICK,
    Widget,
    comment_body,
    loaded_at_start,
    make_settings,
    number_again,
    post_comment,
    posted,
    running_app,
)
from tests.signing_in import signed_in_commenter
from widget.auth.providers import configured_providers
from widget.config import ConfigError
from widget.errors import Invalid
from widget.moderation.actions import MAX_BULK, MAX_UNDO
from widget.records import QueueQuery
from widget.sites import add_site, change_site_setting, parse_site_settings, remove_origin

T = TypeVar("T")


@pytest.fixture
async def boss(app: Starlette, client: httpx.AsyncClient) -> Admin:
    await make_admin(app, "boss@example.com")
    return await signed_in(client, "boss@example.com")


async def fragment(client: httpx.AsyncClient) -> str:
    return (await client.get("/embed/blog/thread/fragment", params=EMBED)).text


async def status_of(app: Starlette, comment_id: int) -> str:
    comment = await app.state.widget.storage.get_comment(comment_id)
    assert comment is not None
    return str(comment.status)


# -- accounts and signing in ---------------------------------------------------------------------


def test_admin_accounts_from_the_command_line(widget: Widget, database_url: str) -> None:
    assert widget("site", "add", "blog", "--origin", BLOG, database_url=database_url).code == 0
    added = widget("admin", "add", "Boss@Example.com", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.code == 0, added.err
    assert "Added admin boss@example.com  (every site)" in added.out
    again = widget("admin", "add", "boss@example.com", "--password-stdin", stdin=PASSWORD + "\n")
    assert again.code == 1
    assert "already an admin" in again.err
    short = widget("admin", "add", "x@example.com", "--password-stdin", stdin="short\n")
    assert short.code == 1
    assert "at least 10 characters" in short.err
    scoped = widget("admin", "sites", "boss@example.com", "--site", "blog")
    assert scoped.out.strip() == "boss@example.com  (sites: blog)"
    unknown_site = widget("admin", "sites", "boss@example.com", "--site", "nope")
    assert unknown_site.code == 1
    assert "no site called 'nope'" in unknown_site.err
    listed = widget("admin", "list")
    assert listed.out.strip() == "boss@example.com  (sites: blog)"
    no_tty = widget("admin", "password", "boss@example.com")
    assert "--password-stdin" in no_tty.err
    removed = widget("admin", "remove", "boss@example.com")
    assert removed.code == 0
    assert "No admins yet" in widget("admin", "list").out


async def test_admin_pages_ask_to_sign_in_first(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin/sites/blog/comments", params={"status": "spam"})
    assert response.status_code == 303
    assert response.headers["location"] == (
        "/admin/login?next=%2Fadmin%2Fsites%2Fblog%2Fcomments%3Fstatus%3Dspam"
    )
    login = await client.get(response.headers["location"])
    assert login.status_code == 200
    assert 'name="next" value="/admin/sites/blog/comments?status=spam"' in login.text


async def test_signing_in_sets_a_strict_cookie_and_goes_where_asked(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_admin(app, "boss@example.com")
    response = await log_in(client, "Boss@Example.com", next_page="/admin/sites/blog")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/sites/blog"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("widget_admin=")
    for attribute in ("Path=/admin", "HttpOnly", "SameSite=Strict", "Max-Age=43200"):
        assert attribute in cookie
    client.cookies.clear()
    admin = Admin(client, cookie.split(";")[0])
    assert (await admin.get("/admin/sites/blog")).status_code == 200


@pytest.mark.parametrize("target", ["//evil.example/admin/", "https://evil.example/", "/embed/x"])
async def test_sign_in_never_sends_elsewhere(
    app: Starlette, client: httpx.AsyncClient, target: str
) -> None:
    await make_admin(app, "boss@example.com")
    response = await log_in(client, "boss@example.com", next_page=target)
    assert response.headers["location"] == "/admin/"


async def test_wrong_passwords_and_unknown_emails_get_the_same_answer(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_admin(app, "boss@example.com")
    wrong = await log_in(client, "boss@example.com", password="not the password")
    unknown = await log_in(client, "nobody@example.com")
    for response in (wrong, unknown):
        assert response.status_code == 403
        assert "do not match an admin account" in response.text
        assert "set-cookie" not in response.headers
    assert 'value="boss@example.com"' in wrong.text  # the email is kept for another try


async def test_sign_in_attempts_are_limited(app: Starlette, client_from: ClientFactory) -> None:
    await make_admin(app, "boss@example.com")
    guesser = client_from("198.51.100.9")
    statuses = [(await log_in(guesser, "boss@example.com", f"guess {n}")).status_code
                for n in range(11)]  # fmt: skip
    assert statuses == [403] * 10 + [429]
    limited = await log_in(guesser, "boss@example.com")  # even the right password, for now
    assert limited.status_code == 429
    assert "Too many sign-in attempts" in limited.text
    assert int(limited.headers["retry-after"]) > 0


async def test_guesses_from_elsewhere_never_lock_an_admin_out_of_their_own_browser(
    app: Starlette, client_from: ClientFactory
) -> None:
    """Ten wrong passwords a quarter of an hour, from anywhere, kept the admin out for good
    (their right password got 429 too). The browser they signed in with before counts apart."""
    await make_admin(app, "boss@example.com")
    own_browser = client_from("192.0.2.10")
    first = await log_in(own_browser, "boss@example.com")
    assert first.status_code == 303
    guesses = [
        (await log_in(client_from(f"198.51.100.{n}"), "boss@example.com", f"guess {n}")).status_code
        for n in range(11)
    ]
    assert guesses == [403] * 9 + [429] * 2  # the admin's first sign-in counted too
    own_browser.cookies.delete("widget_admin")  # the session is over; the browser is known
    again = await log_in(own_browser, "boss@example.com")
    assert again.status_code == 303, again.text
    # A browser that never signed in is held back as before, right password or not; so is
    # one whose device cookie is another account's, or forged.
    assert (await log_in(client_from("192.0.2.99"), "boss@example.com")).status_code == 429
    await make_admin(app, "other@example.com")
    other_browser = client_from("192.0.2.11")
    assert (await log_in(other_browser, "other@example.com")).status_code == 303
    other_browser.cookies.delete("widget_admin")
    assert (await log_in(other_browser, "boss@example.com")).status_code == 429
    forged = client_from("192.0.2.12")
    forged.cookies.set("widget_admin_device", "forged", path="/admin/login")
    assert (await log_in(forged, "boss@example.com")).status_code == 429
    # The browser is known by a cookie sent to the sign-in page only, for 90 days.
    (device,) = [c for c in first.headers.get_list("set-cookie") if "widget_admin_device=" in c]
    for attribute in ("Path=/admin/login;", "HttpOnly", "SameSite=Strict", "Max-Age=7776000"):
        assert attribute in device


# Each check's memory is above glibc's largest mmap threshold (32 MiB), so it is mapped for the
# check and unmapped after: what is resident is what the running checks hold.
CHECK_KIB = 48 * 1024


def memory_kib(field: str) -> int:
    """This process's resident memory (VmRSS) or its peak since the last reset (VmHWM)."""
    status = Path("/proc/self/status").read_text()
    return int(status.split(f"{field}:")[1].split()[0])


@contextlib.asynccontextmanager
async def costly_passwords(tmp_path: Path, at_once: int) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose password checks take CHECK_KIB each, `at_once` at a time, with
    the admin boss@example.com."""
    settings = make_settings(
        tmp_path / "data", admin_password_memory_kib=CHECK_KIB, admin_password_time_cost=1,
        admin_password_checks_at_once=at_once,
    )  # fmt: skip
    async with running_app(settings) as app:
        await make_admin(app, "boss@example.com")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as client:
            yield client


def restart_peak_memory() -> int:
    """The resident memory now, from which the peak (VmHWM) is measured again."""
    Path("/proc/self/clear_refs").write_text("5")
    return memory_kib("VmRSS")


async def peak_growth_kib(work: Awaitable[T]) -> tuple[T, int]:
    """What `work` returns, and how far this process's resident memory rose while it ran."""
    before = restart_peak_memory()
    done = await work
    return done, memory_kib("VmHWM") - before


@pytest.mark.parametrize("at_once", [1, 2])
async def test_sign_ins_at_once_take_the_memory_of_a_bounded_number_of_checks(
    tmp_path: Path, at_once: int
) -> None:
    async with costly_passwords(tmp_path, at_once) as client:
        page = await client.get("/admin/login")
        form = {"email": "boss@example.com", "login_token": hidden(page.text, "login_token")}
        attempts = [{**form, "password": PASSWORD if n % 2 else f"guess {n}"} for n in range(4)]
        sign_ins = [client.post("/admin/login", data=attempt, headers=OWN_ORIGIN)
                    for attempt in attempts]  # fmt: skip
        answers, grown = await peak_growth_kib(asyncio.gather(*sign_ins))
    assert [answer.status_code for answer in answers] == [403, 303] * 2
    # Four checks were asked for at once (the thread pool runs at least five, 32 at most); only
    # `at_once` ran: without the bound, all four hold their memory together.
    assert CHECK_KIB * 0.5 < grown < CHECK_KIB * (at_once + 0.25), grown


async def test_an_unknown_address_costs_a_whole_password_check(tmp_path: Path) -> None:
    async with costly_passwords(tmp_path, 1) as client:
        page = await client.get("/admin/login")
        form = {"email": "nobody@example.com", "password": PASSWORD,
                "login_token": hidden(page.text, "login_token")}  # fmt: skip
        answer, grown = await peak_growth_kib(
            client.post("/admin/login", data=form, headers=OWN_ORIGIN)
        )
    assert answer.status_code == 403
    assert "do not match an admin account" in answer.text
    # What a wrong password costs at these settings (argon2 fills all its memory, and its time
    # goes with it), not what the library's defaults would (64 MiB), nor nothing.
    assert CHECK_KIB * 0.8 < grown < CHECK_KIB * 1.2, grown


async def test_sign_in_needs_our_form_and_origin(
    app: Starlette, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_admin(app, "boss@example.com")
    form = {"email": "boss@example.com", "password": PASSWORD}
    no_token = await client.post("/admin/login", data=form, headers=OWN_ORIGIN)
    assert no_token.status_code == 403
    assert "expired" in no_token.text
    two_hours_ago = int(datetime.now(UTC).timestamp()) - 2 * 3600  # the form is good for one
    monkeypatch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: two_hours_ago)
    stale = app.state.widget.admin.login_form_token()
    monkeypatch.undo()
    left_open = await client.post(
        "/admin/login", data={**form, "login_token": stale}, headers=OWN_ORIGIN
    )
    assert left_open.status_code == 403
    assert "expired" in left_open.text
    page = await client.get("/admin/login")
    form["login_token"] = hidden(page.text, "login_token")
    elsewhere = await client.post("/admin/login", data=form, headers={"Origin": BLOG})
    assert elsewhere.status_code == 403


async def test_admin_pages_cannot_be_framed_or_cached(boss: Admin) -> None:
    for path in ("/admin/", "/admin/login", "/admin/sites/blog", "/admin/sites/nope"):
        response = await boss.get(path)
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"


async def test_every_admin_form_needs_the_csrf_token(boss: Admin, app: Starlette) -> None:
    comment = await posted(boss.client)
    path = "/admin/sites/blog/comments"
    for token in ("", "forged", boss.csrf[:-2]):
        response = await boss.client.post(
            path, data={"csrf": token, "one": f"spam:{comment['comment']['id']}"},
            headers={**OWN_ORIGIN, "Cookie": boss.cookie},
        )  # fmt: skip
        assert response.status_code == 403
        assert "reload it" in response.text
    other = await signed_in(boss.client, "boss@example.com")
    await other.get("/admin/")
    stolen = await boss.client.post(  # a token of another session does not do
        path, data={"csrf": other.csrf, "one": f"spam:{comment['comment']['id']}"},
        headers={**OWN_ORIGIN, "Cookie": boss.cookie},
    )  # fmt: skip
    assert stolen.status_code == 403
    assert await status_of(app, comment["comment"]["id"]) == "approved"


async def test_over_https_the_session_cookie_is_one_no_other_host_of_the_site_can_set(
    tmp_path: Path,
) -> None:
    public = "https://comments.example.com"
    async with running_app(make_settings(tmp_path / "data", public_url=public)) as app:
        await make_admin(app, "boss@example.com")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=public) as client:
            page = await client.get("/admin/login")
            form = {"email": "boss@example.com", "password": PASSWORD, "next": "/admin/",
                    "login_token": hidden(page.text, "login_token")}  # fmt: skip
            response = await client.post("/admin/login", data=form, headers={"Origin": public})
            assert response.status_code == 303
            (cookie,) = [c for c in response.headers.get_list("set-cookie") if "Path=/;" in c]
            assert cookie.startswith("__Host-widget_admin=")
            for attribute in ("Secure", "HttpOnly", "SameSite=Strict"):
                assert attribute in cookie
            token = cookie.split(";")[0].split("=", 1)[1]
            client.cookies.clear()
            own = await client.get("/admin/", headers={"Cookie": f"__Host-widget_admin={token}"})
            assert own.status_code == 200
            # The same session under the plain name, which blog.example.com could set for
            # Domain=example.com: no session at all.
            tossed = await client.get("/admin/", headers={"Cookie": f"widget_admin={token}"})
            assert tossed.status_code == 303
            assert tossed.headers["location"].startswith("/admin/login")


async def test_log_out_ends_the_session(boss: Admin) -> None:
    response = await boss.post("/admin/logout")
    assert response.status_code == 303
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert (await boss.get("/admin/")).status_code == 303


async def test_a_new_password_ends_every_session(boss: Admin, app: Starlette) -> None:
    await app.state.widget.storage.update_admin(
        "boss@example.com", password_hash=app.state.widget.admin.passwords.hash("another one!")
    )
    assert (await boss.get("/admin/")).status_code == 303


# -- scoping -------------------------------------------------------------------------------------


async def test_an_admin_of_one_site_sees_nothing_of_the_others(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    storage = app.state.widget.storage
    await add_site(storage, "other", ["https://other.example"], "Other blog", QUICK)
    theirs = await posted(client, site="other", page="/x/", url="https://other.example/x/")
    await make_admin(app, "helper@example.com", ["blog"])
    helper = await signed_in(client, "helper@example.com")
    dashboard = (await helper.get("/admin/")).text
    assert "The blog" in dashboard
    assert "Other blog" not in dashboard
    assert "Add a site" not in dashboard
    for path in ("/admin/sites/other", "/admin/sites/other/comments",
                 f"/admin/comments/{theirs['comment']['id']}"):  # fmt: skip
        assert (await helper.get(path)).status_code == 404, path
    acting = await helper.post("/admin/sites/blog/comments", one=f"spam:{theirs['comment']['id']}")
    assert acting.status_code == 303  # nothing of this site changed...
    assert await status_of(app, theirs["comment"]["id"]) == "approved"  # ...nor of the other
    for path, fields in (
        ("/admin/sites/other/comments", {"one": f"spam:{theirs['comment']['id']}"}),
        ("/admin/sites/other/comments/undo", {"undo": f"{theirs['comment']['id']}:spam"}),
    ):  # the other site's own forms, posted by hand
        assert (await helper.post(path, **fields)).status_code == 404, path
        assert await status_of(app, theirs["comment"]["id"]) == "approved"
    assert (await helper.post("/admin/sites", site="new", origins=BLOG)).status_code == 404


async def test_the_dashboards_recent_comments_name_their_site(boss: Admin, app: Starlette) -> None:
    await add_site(app.state.widget.storage, "other", ["https://other.example"], "Other", QUICK)
    await posted(boss.client, body="On the blog")
    await posted(boss.client, site="other", page="/x/", url="https://other.example/x/",
                 body="On the other one")  # fmt: skip
    dashboard = (await boss.get("/admin/")).text
    recent = dashboard.split("<h2>Recent comments</h2>")[1]
    for site, body in (("blog", "On the blog"), ("other", "On the other one")):
        row = next(part for part in recent.split("<article") if body in part)
        assert f'· site <a href="/admin/sites/{site}">{site}</a>' in row


# -- the queue -----------------------------------------------------------------------------------


async def test_held_comments_wait_in_the_queue_and_approval_publishes_them(
    boss: Admin, app: Starlette
) -> None:
    await change_site_setting(app.state.widget.storage, "blog", "moderation", "all")
    held = [(await posted(boss.client, body=f"Held number {n}"))["comment"]["id"] for n in range(3)]
    dashboard = (await boss.get("/admin/")).text
    assert "<strong>3</strong> comments wait for moderation." in dashboard
    queue = (await boss.get("/admin/sites/blog/comments")).text
    for n in range(3):
        assert f"Held number {n}" in queue
    assert "Held: every comment is moderated on this site" in queue
    assert "Held number 0" not in await fragment(boss.client)

    response = await boss.post(
        "/admin/sites/blog/comments", [("id", str(held[0])), ("id", str(held[1]))],
        action="approve", back="/admin/sites/blog/comments?status=pending",
    )  # fmt: skip
    assert response.status_code == 303
    undo = f"{held[0]}%3Apending%2C{held[1]}%3Apending"
    assert response.headers["location"] == (
        f"/admin/sites/blog/comments?status=pending&done=approve&n=2&undo={undo}"
    )
    after = await boss.get(response.headers["location"])
    assert "Approved 2 comments." in after.text
    assert "Held number 2" in after.text
    assert "Held number 0" not in after.text
    shown = await fragment(boss.client)
    assert "Held number 0" in shown
    assert "Held number 1" in shown
    assert "2 Responses to “Hello world”" in shown


async def test_spam_and_delete_take_a_comment_out_and_restore_brings_it_back(
    boss: Admin, app: Starlette
) -> None:
    comment = (await posted(boss.client, body="Soon gone"))["comment"]["id"]
    await boss.post("/admin/sites/blog/comments", one=f"spam:{comment}")
    assert await status_of(app, comment) == "spam"
    assert "Soon gone" not in await fragment(boss.client)
    assert "spam (1)" in (await boss.get("/admin/sites/blog/comments", status="spam")).text
    await boss.post("/admin/sites/blog/comments", one=f"delete:{comment}")
    assert await status_of(app, comment) == "deleted"
    await boss.post("/admin/sites/blog/comments", one=f"restore:{comment}")
    assert await status_of(app, comment) == "approved"
    shown = await fragment(boss.client)
    assert "Soon gone" in shown
    assert "One Response to" in shown


async def test_a_removed_comment_keeps_its_replies_in_place(boss: Admin) -> None:
    parent = (await posted(boss.client, body="The parent"))["comment"]["id"]
    await posted(boss.client, body="The reply", parent=parent)
    await boss.post("/admin/sites/blog/comments", one=f"spam:{parent}")
    shown = await fragment(boss.client)
    assert "The parent" not in shown
    assert "This comment was removed." in shown
    assert "The reply" in shown
    assert "One Response to" in shown
    thread = (await boss.client.get("/api/v1/threads", params=PAGE)).json()
    assert thread["comments"][0]["deleted"] is True
    assert thread["comments"][0]["html"] == ""
    assert thread["comments"][0]["author"] is None


async def test_the_queue_searches_text_author_and_page(boss: Admin) -> None:
    await posted(boss.client, body="About 100% cotton", name="Zed", email="zed@example.com")
    await posted(boss.client, body="Nothing to see", page="/other/", url=f"{BLOG}/other/",
                 title="Other post")  # fmt: skip
    await posted(boss.client, body="Under_score")

    async def found(**search: str) -> list[str]:
        page = (await boss.get("/admin/sites/blog/comments", status="all", **search)).text
        return re.findall(r'<div class="text"><p>(.*?)</p>', page)

    assert await found(q="100%") == ["About 100% cotton"]
    assert await found(q="_") == ["Under_score"]  # wildcards are taken literally
    assert await found(author="ZED@") == ["About 100% cotton"]
    assert await found(author="203.0.113") != []  # by IP address
    assert await found(page="other post") == ["Nothing to see"]
    assert await found(q="nothing", page="hello") == []
    assert "match this search" in (await boss.get("/admin/sites/blog/comments", q="zzz")).text


async def test_the_queue_pages_by_fifty(boss: Admin, app: Starlette) -> None:
    for n in range(55):
        await posted(boss.client, body=f"Comment {n}")
    first = (await boss.get("/admin/sites/blog/comments", status="approved")).text
    assert first.count('class="comment status-approved"') == 50
    assert "Comment 54" in first
    older = re.search(r'href="(\?[^"]*before=\d+[^"]*)">Older comments', first)
    assert older is not None
    second = await boss.get("/admin/sites/blog/comments" + older.group(1).replace("&amp;", "&"))
    assert second.text.count('class="comment status-approved"') == 5
    assert "Comment 0<" in second.text
    assert "Older comments" not in second.text


async def test_bulk_actions_need_a_selection_and_a_known_action(boss: Admin) -> None:
    comment = (await posted(boss.client))["comment"]["id"]
    none_selected = await boss.post("/admin/sites/blog/comments", action="approve")
    assert none_selected.status_code == 422
    assert "Select at least one comment" in none_selected.text
    unknown = await boss.post("/admin/sites/blog/comments", [("id", str(comment))], action="nuke")
    assert unknown.status_code == 422
    bad_id = await boss.post("/admin/sites/blog/comments", [("id", "x")], action="spam")
    assert bad_id.status_code == 404
    bad_filter = await boss.get("/admin/sites/blog/comments", status="weird")
    assert bad_filter.status_code == 422


async def test_unapprove_sends_a_comment_back_to_the_queue(boss: Admin) -> None:
    comment = (await posted(boss.client, body="Back you go"))["comment"]["id"]
    assert "Back you go" in await fragment(boss.client)
    done = await boss.post("/admin/sites/blog/comments", one=f"unapprove:{comment}")
    assert done.status_code == 303
    assert "done=unapprove" in done.headers["location"]
    assert "Back you go" not in await fragment(boss.client)
    pending = await boss.get("/admin/sites/blog/comments", status="pending")
    assert "Back you go" in pending.text


async def test_undo_puts_each_comment_back_as_it_was(boss: Admin, app: Starlette) -> None:
    shown = (await posted(boss.client, body="Was shown"))["comment"]["id"]
    held = (await posted(boss.client, body="Was held"))["comment"]["id"]
    storage = app.state.widget.storage
    await storage.set_status([held], "pending", ["blog"])
    spammed = await boss.post(
        "/admin/sites/blog/comments", [("id", str(shown)), ("id", str(held))], action="spam"
    )
    location = spammed.headers["location"]
    assert f"undo={shown}%3Aapproved%2C{held}%3Apending" in location
    page = await boss.get(location)
    assert "Marked 2 comments as spam." in page.text
    assert 'action="/admin/sites/blog/comments/undo"' in page.text
    undo = re.search(r'name="undo" value="([^"]+)"', page.text)
    assert undo
    undone = await boss.post("/admin/sites/blog/comments/undo", undo=html.unescape(undo.group(1)))
    assert undone.status_code == 303
    assert "undo=" not in undone.headers["location"]
    after = await boss.get(undone.headers["location"])
    assert "Undone: 2 comments back as before." in after.text
    assert (await storage.get_comment(shown)).status == "approved"
    assert (await storage.get_comment(held)).status == "pending"

    deleted = await boss.post("/admin/sites/blog/comments", one=f"delete:{shown}")
    assert f"undo={shown}%3Aapproved" in deleted.headers["location"]
    assert "Was shown" not in await fragment(boss.client)
    undo = re.search(
        r'name="undo" value="([^"]+)"', (await boss.get(deleted.headers["location"])).text
    )
    assert undo
    await boss.post("/admin/sites/blog/comments/undo", undo=html.unescape(undo.group(1)))
    assert "Was shown" in await fragment(boss.client)  # back on its page

    forged = await boss.post("/admin/sites/blog/comments/undo", undo=f"{shown}:published")
    assert forged.status_code == 422
    assert "nothing to undo" in forged.text


# -- one comment: edit, pin, close, ban ----------------------------------------------------------


async def test_an_edit_is_rendered_and_sanitised_again(boss: Admin, app: Starlette) -> None:
    comment = (await posted(boss.client, body="Typo hre"))["comment"]["id"]
    page = await boss.get(f"/admin/comments/{comment}")
    assert ">Typo hre</textarea>" in page.text
    response = await boss.post(
        f"/admin/comments/{comment}", body="Typo **here** <script>alert(1)</script>",
        name="Ann B.", website="ann.example",
    )  # fmt: skip
    assert response.status_code == 303
    shown = await fragment(boss.client)
    assert "Typo <strong>here</strong>" in shown
    assert "<script>" not in shown
    assert '<a href="https://ann.example" rel="nofollow ugc noopener">Ann B.</a>' in shown
    assert "(edited)" in shown
    empty = await boss.post(f"/admin/comments/{comment}", body="  ", name="Ann")
    assert empty.status_code == 422
    assert 'id="body-error">' in empty.text
    stored = await app.state.widget.storage.get_comment(comment)
    assert stored.body_source.startswith("Typo **here**")


async def test_a_pinned_comment_comes_first(boss: Admin, app: Starlette) -> None:
    first = (await posted(boss.client, body="Oldest"))["comment"]["id"]
    await posted(boss.client, body="Middle")
    last = (await posted(boss.client, body="Newest, and pinned"))["comment"]["id"]
    reply = (await posted(boss.client, body="A reply", parent=first))["comment"]["id"]
    await boss.post(f"/admin/comments/{last}/pin", pinned="1")
    shown = await fragment(boss.client)
    assert shown.index("Newest, and pinned") < shown.index("Oldest") < shown.index("Middle")
    assert shown.count('id="comment-' + str(last) + '"') == 1
    assert '<strong class="wg-pinned">Pinned</strong>' in shown
    assert (await boss.post(f"/admin/comments/{reply}/pin", pinned="1")).status_code == 422
    await change_site_setting(app.state.widget.storage, "blog", "order", "newest")
    newest_first = await fragment(boss.client)
    assert newest_first.index("Newest, and pinned") < newest_first.index("Middle")
    await boss.post(f"/admin/comments/{last}/pin", pinned="0")
    assert "wg-pinned" not in await fragment(boss.client)


async def test_a_closed_thread_takes_no_comments(boss: Admin) -> None:
    comment = (await posted(boss.client))["comment"]["id"]
    response = await boss.post(f"/admin/comments/{comment}/thread", closed="1")
    assert response.headers["location"].endswith("done=closed")
    refused = await post_comment(boss.client)
    assert refused.status_code == 403
    assert refused.json()["error"] == "Comments are closed on this page."
    document = (await boss.client.get("/embed/blog/thread", params=EMBED)).text
    assert '<p class="wg-closed" id="wg-closed">Comments are closed.</p>' in document
    assert '<div id="respond" class="wg-respond" hidden>' in document
    assert "wg-reply" not in await fragment(boss.client)
    await boss.post(f"/admin/comments/{comment}/thread", closed="0")
    assert (await post_comment(boss.client)).status_code == 201


async def test_banning_from_a_comment(boss: Admin, app: Starlette) -> None:
    comment = (await posted(boss.client, email="Troll@Example.com"))["comment"]["id"]
    response = await boss.post(f"/admin/comments/{comment}/ban", kind="email")
    assert response.status_code == 303
    assert await status_of(app, comment) == "spam"
    again = (await post_comment(boss.client, email="troll@example.com")).json()
    assert again["held"] is True
    assert await status_of(app, again["comment"]["id"]) == "spam"
    bans = (await boss.get("/admin/sites/blog")).text
    assert "<code>troll@example.com</code>" in bans
    network = (await posted(boss.client, email="kind@example.com"))["comment"]["id"]
    await boss.post(f"/admin/comments/{network}/ban", kind="network")
    assert "<code>203.0.113.7/32</code>" in (await boss.get("/admin/sites/blog")).text
    no_user = await boss.post(f"/admin/comments/{network}/ban", kind="user")
    assert no_user.status_code == 422


async def test_a_network_ban_from_an_ipv6_comment_covers_its_64(
    boss: Admin, app: Starlette, client_from: ClientFactory
) -> None:
    # One IPv6 subscriber usually holds a whole /64: banning one address of it bans nothing.
    comment = (await posted(client_from("2001:db8:1:2::10"), email="a@example.com"))["comment"]
    await boss.post(f"/admin/comments/{comment['id']}/ban", kind="network")
    assert "<code>2001:db8:1:2::/64</code>" in (await boss.get("/admin/sites/blog")).text
    neighbour = await posted(client_from("2001:db8:1:2:ffff::1"), email="b@example.com")
    assert await status_of(app, neighbour["comment"]["id"]) == "spam"
    elsewhere = await posted(client_from("2001:db8:1:3::1"), email="c@example.com")
    assert await status_of(app, elsewhere["comment"]["id"]) == "approved"


async def test_bulk_actions_and_undo_are_bounded(boss: Admin) -> None:
    ids = [("id", str(n)) for n in range(1, MAX_BULK + 2)]
    too_many = await boss.post("/admin/sites/blog/comments", ids, action="spam")
    assert too_many.status_code == 422
    assert f"Select at most {MAX_BULK} comments at once." in too_many.text
    undo = ",".join(f"{n}:pending" for n in range(1, MAX_UNDO + 2))
    too_long = await boss.post("/admin/sites/blog/comments/undo", undo=undo)
    assert too_long.status_code == 422
    assert f"Undo puts back at most {MAX_UNDO} comments." in too_long.text


async def test_a_form_goes_back_only_to_an_admin_page(boss: Admin) -> None:
    comment = (await posted(boss.client))["comment"]["id"]
    for back in ("https://evil.example/admin/", "//evil.example/admin/", "/admin/\\evil.example"):
        response = await boss.post(
            "/admin/sites/blog/comments", [("id", str(comment))], action="approve", back=back
        )
        assert response.status_code == 303
        assert response.headers["location"].startswith("/admin/sites/blog/comments?"), back


# -- site settings and bans ----------------------------------------------------------------------


async def test_site_settings_are_saved_from_the_form(boss: Admin, app: Starlette) -> None:
    page = (await boss.get("/admin/sites/blog")).text
    assert '<select id="f-moderation" name="moderation"' in page
    form = dict(re.findall(r'<input id="f-[^"]+" name="([^"]+)"[^>]*value="([^"]*)"', page))
    fields = {**form, "name": "My blog", "origins": f"{BLOG}\nhttps://www.blog.example/",
              "moderation": "first", "order": "newest", "first_page": "oldest", "sign_in": "optional",
              "guest_email": "optional", "max_depth": "3", "fetch_titles": "on",
              "notify_emails": "me@example.com, you@example.com"}  # fmt: skip
    response = await boss.post("/admin/sites/blog", **fields)
    assert response.status_code == 303, response.text
    site = await app.state.widget.storage.get_site("blog")
    assert site.name == "My blog"
    assert site.origins == (BLOG, "https://www.blog.example")
    assert site.settings["moderation"] == "first"
    assert site.settings["max_depth"] == 3
    assert site.settings["first_page"] == "oldest"
    assert "page_size" not in site.settings  # defaults are not stored
    # Guests may now leave the email out.
    assert (await post_comment(boss.client, email="")).status_code == 201


async def test_bad_site_settings_are_all_shown_and_nothing_is_saved(
    boss: Admin, app: Starlette
) -> None:
    response = await boss.post(
        "/admin/sites/blog", name="", origins="https://blog.example/posts/", max_depth="99",
        order="sideways", page_size="50", notify_emails="not-an-address",
    )  # fmt: skip
    assert response.status_code == 422
    page = response.text
    assert "Nothing was saved" in page
    assert 'id="e-max_depth">expected a whole number from 2 to 20, got 99' in page
    assert 'id="e-order">expected one of oldest, newest' in page
    assert 'id="e-name">A name of 1 to 200 characters.' in page
    assert "leave out the path" in page
    assert "is not an email address" in page
    assert 'value="99"' in page  # what was typed stays, to fix
    site = await app.state.widget.storage.get_site("blog")
    assert site.origins == (BLOG,)
    assert site.name == "The blog"


async def test_bans_are_added_and_lifted_from_the_site_page(
    boss: Admin, app: Starlette, client: httpx.AsyncClient
) -> None:
    response = await boss.post("/admin/sites/blog/bans", kind="network", value="203.0.113.0/24",
                               note="a bad neighbourhood")  # fmt: skip
    assert response.status_code == 303
    assert (await post_comment(client)).json()["held"] is True
    bad = await boss.post("/admin/sites/blog/bans", kind="network", value="not a network")
    assert bad.status_code == 422
    assert "is not an IP address or network" in bad.text
    (ban,) = await app.state.widget.storage.list_bans("blog")
    lifted = await boss.post(f"/admin/sites/blog/bans/{ban.id}/remove")
    assert lifted.status_code == 303
    assert (await post_comment(client)).json()["held"] is False


async def test_only_an_admin_of_every_site_bans_everywhere(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_admin(app, "helper@example.com", ["blog"])
    helper = await signed_in(client, "helper@example.com")
    refused = await helper.post("/admin/sites/blog/bans", kind="email", value="x@example.com",
                                scope="all")  # fmt: skip
    assert refused.status_code == 422
    storage = app.state.widget.storage
    everywhere = await storage.add_ban(None, "email", "y@example.com", "", datetime.now(UTC))
    assert (await helper.post(f"/admin/sites/blog/bans/{everywhere.id}/remove")).status_code == 404
    assert len(await storage.list_bans("blog")) == 1


async def test_an_admin_of_every_site_adds_sites(boss: Admin, app: Starlette) -> None:
    response = await boss.post("/admin/sites", site="notes", name="Notes",
                               origins="https://notes.example")  # fmt: skip
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/sites/notes?done=site"
    site = await app.state.widget.storage.get_site("notes")
    assert site.origins == ("https://notes.example",)
    taken = await boss.post("/admin/sites", site="notes", origins="https://notes.example")
    assert taken.status_code == 422
    assert "already exists" in taken.text
    assert (await boss.post("/admin/sites", site="Bad Id", origins=BLOG)).status_code == 422


async def test_admin_pages_answer_unknown_things_with_404(boss: Admin) -> None:
    for path in ("/admin/comments/999999", "/admin/comments/abc", "/admin/sites/nope/comments"):
        response = await boss.get(path)
        assert response.status_code == 404, path
        assert "Back to the dashboard" in response.text


async def test_admin_pages_render_for_every_status(boss: Admin, app: Starlette) -> None:
    storage = app.state.widget.storage
    ids = [(await posted(boss.client, body=f"Text {n}"))["comment"]["id"] for n in range(4)]
    for comment_id, status in zip(ids, ("approved", "pending", "spam", "deleted"), strict=True):
        if status != "approved":
            await storage.set_status([comment_id], status, ["blog"])
        page = await boss.get(f"/admin/comments/{comment_id}")
        assert page.status_code == 200
        assert f'<span class="badge badge-{status}">{status}</span>' in page.text
    listing = (await boss.get("/admin/sites/blog/comments", status="all")).text
    assert listing.count('class="pick"') == 4


async def test_the_configurator_shows_the_snippet_and_a_preview_of_the_site(
    boss: Admin, app: Starlette
) -> None:
    page = await boss.get("/admin/sites/blog/embed", theme="dark", lang="de")
    assert page.status_code == 200
    # The page stays English, as the admin is (screen readers speak it by its lang); German
    # is the frame's, chosen in the form.
    assert page.text.startswith('<!doctype html>\n<html lang="en" dir="ltr">'), page.text[:80]
    assert '<option value="de" selected>German (de)</option>' in page.text
    assert '<option value="uk">Ukrainian (uk)</option>' in page.text  # named, not just a code
    assert '<input type="hidden" name="lang" value="de">' in page.text
    assert "frame-src 'self'" in page.headers["content-security-policy"]
    assert (
        f"&lt;script src=&#34;{PUBLIC_URL}/embed.js&#34; data-site=&#34;blog&#34;"
        " data-theme=&#34;dark&#34; data-lang=&#34;de&#34; async&gt;" in page.text
    )
    preview = re.search(r'<iframe id="preview" class="preview" src="([^"]+)"', page.text)
    assert preview, page.text
    document = await boss.client.get(html.unescape(preview.group(1)))
    assert document.status_code == 200
    # Our own admin page may frame the thread; other sites than the blog's still may not.
    policy = document.headers["content-security-policy"]
    assert f"frame-ancestors 'self' {BLOG}" in policy

    elsewhere = await boss.get("/admin/sites/blog/embed", url="https://x.example/p/")
    assert "<code>https://x.example</code> may not show these comments yet" in elsewhere.text
    assert 'id="preview"' not in elsewhere.text
    not_a_page = await boss.get("/admin/sites/blog/embed", url="javascript:alert(1)")
    assert "Enter the address of a page of your site" in not_a_page.text
    assert 'id="preview"' not in not_a_page.text


async def test_the_configurator_saves_only_good_values(boss: Admin, app: Starlette) -> None:
    bad = await boss.post("/admin/sites/blog/embed/settings", order="newest", page_size="0")
    assert bad.status_code == 422
    assert "page_size" in bad.text
    bad_origin = await boss.post("/admin/sites/blog/embed/origins", origin="https://x.example/p/")
    assert bad_origin.status_code == 422
    assert "leave out the path" in bad_origin.text
    site = await app.state.widget.storage.get_site("blog")
    assert site.origins == (BLOG,)
    assert "page_size" not in site.settings and "order" not in site.settings  # nothing saved

    good = await boss.post("/admin/sites/blog/embed/settings", order="newest", page_size="7")
    assert good.status_code == 303
    allowed = await boss.post("/admin/sites/blog/embed/origins", origin="https://x.example")
    assert allowed.status_code == 303
    site = await app.state.widget.storage.get_site("blog")
    assert site.settings["page_size"] == 7 and site.settings["order"] == "newest"
    assert site.origins == (BLOG, "https://x.example")


async def test_an_origin_is_kept_as_browsers_send_it_and_no_wildcard_gets_in(
    boss: Admin, app: Starlette
) -> None:
    # What the configurator offers for a page typed with an international name, as people
    # write it: browsers send such a name in its ASCII form, and only ASCII fits in a header.
    offered = await boss.get("/admin/sites/blog/embed", url="https://блог.example/p/")
    assert "<code>https://xn--90aexm.example</code> may not show these comments yet" in (
        offered.text
    )
    allowed = await boss.post("/admin/sites/blog/embed/origins", origin="https://блог.example")
    assert allowed.status_code == 303, allowed.text
    site = await app.state.widget.storage.get_site("blog")
    assert site.origins == (BLOG, "https://xn--90aexm.example")
    document = await boss.client.get("/embed/blog/thread", params=EMBED)
    assert document.status_code == 200  # was a 500: the policy header could not be encoded
    assert "https://xn--90aexm.example" in document.headers["content-security-policy"]
    # Hosts that are no name would let any site frame the comments ('*') or end the policy.
    for origin in ("https://*", "https://blog.example *", "https://a.example;script-src"):
        refused = await boss.post("/admin/sites/blog/embed/origins", origin=origin)
        assert refused.status_code == 422, origin
        assert "is not an origin" in refused.text
    assert (await app.state.widget.storage.get_site("blog")).origins == site.origins


async def test_an_origin_listed_before_origins_were_checked_can_be_removed(
    boss: Admin, app: Starlette
) -> None:
    """Such an origin broke every document of its site (a 500) or let anyone frame it: the
    owner must be able to take it out with `widget site remove-origin` as it is listed."""
    storage = app.state.widget.storage
    await storage.update_site("blog", origins=[BLOG, "https://*", "https://блог.example"])
    for listed in ("https://*", " https://блог.example "):
        await remove_origin(storage, "blog", listed)  # was 'not an origin' for both
    assert (await storage.get_site("blog")).origins == (BLOG,)
    document = await boss.client.get("/embed/blog/thread", params=EMBED)
    assert document.status_code == 200
    assert document.headers["content-security-policy"].endswith(f"frame-ancestors 'self' {BLOG}")


async def test_the_configurator_is_only_for_the_sites_one_manages(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await add_site(app.state.widget.storage, "other", ["https://other.example"])
    await make_admin(app, "helper@example.com", ["other"])
    helper = await signed_in(client, "helper@example.com")
    assert (await helper.get("/admin/sites/blog/embed")).status_code == 404
    refused = await helper.post("/admin/sites/blog/embed/origins", origin="https://x.example")
    assert refused.status_code == 404
    assert (await app.state.widget.storage.get_site("blog")).origins == (BLOG,)


async def test_a_moderator_replies_from_the_admin_with_a_badge_guests_cannot_wear(
    boss: Admin, app: Starlette
) -> None:
    question = (await posted(boss.client, body="Does it work offline?"))["comment"]["id"]
    page = await boss.get(f"/admin/comments/{question}")
    assert 'action="/admin/comments/' in page.text and 'value="boss"' in page.text
    answered = await boss.post(
        f"/admin/comments/{question}/reply", body="It does, **since 2.0**.", name="Kim"
    )
    assert answered.status_code == 303, answered.text
    assert "done=replied" in answered.headers["location"]
    # A guest calling themselves the moderator gets no badge.
    await posted(boss.client, body="I am the moderator, trust me", name="Moderator")
    shown = await fragment(boss.client)
    assert shown.count('class="wg-badge">Moderator</strong>') == 1
    (item,) = await app.state.widget.storage.list_queue(QueueQuery(("blog",), author="Kim"))
    stored = item.comment
    assert stored.parent_id == question and stored.status == "approved"
    assert stored.author_email == "boss@example.com"
    assert "<strong>since 2.0</strong>" in stored.body_html

    empty = await boss.post(f"/admin/comments/{question}/reply", body="  ", name="Kim")
    assert empty.status_code == 422
    await boss.post("/admin/sites/blog/comments", one=f"unapprove:{question}")
    held = await boss.post(f"/admin/comments/{question}/reply", body="Too soon", name="Kim")
    assert held.status_code == 422
    assert "Approve this comment first" in held.text


async def test_authors_and_moderators_answer_from_the_thread_with_badges(
    boss: Admin, app: Starlette
) -> None:
    await change_site_setting(app.state.widget.storage, "blog", "moderation", "all")
    writer_user, as_writer = await signed_in_commenter(app, "7", "Wren")
    writer = writer_user.id
    helper_user, as_helper = await signed_in_commenter(app, "8", "Hal")
    helper = helper_user.id
    client = boss.client
    first = await client.post(
        "/api/v1/comments", json=comment_body(name="", email="", body="Before"), headers=as_writer
    )
    assert first.json()["held"] is True  # no badge yet: held like anyone's
    await boss.post("/admin/sites/blog/comments", one=f"approve:{first.json()['comment']['id']}")
    page = await boss.get(f"/admin/comments/{first.json()['comment']['id']}")
    assert f"(user {writer})" in page.text and 'name="badge" value="" checked' in page.text

    given = await boss.post(
        f"/admin/comments/{first.json()['comment']['id']}/badge", badge="author"
    )
    assert given.status_code == 303 and "done=badge_author" in given.headers["location"]
    assert "Author badge" in (await boss.get(given.headers["location"])).text
    site = await app.state.widget.storage.get_site("blog")
    assert site.settings["author_accounts"] == str(writer)
    # The moderator's badge, given on the command line's setting.
    await change_site_setting(app.state.widget.storage, "blog", "moderator_accounts", str(helper))

    question = await posted(client, body="Will there be a sequel?")  # a guest, held
    await boss.post("/admin/sites/blog/comments", one=f"approve:{question['comment']['id']}")
    reply = comment_body(name="", email="", body="Yes, in May.", parent=question["comment"]["id"])
    answered = await client.post("/api/v1/comments", json=reply, headers=as_writer)
    assert answered.status_code == 201 and answered.json()["held"] is False
    also = comment_body(name="", email="", body="Seconded.", parent=question["comment"]["id"])
    assert (await client.post("/api/v1/comments", json=also, headers=as_helper)).json()[
        "held"
    ] is False
    # Guests typing the names (or "Author") wear nothing and wait for moderation.
    assert (await posted(client, name="Wren", body="I wrote it"))["held"] is True
    shown = await fragment(client)
    assert shown.count('class="wg-badge">Author</strong>') == 2  # the old comment too
    assert shown.count('class="wg-badge">Moderator</strong>') == 1
    french = await client.get("/embed/blog/thread/fragment", params={**EMBED, "lang": "fr"})
    assert 'class="wg-badge">Auteur</strong>' in french.text

    taken = await boss.post(f"/admin/comments/{answered.json()['comment']['id']}/badge", badge="")
    assert "done=badge_none" in taken.headers["location"]
    assert 'class="wg-badge">Author</strong>' not in await fragment(client)


async def next_account_numbered(
    app: Starlette, database_url: str, erased: int, subject: str
) -> dict[str, str]:
    """The headers of the next account to sign in, given the erased account's number as SQLite
    gave it before migration 0014."""
    await number_again(database_url, "users", erased)
    newcomer, headers = await signed_in_commenter(app, subject, "Nat")
    assert newcomer.id == erased
    return headers


async def test_an_erased_accounts_badge_goes_with_it(
    boss: Admin, app: Starlette, database_url: str
) -> None:
    """Where the next account takes an erased one's number (a database from before migration
    0014), a badge kept by number would make that newcomer a moderator whose comments skip
    moderation."""
    await change_site_setting(app.state.widget.storage, "blog", "moderation", "all")
    moderator, as_moderator = await signed_in_commenter(app, "10", "Mo")
    mine = await boss.client.post(
        "/api/v1/comments", json=comment_body(name="", email=""), headers=as_moderator
    )
    await boss.post("/admin/sites/blog/comments", one=f"approve:{mine.json()['comment']['id']}")
    given = await boss.post(f"/admin/comments/{mine.json()['comment']['id']}/badge",
                            badge="moderator")  # fmt: skip
    assert "done=badge_moderator" in given.headers["location"]
    erased = await boss.client.post("/api/v1/me/erase", json={"confirm": True},
                                    headers=as_moderator)  # fmt: skip
    assert erased.status_code == 200, erased.text
    site = await app.state.widget.storage.get_site("blog")
    assert site.settings["moderator_accounts"] == ""
    as_newcomer = await next_account_numbered(app, database_url, moderator.id, "11")
    first = await boss.client.post(
        "/api/v1/comments", json=comment_body(name="", email="", body="Hi all"),
        headers=as_newcomer,
    )  # fmt: skip
    assert first.json()["held"] is True  # as anyone's (was published at once, badged)
    assert 'class="wg-badge">Moderator</strong>' not in await fragment(boss.client)


async def test_an_erased_accounts_ban_goes_with_it(
    boss: Admin, app: Starlette, database_url: str
) -> None:
    """Kept by number, the ban would fall on the next account where it takes the same number
    (a database from before migration 0014)."""
    troll, as_troll = await signed_in_commenter(app, "12", "Troll")
    rude = await boss.client.post(
        "/api/v1/comments", json=comment_body(name="", email="", body="Rude"), headers=as_troll
    )
    banned = await boss.post(f"/admin/comments/{rude.json()['comment']['id']}/ban", kind="user")
    assert "done=banned" in banned.headers["location"]
    erased = await boss.client.post("/api/v1/me/erase", json={"confirm": True}, headers=as_troll)
    assert erased.status_code == 200, erased.text
    assert await app.state.widget.storage.list_bans("blog") == []
    as_newcomer = await next_account_numbered(app, database_url, troll.id, "13")
    first = await boss.client.post(
        "/api/v1/comments", json=comment_body(name="", email="", body="Hello"),
        headers=as_newcomer,
    )  # fmt: skip
    assert first.status_code == 201, first.text
    assert first.json()["held"] is False  # a banned account's comment is kept as spam, held


async def test_a_badge_goes_only_to_an_account_and_only_from_its_sites_admin(
    boss: Admin, app: Starlette, client: httpx.AsyncClient
) -> None:
    guest = (await posted(boss.client))["comment"]["id"]
    refused = await boss.post(f"/admin/comments/{guest}/badge", badge="moderator")
    assert refused.status_code == 422
    assert "a guest's name is anyone's to type" in html.unescape(refused.text)
    _, headers = await signed_in_commenter(app, "9", "Ivy")
    own = await boss.client.post(
        "/api/v1/comments", json=comment_body(name="", email=""), headers=headers
    )
    mine = own.json()["comment"]["id"]
    odd = await boss.post(f"/admin/comments/{mine}/badge", badge="king")
    assert odd.status_code == 422 and "Choose Author, Moderator or no badge." in odd.text
    await add_site(app.state.widget.storage, "other", ["https://other.example"])
    await make_admin(app, "helper@example.com", ["other"])
    outsider = await signed_in(client, "helper@example.com")
    assert (await outsider.post(f"/admin/comments/{mine}/badge", badge="author")).status_code == 404
    assert "author_accounts" not in (await app.state.widget.storage.get_site("blog")).settings


async def test_a_badge_is_refused_for_an_account_number_nobody_has(
    boss: Admin, app: Starlette
) -> None:
    """Found following the README (`widget site set myblog author_accounts 12`) before anyone
    had signed in: the number was taken as it was, and accounts are numbered in turn, so the
    twelfth person to sign in would have worn the Author badge and been published unchecked.
    A number no account has is refused, from the command line's setting and the site's form;
    one the site lists already does not stop its other settings from being saved."""
    storage = app.state.widget.storage
    ivy, _ = await signed_in_commenter(app, "9", "Ivy")
    with pytest.raises(Invalid) as refused:
        await change_site_setting(storage, "blog", "author_accounts", f"{ivy.id}, {ivy.id + 40}")
    assert refused.value.message == (
        f"author_accounts: there is no account {ivy.id + 40}: give the number the admin shows"
        f' beside the account\'s comments ("user {ivy.id + 40}"), once that person has signed in.'
    )
    assert "author_accounts" not in (await storage.get_site("blog")).settings
    await change_site_setting(storage, "blog", "author_accounts", str(ivy.id))
    page = (await boss.get("/admin/sites/blog")).text
    form = dict(re.findall(r'<input id="f-[^"]+" name="([^"]+)"[^>]*value="([^"]*)"', page))
    fields = {**form, "name": "The blog", "origins": BLOG, "moderation": "none",
              "order": "oldest", "first_page": "newest", "sign_in": "optional",
              "guest_email": "required", "fetch_titles": "on"}  # fmt: skip
    unknown = await boss.post("/admin/sites/blog", **{**fields, "moderator_accounts": "777"})
    assert unknown.status_code == 422
    assert "There is no account 777" in html.unescape(unknown.text)
    kept = await boss.post("/admin/sites/blog", **{**fields, "max_depth": "4"})
    assert kept.status_code == 303, kept.text  # Ivy's badge stays, the change is saved
    site = await storage.get_site("blog")
    assert site.settings["author_accounts"] == str(ivy.id) and site.settings["max_depth"] == 4


def test_badge_settings_take_account_numbers() -> None:
    with pytest.raises(Invalid, match="not an account number"):
        parse_site_settings({"author_accounts": "alice"})
    parsed = parse_site_settings({"moderator_accounts": " 3,12, 3\n40 "})
    assert parsed == {"moderator_accounts": "3, 12, 40"}


def test_no_sign_in_provider_may_take_the_servers_own_names() -> None:
    fields = {"issuer": "https://id.example", "client_id": "a", "client_secret": "b"}
    for name in ("moderator", "email"):
        with pytest.raises(ConfigError, match="taken by the server itself"):
            configured_providers({name: fields})
    assert list(configured_providers({"sso": fields})) == ["sso"]


async def test_empty_spam_deletes_a_sites_spam_for_good(boss: Admin, app: Starlette) -> None:
    ids = [(await posted(boss.client, body=f"Spam {n}"))["comment"]["id"] for n in range(3)]
    await boss.post("/admin/sites/blog/comments", [("id", str(i)) for i in ids], action="spam")
    page = await boss.get("/admin/sites/blog/comments", status="spam")
    assert 'action="/admin/sites/blog/comments/empty-spam"' in page.text
    emptied = await boss.post("/admin/sites/blog/comments/empty-spam")
    assert emptied.status_code == 303
    after = await boss.get(emptied.headers["location"])
    assert "Deleted 3 comments for good." in after.text
    assert "No spam comments." in after.text
    for comment_id in ids:
        assert await app.state.widget.storage.get_comment(comment_id) is None


async def test_the_comment_after_emptied_spam_takes_a_number_of_its_own(boss: Admin) -> None:
    """SQLite numbered a new row one past the largest there was: once Empty spam deleted the
    newest comment for good, the next comment took its number, and whatever still named the
    spam by its number (a token, a link, a job) named the newcomer. Migration 0014."""
    spam_id = (await posted(boss.client, body="Buy now", name="Spammer"))["comment"]["id"]
    await boss.post("/admin/sites/blog/comments", [("id", str(spam_id))], action="spam")
    await boss.post("/admin/sites/blog/comments/empty-spam")
    honest = (await posted(boss.client, body="A kind word", name="Ann"))["comment"]
    assert honest["id"] == spam_id + 1


async def test_a_spammers_edit_token_opens_no_comment_written_after_the_spam_was_emptied(
    boss: Admin, app: Starlette, database_url: str
) -> None:
    """A database whose newest comment was deleted before it was upgraded to 0014 (or a copy
    made after that) still gives that number once more: a token naming only the number
    would open the next comment."""
    spam = await posted(boss.client, body="Buy now", name="Spammer")
    spam_id = spam["comment"]["id"]
    await boss.post("/admin/sites/blog/comments", [("id", str(spam_id))], action="spam")
    await boss.post("/admin/sites/blog/comments/empty-spam")
    await number_again(database_url, "comments", spam_id)
    honest = (await posted(boss.client, body="A kind word", name="Ann"))["comment"]
    assert honest["id"] == spam_id
    for method, body in (("PATCH", {"body": "Buy now, says Ann"}), ("DELETE", {})):
        refused = await boss.client.request(
            method, f"/api/v1/comments/{honest['id']}",
            json={"token": spam["edit_token"], **body}, headers=OWN_ORIGIN,
        )  # fmt: skip
        assert refused.status_code == 403, refused.text
        assert "for another comment" in refused.json()["error"]
    # Nor does the frame show it to the spammer as theirs to edit.
    me = await boss.client.post(
        "/api/v1/me", json={**PAGE, "edit_tokens": [spam["edit_token"]]}, headers=OWN_ORIGIN
    )
    assert me.json()["editable"] == {}, me.text
    kept = await app.state.widget.storage.get_comment(honest["id"])
    assert kept is not None and kept.body_source == "A kind word" and kept.status == "approved"


def test_argon2_and_time_zones_are_loaded_when_first_used() -> None:
    """Admins sign in seldom, and only a site's time zone setting or an import names a zone: a
    started server holds neither argon2 nor zoneinfo, nor the build settings zoneinfo reads
    (sysconfig's), some 2 MB in all (issue 13, item 2)."""
    modules = ["argon2", "zoneinfo", "sysconfig"]
    assert loaded_at_start(modules) == dict.fromkeys(modules, False)
