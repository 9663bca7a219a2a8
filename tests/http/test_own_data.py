"""A commenter's own data: a guest asks for a link by email (sent to a real SMTP server), and
downloads or erases what they wrote; a signed-in commenter does both from the widget's API."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import httpx
import itsdangerous
import pytest
from starlette.applications import Starlette

from tests.conftest import ClientFactory
from tests.helpers import (
    BLOG,
    DATA_REQUEST,
    EMBED,
    OWN_ORIGIN,
    PAGE,
    PUBLIC_URL,
    ask_for_link,
    clock_by_hand,
    comment_body,
    posted,
)
from tests.mail import Inbox, link_in, subscribe
from tests.signing_in import signed_in_commenter
from widget import own_data
from widget.auth.tokens import Purpose
from widget.records import Subscription

ANN = "ann@example.com"


async def data_link(client: httpx.AsyncClient, inbox: Inbox, address: str = ANN) -> str:
    response = await ask_for_link(client, address)
    assert response.status_code == 303, response.text
    assert response.headers["location"].endswith("data_link=1#wg-own-data")
    (message,) = [m for m in await inbox.wait_for(1) if m["To"] == address]
    assert message["Subject"] == "Your comments: download or erase"
    return link_in(message, "/data")


async def test_a_guest_gets_a_link_and_sees_what_they_wrote(
    mail_client: httpx.AsyncClient, inbox: Inbox
) -> None:
    await posted(mail_client, body="First thoughts")
    await posted(mail_client, body="Second thoughts", email="Ann@Example.com")
    await posted(mail_client, body="Bob's view", name="Bob", email="bob@example.com")
    link = await data_link(mail_client, inbox)
    page = await mail_client.get(link)
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "2 comments were written as ann@example.com" in page.text
    assert "First thoughts" in page.text and "Second thoughts" in page.text
    assert "Bob&#39;s view" not in page.text and "Bob's view" not in page.text

    token = link.split("token=")[1]
    download = await mail_client.get("/data/export", params={"token": token})
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith('attachment; filename="my-comm')
    document = download.json()
    assert document["format"] == "widget-comments/1"
    assert document["email"] == ANN
    assert [c["text"] for c in document["comments"]] == ["First thoughts", "Second thoughts"]
    assert document["comments"][0]["page"]["url"] == PAGE["url"]
    assert document["comments"][0]["ip_address"] == "203.0.113.7"


async def test_the_frame_says_the_same_for_an_address_that_never_commented(
    mail_client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox
) -> None:
    storage = mail_app.state.widget.storage
    await posted(mail_client)
    for _ in range(250):  # the new comment's own job goes first
        if (await storage.outbox_counts())["queued"] == 0:
            break
        await asyncio.sleep(0.02)
    response = await ask_for_link(mail_client, "nobody@example.com")
    assert response.status_code == 303
    document = await mail_client.get(response.headers["location"])
    assert "a link is on its way" in document.text
    assert await storage.outbox_counts() == {"queued": 0, "failed": 0}
    assert inbox.to("nobody@example.com") == []


async def test_links_are_rate_limited_and_checked(
    mail_client: httpx.AsyncClient, mail_app: Starlette
) -> None:
    await posted(mail_client)
    for _ in range(3):
        assert (await ask_for_link(mail_client, ANN)).status_code == 303
    # The fourth for the address, asked from another network: counted all the same.
    transport = httpx.ASGITransport(app=mail_app, client=("198.51.100.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as other_network:
        too_many = await ask_for_link(other_network, ANN)
    assert too_many.status_code == 429
    assert "Too many links" in too_many.text
    refused = await ask_for_link(mail_client, "not an address")
    assert refused.status_code == 422
    assert (
        '<p class="wg-error" id="wg-own-email-error" role="alert">Enter an email address such as'
        " name@example.com.</p>"
    ) in refused.text
    elsewhere = await mail_client.post(
        DATA_REQUEST, data={**EMBED, "email": ANN}, headers={"Origin": "https://evil.example"}
    )
    assert elsewhere.status_code == 403


async def test_an_address_gets_a_few_links_a_day_however_they_are_spread(
    mail_client: httpx.AsyncClient, mail_client_from: ClientFactory, inbox: Inbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Three links an hour, asked for from ever new networks, mailed 72 a day to someone who
    once commented."""
    await posted(mail_client)
    # Up to now: mails are due at once.
    clock = clock_by_hand(monkeypatch, own_data, datetime.now(UTC) - timedelta(hours=3))
    statuses = []
    for hour in range(3):
        for n in range(3):
            asking = mail_client_from(f"198.51.{hour}.{n + 1}")  # a new network each
            statuses.append((await ask_for_link(asking, ANN)).status_code)
        clock[0] += timedelta(hours=1)
    assert statuses == [303] * own_data.LINKS_PER_ADDRESS_PER_DAY + [429] * 3
    await inbox.wait_for(own_data.LINKS_PER_ADDRESS_PER_DAY)
    assert len(inbox.to(ANN)) == own_data.LINKS_PER_ADDRESS_PER_DAY


async def test_a_forged_foreign_or_day_old_token_opens_nothing(
    mail_client: httpx.AsyncClient, mail_app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    await posted(mail_client)
    signer = mail_app.state.widget.signer
    yesterday = int(datetime.now(UTC).timestamp()) - 25 * 3600  # the link is good for a day
    monkeypatch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: yesterday)
    stale = signer.sign(Purpose.OWN_DATA, {"e": ANN, "l": "en"})
    monkeypatch.undo()
    for token in ["garbage", signer.sign(Purpose.UNSUBSCRIBE, {"e": ANN}), stale]:
        page = await mail_client.get("/data", params={"token": token})
        assert page.status_code == 400
        assert "This link has expired" in page.text
        assert (await mail_client.get("/data/export", params={"token": token})).status_code == 400


