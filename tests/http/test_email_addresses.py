"""One email field, one person: every place an address comes in (posting, the follow-up box, a
guest's data link, moderators' addresses, bans, admin accounts, imports, sign-in providers)
takes exactly one plain address, and the mailer sends to no one else whatever a stored row
holds. Mail goes to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from oidc_provider_mock import User as MockUser
from starlette.applications import Starlette

from tests.admins import PASSWORD, Admin, make_admin, signed_in
from tests.conftest import ClientFactory
from tests.helpers import (
    BLOG,
    OWN_ORIGIN,
    PAGE,
    PUBLIC_URL,
    QUICK,
    Widget,
    ask_for_link,
    make_settings,
    open_form,
    posted,
    settle,
    with_form_token,
)
from tests.helpers import post_comment as post
from tests.mail import Inbox
from tests.signing_in import Popup, exchange, mock_provider
from widget.app import create_app
from widget.cli.porting import report_lines
from widget.notify.mail import Mail
from widget.porting.importer import import_file
from widget.records import QueueQuery
from widget.sites import add_site

LIST = "Enter one email address only, not a list."
ALONE = "Enter just the address, such as name@example.com, without a name, quotes or brackets."
PLAIN = "Enter an email address such as name@example.com."
LINE_BREAKS = "An email address cannot contain line breaks or control characters."
DOMAIN = "After the @, enter a domain name such as example.com."
TOO_LONG = "That email address is too long: at most 64 characters before the @ and 254 in all."
ACCENTS = "Before the @, use only letters without accents, digits and . _ + - characters."

# What one field must never be: each with the sentence shown beside the field.
NOT_ONE_ADDRESS = [
    ("a@x.example,root", LIST),
    ("ann@example.com, root@example.com", LIST),
    ("ann@example.com;root@example.com", LIST),
    ("ann@example.com root@example.com", LIST),
    ("Ann <ann@example.com>", ALONE),
    ('"Ann" <ann@example.com>', ALONE),
    ("<ann@example.com>", ALONE),
    ("ann@example.com (Ann)", ALONE),
    ("friends: ann@example.com, root@example.com;", ALONE),
    ("@relay.example:ann@example.com", ALONE),
    ('"ann,root"@example.com', ALONE),
    ("ann@[192.0.2.1]", ALONE),
    ("undisclosed-recipients:;", PLAIN),
    ("ann@example.com\r\nBcc: root@example.com", LINE_BREAKS),
    ("ann@example.com\nCc: root@example.com", LINE_BREAKS),
    ("ann\u2028@example.com", LINE_BREAKS),
    ("root", PLAIN),
    ("ann@localhost", DOMAIN),
    ("ann@192.0.2.1", DOMAIN),
    ("ann@example.com.", DOMAIN),
    ("ann@exa_mple.com", DOMAIN),
    ("a..b@example.com", PLAIN),
    ("a" * 65 + "@example.com", TOO_LONG),
    ("ann@" + "d" * 60 + ("." + "d" * 60) * 3 + ".example", TOO_LONG),
    ("ännä@example.com", ACCENTS),
]


@pytest.fixture
async def client(mail_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=mail_app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
        yield client


async def comment_count(client: httpx.AsyncClient) -> int:
    answer = await client.get("/api/v1/counts", params={"site": "blog", "page": PAGE["page"]})
    count: int = answer.json()["counts"][PAGE["page"]]["count"]
    return count


def recipients(inbox: Inbox) -> list[list[str]]:
    return [to for _, to in inbox.envelopes]


# -- posting and the follow-up box ------------------------------------------------------------


async def test_a_comment_takes_one_plain_address_and_nothing_else(
    client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox
) -> None:
    for address, message in NOT_ONE_ADDRESS:
        response = await post(client, email=address, notify=True)
        assert response.status_code == 422, (address, response.text)
        assert response.json()["fields"] == {"email": message}, address
    await settle(mail_app)
    assert await comment_count(client) == 0
    assert inbox.messages == []  # no confirmation went anywhere, to one or to several


async def test_the_form_without_script_shows_the_refusal_beside_the_email_field(
    client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox
) -> None:
    form = await open_form(client)
    response = await client.post(
        "/embed/blog/thread/comments",
        data={**form, "body": "Hello", "name": "Ann", "email": "a@x.example,root", "notify": "1"},
        headers=OWN_ORIGIN,
    )  # fmt: skip
    assert response.status_code == 422
    assert f'id="wg-email-error" data-field="email">{LIST}</span>' in response.text
    assert 'value="a@x.example,root"' in response.text  # kept, to be corrected
    await settle(mail_app)
    assert inbox.messages == []


async def test_one_address_is_kept_with_its_domain_in_ascii_and_mailed_alone(
    client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox
) -> None:
    data = await posted(client, email="  Ann.O'Brien+blog@Bücher.Example ", notify=True)
    storage = mail_app.state.widget.storage
    comment = await storage.get_comment(data["comment"]["id"])
    assert comment.author_email == "Ann.O'Brien+blog@xn--bcher-kva.example"
    (message,) = await inbox.wait_for(1)  # subscriptions keep addresses lower-cased
    assert message["To"] == "ann.o'brien+blog@xn--bcher-kva.example"
    assert recipients(inbox) == [["ann.o'brien+blog@xn--bcher-kva.example"]]
    # The longest address SMTP carries: 64 characters before the @, 254 in all.
    longest = "l" * 64 + "@" + ".".join(["d" * 63, "d" * 63, "d" * 53, "example"])
    assert len(longest) == 254
    assert (await post(client, email=longest)).status_code == 201


# -- a guest's data link ------------------------------------------------------------------------


async def test_a_data_link_goes_to_one_plain_address(
    client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox
) -> None:
    await posted(client)  # ann@example.com has written something
    await settle(mail_app)
    for address, message in NOT_ONE_ADDRESS[:6]:
        response = await ask_for_link(client, address)
        assert response.status_code == 422, address
        assert f'id="wg-own-email-error" role="alert">{message}</p>' in response.text
        assert '<details class="wg-own-data" id="wg-own-data" open>' in response.text
    response = await ask_for_link(client, "ann@example.com, root@example.com")
    assert 'value="ann@example.com, root@example.com"' in response.text
    await settle(mail_app)
    assert inbox.messages == []


# -- what admins type ------------------------------------------------------------------------------


@pytest.fixture
async def boss(app: Starlette, client_from: ClientFactory) -> Admin:
    await make_admin(app, "boss@example.com")
    return await signed_in(client_from(), "boss@example.com")


async def test_moderators_addresses_are_each_one_plain_address(boss: Admin, app: Starlette) -> None:
    page = (await boss.get("/admin/sites/blog")).text
    form = dict(re.findall(r'<input id="f-[^"]+" name="([^"]+)"[^>]*value="([^"]*)"', page))
    form |= {"name": "The blog", "origins": BLOG, "moderation": "none", "order": "oldest", "first_page": "newest",
             "sign_in": "optional", "guest_email": "required", "fetch_titles": "on"}  # fmt: skip
    for typed, message in (
        ("mods@example.com, Ann <ann@example.com>", ALONE),
        ("mods@example.com; root@example.com", LIST),
        ("friends: mods@example.com", ALONE),
    ):
        response = await boss.post("/admin/sites/blog", **{**form, "notify_emails": typed})
        assert response.status_code == 422, typed
        assert 'id="e-notify_emails">' in response.text
        assert message.rstrip(".") in response.text
        site = await app.state.widget.storage.get_site("blog")
        assert "notify_emails" not in site.settings
    saved = await boss.post(
        "/admin/sites/blog",
        **{**form, "notify_emails": "Mods@Example.com,\nowner@bücher.example"},
    )
    assert saved.status_code == 303, saved.text
    site = await app.state.widget.storage.get_site("blog")
    assert site.settings["notify_emails"] == "Mods@example.com, owner@xn--bcher-kva.example"


async def test_an_email_ban_names_one_plain_address(boss: Admin, app: Starlette) -> None:
    response = await boss.post(
        "/admin/sites/blog/bans", kind="email", value="ann@example.com,bob@example.com"
    )
    assert response.status_code == 422
    assert LIST in response.text
    assert await app.state.widget.storage.list_bans("blog") == []


def test_an_admin_account_is_one_plain_address(widget: Widget, database_url: str) -> None:
    added = widget(
        "admin", "add", "boss@example.com,root@example.com", "--password-stdin",
        stdin=PASSWORD + "\n", database_url=database_url,
    )  # fmt: skip
    assert added.code == 1
    assert f"is not an email address. {LIST}" in added.err
    assert "No admins yet" in widget("admin", "list").out


# -- what other systems and providers hand over ---------------------------------------------------


async def test_an_import_keeps_comments_but_not_addresses_that_are_not_one_address(
    mail_app: Starlette, tmp_path: Path
) -> None:
    def comment(key: str, email: str, user: str | None = None) -> dict[str, object]:
        return {"type": "comment", "key": key, "page": "/hello/", "status": "approved",
                "created_at": "2024-05-01T10:00:00Z", "name": key, "email": email,
                "text": f"From {key}", "html": f"<p>From {key}</p>", "user": user}  # fmt: skip

    lines = [
        {"format": "widget-export", "version": 1},
        {"type": "user", "key": "oidc:1", "provider": "oidc", "subject": "1", "name": "Dee",
         "email": "dee@example.com, root@example.com"},
        comment("list", "ann@example.com,root@example.com"),
        comment("named", "Bob <bob@example.com>"),
        comment("plain", "Cy@Example.COM"),
        comment("user", "", user="oidc:1"),
    ]  # fmt: skip
    path = tmp_path / "comments.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    storage = mail_app.state.widget.storage
    report = await import_file(storage, path, "blog")
    assert report.imported == 4
    assert report.addresses_dropped == 3
    assert (
        "Email addresses left out, not being one plain address: 3 (their comments were imported"
        " without one)"
    ) in report_lines(report, "blog")
    imported = await storage.list_queue(QueueQuery(site_ids=("blog",)))
    emails = {item.comment.author_name: item.comment.author_email for item in imported}
    assert emails == {"list": "", "named": "", "plain": "Cy@example.com", "user": ""}
    (by_dee,) = [item.comment for item in imported if item.comment.user_id is not None]
    user = await storage.get_user(by_dee.user_id)
    assert (user.name, user.email) == ("Dee", "")


@pytest.fixture(scope="module")
def list_provider() -> Iterator[str]:
    carol = MockUser(sub="carol", claims={"name": "Carol", "email_verified": True,
                                          "email": "carol@example.com, root@example.com"})  # fmt: skip
    with mock_provider(carol) as url:
        yield url


async def test_a_providers_address_that_is_not_one_address_is_not_kept(
    list_provider: str, tmp_path: Path, database_url: str
) -> None:
    providers = {"mock": {"issuer": list_provider, "client_id": "widget",
                          "client_secret": "s3cret"}}  # fmt: skip
    app = create_app(make_settings(tmp_path, database_url=database_url, providers=providers))
    async with app.router.lifespan_context(app):
        await add_site(app.state.widget.storage, "blog", [BLOG], "", QUICK)
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4000))
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            popup = Popup(client, list_provider)
            session = await exchange(client, popup.verifier, await popup.sign_in("carol"))
            token = session.json()["token"]
            answer = await client.post(
                "/api/v1/comments", json=with_form_token({**PAGE, "body": "Signed in"}),
                headers={**OWN_ORIGIN, "Authorization": f"Bearer {token}"},
            )  # fmt: skip
            comment = await app.state.widget.storage.get_comment(answer.json()["comment"]["id"])
    assert comment.author_name == "Carol"
    assert comment.author_email == ""


# -- the mailer itself: whatever a stored row holds ------------------------------------------------


async def test_the_mailer_sends_to_one_recipient_whatever_a_stored_job_holds(
    client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    storage = mail_app.state.widget.storage
    first = await posted(client, body="The first comment")
    await settle(mail_app)
    thread_id = (await storage.get_comment(first["comment"]["id"])).thread_id
    now = datetime.now(UTC)
    # Rows written before addresses were checked, or by hand: a list, a header-bearing job.
    older = await storage.subscribe(thread_id, "carol@example.com,root@example.com", now)
    await storage.confirm_subscription(older.id, "thread", now)
    extra_headers = {"Bcc": "root@example.com", "Cc": "root@example.com",
                     "Resent-To": "root@example.com", "Reply-To": "root@example.com",
                     "List-Unsubscribe": "<https://comments.example/u>"}  # fmt: skip
    await storage.add_jobs(
        [("email", Mail("dave@example.com, root@example.com", "Hi", "text", "<p>x</p>").to_payload()),
         ("email", Mail("erin@example.com", "Hello", "text", "<p>x</p>", extra_headers).to_payload())],
        now,
    )  # fmt: skip
    with caplog.at_level(logging.INFO, logger="widget"):
        await posted(client, name="Bob", email="bob@example.com", body="A reply")  # tells carol…
        await settle(mail_app)
    assert recipients(inbox) == [["erin@example.com"]]
    (erin,) = inbox.messages
    assert erin["Cc"] is None and erin["Bcc"] is None and erin["Resent-To"] is None
    assert erin["Reply-To"] is None
    assert erin["List-Unsubscribe"] == "<https://comments.example/u>"
    # The two others are given up at once (no retry can make them one person) and logged
    # without the addresses they held.
    assert await storage.outbox_counts() == {"queued": 0, "failed": 2}
    refusals = [r.getMessage() for r in caplog.records if "never will be" in r.getMessage()]
    assert len(refusals) == 2
    assert all("the recipient is not one plain email address" in line for line in refusals)
    assert not any("example.com" in r.getMessage() for r in caplog.records)
