"""Likes, the per-viewer state, and editing or deleting your own comment."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import ClientFactory
from tests.helpers import BLOG, EMBED, OWN_ORIGIN, PAGE, SECRET, posted
from tests.signing_in import signed_in_commenter
from widget import comments
from widget.auth.tokens import Purpose, TokenSigner
from widget.errors import Forbidden
from widget.sites import change_site_setting
from widget.views.context import LIKE_RATE_PER_MINUTE


async def like(client: httpx.AsyncClient, comment: int | None, liked: bool, voter: str = "") -> Any:
    response = await client.post(
        "/api/v1/likes",
        json={**PAGE, "comment": comment, "liked": liked, "voter": voter},
        headers=OWN_ORIGIN,
    )
    assert response.status_code == 200, response.text
    return response.json()


async def me(client: httpx.AsyncClient, voter: str = "", tokens: list[str] | None = None) -> Any:
    response = await client.post(
        "/api/v1/me", json={**PAGE, "voter": voter, "edit_tokens": tokens or []},
        headers=OWN_ORIGIN,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_like_counts_once_per_browser_and_can_be_taken_back(
    client: httpx.AsyncClient,
) -> None:
    comment_id = (await posted(client))["comment"]["id"]
    first = await like(client, comment_id, True)
    assert first["liked"] is True
    assert first["count"] == 1
    assert first["text"] == "1 like"
    voter = first["voter"]
    again = await like(client, comment_id, True, voter)
    assert again["count"] == 1
    other_browser = await like(client, comment_id, True)
    assert other_browser["count"] == 2
    taken_back = await like(client, comment_id, False, voter)
    assert taken_back == {**taken_back, "liked": False, "count": 1}
    fragment = (await client.get("/embed/blog/thread/fragment", params=EMBED)).text
    assert '<span class="wg-like-count">1 like</span>' in fragment


async def test_likes_are_rate_limited_per_network(client: httpx.AsyncClient) -> None:
    comment_id = (await posted(client))["comment"]["id"]
    voter = ""
    for n in range(LIKE_RATE_PER_MINUTE):  # a minute's worth of clicks, on and off
        voter = (await like(client, comment_id, n % 2 == 0, voter))["voter"]
    refused = await client.post(
        "/api/v1/likes", json={**PAGE, "comment": comment_id, "liked": True, "voter": voter},
        headers=OWN_ORIGIN,
    )  # fmt: skip
    assert refused.status_code == 429
    assert "too fast" in refused.json()["error"]
    assert int(refused.headers["retry-after"]) >= 1


async def test_concurrent_double_clicks_count_once(client: httpx.AsyncClient) -> None:
    comment_id = (await posted(client))["comment"]["id"]
    voter = (await like(client, comment_id, False))["voter"]
    results = await asyncio.gather(*(like(client, comment_id, True, voter) for _ in range(10)))
    assert {r["count"] for r in results} == {1}
    state = await me(client, voter)
    assert state["liked"] == [comment_id]


async def test_liking_the_post_itself(client: httpx.AsyncClient) -> None:
    # A page nobody has commented on can be liked: "Be the first to like this."
    result = await like(client, None, True)
    assert result["text"] == "One person likes this."
    second = await like(client, None, True)
    assert second["text"] == "2 people like this."
    fragment = (await client.get("/embed/blog/thread/fragment", params=EMBED)).text
    assert "2 people like this." in fragment
    state = await me(client, second["voter"])
    assert state["post_liked"] is True
    assert state["liked"] == []


async def test_a_forged_voter_token_gets_a_fresh_voter(client: httpx.AsyncClient) -> None:
    comment_id = (await posted(client))["comment"]["id"]
    voter = (await like(client, comment_id, True))["voter"]
    forged = await like(client, comment_id, True, voter[:-2] + "xx")
    assert forged["count"] == 2
    assert forged["voter"] != voter


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"comment": None}, "'liked' must be true or false."),
        ({"comment": "12", "liked": True}, "'comment' must be a comment id"),
        ({"comment": True, "liked": True}, "'comment' must be a comment id"),
    ],
)
async def test_bad_likes_are_400(
    client: httpx.AsyncClient, body: dict[str, Any], message: str
) -> None:
    response = await client.post("/api/v1/likes", json={**PAGE, **body}, headers=OWN_ORIGIN)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


async def test_liking_a_comment_of_another_page_is_404(client: httpx.AsyncClient) -> None:
    comment_id = (await posted(client, page="/other/"))["comment"]["id"]
    response = await client.post(
        "/api/v1/likes", json={**PAGE, "comment": comment_id, "liked": True}, headers=OWN_ORIGIN
    )
    assert response.status_code == 404
    assert "not on this page" in response.json()["error"]


async def test_a_comment_readers_cannot_see_cannot_be_liked(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    await change_site_setting(app.state.widget.storage, "blog", "moderation", "all")
    held = (await posted(client))["comment"]["id"]
    response = await client.post(
        "/api/v1/likes", json={**PAGE, "comment": held, "liked": True}, headers=OWN_ORIGIN
    )
    assert response.status_code == 404
    assert "or has been removed" in response.json()["error"]
    comment = await app.state.widget.storage.get_comment(held)
    assert comment is not None and comment.like_count == 0


async def test_the_viewer_state_lists_own_editable_comments(client: httpx.AsyncClient) -> None:
    mine = await posted(client, body="*mine*")
    theirs = await posted(client, body="theirs")
    # Mine too, but on another page: this page's state lists this page's comments only.
    elsewhere = await posted(client, body="elsewhere", page="/other/", url=f"{BLOG}/other/")
    state = await me(client, tokens=[mine["edit_token"], elsewhere["edit_token"], "garbage"])
    assert state["editable"] == {
        str(mine["comment"]["id"]): {"seconds_left": pytest.approx(900, abs=5), "body": "*mine*"}
    }
    assert str(theirs["comment"]["id"]) not in state["editable"]


async def test_editing_within_the_window(client: httpx.AsyncClient) -> None:
    data = await posted(client, body="tpyo")
    response = await client.patch(
        f"/api/v1/comments/{data['comment']['id']}",
        json={"token": data["edit_token"], "body": "typo **fixed**", "name": "Ann B."},
        headers=OWN_ORIGIN,
    )
    assert response.status_code == 200, response.text
    assert response.json()["comment"]["html"] == "<p>typo <strong>fixed</strong></p>"
    fragment = (await client.get("/embed/blog/thread/fragment", params=EMBED)).text
    assert "typo <strong>fixed</strong>" in fragment
    assert "Ann B." in fragment
    assert "(edited)" in fragment


async def test_edits_are_validated_like_new_comments(client: httpx.AsyncClient) -> None:
    data = await posted(client)
    url = f"/api/v1/comments/{data['comment']['id']}"
    empty = await client.patch(
        url, json={"token": data["edit_token"], "body": ""}, headers=OWN_ORIGIN
    )
    assert empty.status_code == 422
    assert empty.json()["fields"]["body"] == "Write a comment before posting."
    bad_site = await client.patch(
        url, json={"token": data["edit_token"], "body": "ok", "website": "javascript:x"},
        headers=OWN_ORIGIN,
    )  # fmt: skip
    assert bad_site.status_code == 422


async def test_editing_needs_the_comments_own_token(client: httpx.AsyncClient) -> None:
    first = await posted(client)
    second = await posted(client)
    url = f"/api/v1/comments/{first['comment']['id']}"
    # A token signed before tokens carried their row's mark names whichever row has its number.
    unmarked = TokenSigner(SECRET).sign(Purpose.EDIT, {"c": second["comment"]["id"]})
    for token, message in [
        (second["edit_token"], "another comment"),
        (unmarked, "another comment"),
        ("forged", "not valid"),
        ("", "not valid"),
    ]:
        response = await client.patch(url, json={"token": token, "body": "x"}, headers=OWN_ORIGIN)
        assert response.status_code == 403
        assert message in response.json()["error"]
    deleting = await client.request(
        "DELETE", url, json={"token": second["edit_token"]}, headers=OWN_ORIGIN
    )
    assert deleting.status_code == 403


async def test_the_edit_window_closes(client: httpx.AsyncClient, app: Starlette) -> None:
    context = app.state.widget
    data = await posted(client)
    comment_id = data["comment"]["id"]
    later = datetime.now(UTC) + timedelta(minutes=16)
    form = comments.EditForm("too late", None, None)
    with pytest.raises(Forbidden, match="over"):
        await comments.edit_comment(
            context.storage, context.signer, comment_id, data["edit_token"], form,
            rate_limit=None, renderer=context.render_workers, now=later,
        )  # fmt: skip
    # Through HTTP: a site with no edit window at all.
    await change_site_setting(context.storage, "blog", "edit_window_s", 0)
    response = await client.patch(
        f"/api/v1/comments/{comment_id}",
        json={"token": data["edit_token"], "body": "x"},
        headers=OWN_ORIGIN,
    )
    assert response.status_code == 403
    assert response.json()["error"] == "The time to edit or delete this comment is over."
    state = await me(client, tokens=[data["edit_token"]])
    assert state["editable"] == {}


async def test_deleting_own_comment(client: httpx.AsyncClient) -> None:
    data = await posted(client)
    url = f"/api/v1/comments/{data['comment']['id']}"
    response = await client.request(
        "DELETE", url, json={"token": data["edit_token"]}, headers=OWN_ORIGIN
    )
    assert response.status_code == 200
    assert response.json()["count"] == 0
    assert response.json()["title_text"] == "No Responses to “Hello world”"
    twice = await client.request(
        "DELETE", url, json={"token": data["edit_token"]}, headers=OWN_ORIGIN
    )
    assert twice.status_code == 404
    edit_after = await client.patch(
        url, json={"token": data["edit_token"], "body": "back?"}, headers=OWN_ORIGIN
    )
    assert edit_after.status_code == 404
    state = await me(client, tokens=[data["edit_token"]])  # gone: neither editable nor held
    assert (state["editable"], state["held"]) == ({}, [])


async def test_writes_need_our_origin(client: httpx.AsyncClient) -> None:
    data = await posted(client)
    url = f"/api/v1/comments/{data['comment']['id']}"
    evil = {"Origin": "https://evil.example"}
    assert (
        await client.patch(url, json={"token": data["edit_token"], "body": "x"}, headers=evil)
    ).status_code == 403
    assert (
        await client.request("DELETE", url, json={"token": data["edit_token"]}, headers=evil)
    ).status_code == 403
    likes = await client.post(
        "/api/v1/likes", json={**PAGE, "comment": None, "liked": True}, headers=evil
    )
    assert likes.status_code == 403


async def test_an_unknown_comment_is_404(client: httpx.AsyncClient) -> None:
    response = await client.patch(
        "/api/v1/comments/abc", json={"token": "x", "body": "y"}, headers=OWN_ORIGIN
    )
    assert response.status_code == 404


async def like_answer(
    client: httpx.AsyncClient, comment: int | None, liked: bool = True, voter: str = "",
    headers: dict[str, str] | None = None,
) -> httpx.Response:  # fmt: skip
    return await client.post(
        "/api/v1/likes", json={**PAGE, "comment": comment, "liked": liked, "voter": voter},
        headers=headers or OWN_ORIGIN,
    )  # fmt: skip


async def test_a_network_counts_a_few_guest_likes_whatever_voter_ids_it_sends(
    app: Starlette, client_from: ClientFactory
) -> None:
    home = client_from("198.51.100.7")
    comment_id = (await posted(home))["comment"]["id"]
    # A script drops its voter id each time: a new voter, the same network.
    answers = [await like_answer(home, comment_id) for _ in range(10)]
    assert [a.status_code for a in answers] == [200] * 3 + [403] * 7
    assert answers[-1].json()["error"] == (
        "Your network has already given this the most guest likes it can (3)."
    )
    # An IPv6 /64 is one network, whichever of its addresses asks; other networks count apart.
    in_one_64 = [client_from(f"2001:db8:1:2::{n}") for n in range(1, 6)]
    codes = [(await like_answer(c, comment_id)).status_code for c in in_one_64]
    assert codes == [200, 200, 200, 403, 403]
    assert (await like_answer(client_from("2001:db8:1:3::1"), comment_id)).status_code == 200
    assert (await like_answer(client_from("198.51.100.8"), comment_id)).status_code == 200
    # A guest who liked may send it again (a retry); taking a like back makes room for one.
    voter = answers[0].json()["voter"]
    assert (await like_answer(home, comment_id, voter=voter)).json()["count"] == 8
    assert (await like_answer(home, comment_id, False, voter)).json()["count"] == 7
    assert (await like_answer(home, comment_id)).json()["count"] == 8
    assert (await like_answer(home, comment_id)).status_code == 403
    # The post's own likes are bounded the same way.
    post_codes = [(await like_answer(home, None)).status_code for _ in range(5)]
    assert post_codes == [200, 200, 200, 403, 403]

    stored = await app.state.widget.storage.get_comment(comment_id)
    assert stored is not None and stored.like_count == 8
    fragment = (await home.get("/embed/blog/thread/fragment", params=EMBED)).text
    assert '<span class="wg-like-count">8 likes</span>' in fragment
    assert "3 people like this." in fragment

    # A site owner whose readers share a network (an office) can count more of them.
    await change_site_setting(app.state.widget.storage, "blog", "guest_likes_per_network", 5)
    codes = [(await like_answer(home, comment_id)).status_code for _ in range(3)]
    assert codes == [200, 200, 403]


async def test_signed_in_likes_count_once_per_account_on_any_network(
    app: Starlette, client_from: ClientFactory
) -> None:
    home = client_from("198.51.100.7")
    comment_id = (await posted(home))["comment"]["id"]
    for _ in range(3):
        assert (await like_answer(home, comment_id)).status_code == 200
    assert (await like_answer(home, comment_id)).status_code == 403
    for n in (1, 2):
        _, signed_in = await signed_in_commenter(app, str(n), f"Reader {n}")
        for _ in range(3):  # whatever voter id it sends, an account likes once
            answer = await like_answer(home, comment_id, headers=signed_in)
            assert answer.status_code == 200 and answer.json()["count"] == 3 + n