async def test_a_guest_erases_what_they_wrote(
    mail_client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox
) -> None:
    mine = await posted(mail_client, body="Regrettable words")
    reply = await posted(mail_client, body="A reply", name="Bob", email="bob@example.com",
                         parent=mine["comment"]["id"])  # fmt: skip
    await posted(mail_client, body="Also mine, elsewhere", page="/other/",
                 url=f"{BLOG}/other/", title="Other")  # fmt: skip
    storage = mail_app.state.widget.storage
    token = (await data_link(mail_client, inbox)).split("token=")[1]

    unconfirmed = await mail_client.post("/data/erase", data={"token": token}, headers=OWN_ORIGIN)
    assert unconfirmed.status_code == 422
    assert "Tick the box" in unconfirmed.text
    cross_site = await mail_client.post(
        "/data/erase", data={"token": token, "confirm": "yes"},
        headers={"Origin": "https://evil.example"},
    )  # fmt: skip
    assert cross_site.status_code == 403
    assert (await storage.get_comment(mine["comment"]["id"])).body_source == "Regrettable words"

    done = await mail_client.post(
        "/data/erase", data={"token": token, "confirm": "yes"}, headers=OWN_ORIGIN
    )
    assert done.status_code == 200
    assert "2 comments written as ann@example.com are erased" in done.text
    thread = (await mail_client.get("/api/v1/threads", params=PAGE)).json()
    assert thread["count"] == 1
    (placeholder,) = thread["comments"]
    assert "Regrettable words" not in json.dumps(thread)
    assert [child["id"] for child in placeholder["replies"]] == [reply["comment"]["id"]]
    fragment = await mail_client.get("/embed/blog/thread/fragment", params=EMBED)
    assert "This comment was removed." in fragment.text
    assert "Regrettable words" not in fragment.text and "Ann" not in fragment.text
    again = await mail_client.get("/data", params={"token": token})
    assert "0 comments were written as ann@example.com" in again.text


async def test_erasing_ends_follow_up_emails(
    mail_client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox
) -> None:
    await subscribe(mail_client, inbox, ANN, "thread")
    storage = mail_app.state.widget.storage
    (item,) = await storage.author_comments(ANN, None)
    assert len(await storage.subscribers(Subscription, item.comment.thread_id)) == 1
    before = len(inbox.messages)
    token = (await data_link_after(mail_client, inbox, before)).split("token=")[1]
    await mail_client.post(
        "/data/erase", data={"token": token, "confirm": "yes"}, headers=OWN_ORIGIN
    )
    assert await storage.subscribers(Subscription, item.comment.thread_id) == []


async def data_link_after(client: httpx.AsyncClient, inbox: Inbox, already: int) -> str:
    assert (await ask_for_link(client, ANN)).status_code == 303
    await inbox.wait_for(already + 1)
    return link_in(inbox.messages[already], "/data")


async def test_without_mail_a_guest_is_told_to_ask_the_owner(
    client: httpx.AsyncClient,
) -> None:
    document = await client.get("/embed/blog/thread", params=EMBED)
    assert 'id="wg-own-data"' not in document.text  # no mail, no sign-in: nothing to offer
    response = await ask_for_link(client, ANN)
    assert response.status_code == 503
    assert "ask the site&#39;s owner" in response.text


# Signed in: the widget's API, with the session.


async def signed_in_as_ann(app: Starlette) -> dict[str, str]:
    _, headers = await signed_in_commenter(app, "7", "Ann", email=ANN, token="ann-session")
    return headers


async def test_a_signed_in_commenter_downloads_and_erases_their_comments(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    headers = await signed_in_as_ann(app)
    for text in ("As Ann, signed in", "And again"):
        body = comment_body(body=text, name="", email="")
        assert (await client.post("/api/v1/comments", json=body, headers=headers)).is_success
    guest = await posted(client, body="As a guest with Ann's address")

    assert (await client.post("/api/v1/me/export", json={}, headers=OWN_ORIGIN)).status_code == 403
    foreign = {**headers, "Origin": "https://evil.example"}
    assert (await client.post("/api/v1/me/export", json={}, headers=foreign)).status_code == 403
    download = await client.post("/api/v1/me/export", json={}, headers=headers)
    assert download.status_code == 200
    document = download.json()
    assert document["account"]["provider"] == "github"
    assert [c["text"] for c in document["comments"]] == ["As Ann, signed in", "And again"]

    refused = await client.post("/api/v1/me/erase", json={}, headers=headers)
    assert refused.status_code == 400
    assert "confirm" in refused.json()["error"]
    erased = await client.post("/api/v1/me/erase", json={"confirm": True}, headers=headers)
    assert erased.json() == {"erased": 2}
    thread = (await client.get("/api/v1/threads", params=PAGE)).json()
    assert [c["id"] for c in thread["comments"]] == [guest["comment"]["id"]]
    # The account is gone, and its session with it.
    after = await client.post("/api/v1/me/export", json={}, headers=headers)
    assert after.status_code == 403


async def test_an_erased_accounts_number_goes_to_no_later_account(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    """SQLite numbered a new account one past the largest there was: the next to sign up took
    an erased account's number, and whatever named the account by it (a badge, a ban, an
    owner token) named the newcomer. Migration 0014."""
    ann, headers = await signed_in_commenter(app, "7", "Ann", email=ANN)
    erased = await client.post("/api/v1/me/erase", json={"confirm": True}, headers=headers)
    assert erased.status_code == 200, erased.text
    bo, _ = await signed_in_commenter(app, "8", "Bo")
    assert bo.id == ann.id + 1
