"""Inputs that cost the server more than they should: text that takes markdown-it seconds to
render, and JSON or numbers that reach Python's own limits. Each is refused with a 4xx that
says what to change, before it can cost anything, and never as a 500."""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import multiprocessing
import os
import re
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from tests.admins import make_admin, signed_in
from tests.helpers import (
    BLOG,
    IMPORT_FIXTURES,
    OWN_ORIGIN,
    PAGE,
    PUBLIC_URL,
    QUICK,
    Widget,
    comment_body,
    make_settings,
    open_form,
    post_comment,
    posted,
)
from widget.app import create_app
from widget.config import Settings
from widget.porting.importer import import_file
from widget.records import PageWindow
from widget.sites import add_site
from widget.storage import storage_for_url

# markdown-it-py looks for the end of each "[" to the end of the text: quadratic, about half a
# second of CPU for these ten thousand. The tests set the limit to a tenth of that.
SLOW = "[" * 10_000
CPU_LIMIT_S = 0.05
FIXTURES = IMPORT_FIXTURES


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(
        tmp_path / "data", database_url=database_url, render_cpu_limit_s=CPU_LIMIT_S
    )


async def thread_count(app: Starlette) -> int:
    head = await app.state.widget.storage.get_thread_head("blog", PAGE["page"])
    return head.comment_count if head else 0


# -- rendering ------------------------------------------------------------------------------------


async def test_a_comment_too_complex_to_render_in_time_is_refused_and_not_stored(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    refused = await post_comment(client, body=SLOW)
    assert refused.status_code == 422
    assert "too complex to display" in refused.json()["fields"]["body"]
    form = await open_form(client)
    without_script = await client.post(
        "/embed/blog/thread/comments",
        data={**form, "body": SLOW, "name": "Ann", "email": "ann@example.com"},
        headers=OWN_ORIGIN,
    )
    assert without_script.status_code == 422
    assert "too complex to display" in without_script.text
    assert f">{SLOW}</textarea>" in without_script.text  # kept for the visitor to simplify
    assert await thread_count(app) == 0
    # The worker that gave up is replaced: the next comment is rendered as ever.
    fine = await posted(client, body="Fine *words*")
    assert fine["comment"]["html"] == "<p>Fine <em>words</em></p>"
    assert await thread_count(app) == 1


async def test_an_edit_too_complex_to_render_is_refused_and_the_comment_kept(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    data = await posted(client, body="Fine *words*")
    comment_id = data["comment"]["id"]
    edit = await client.patch(
        f"/api/v1/comments/{comment_id}",
        json={"token": data["edit_token"], "body": SLOW},
        headers=OWN_ORIGIN,
    )
    assert edit.status_code == 422
    assert "too complex to display" in edit.json()["error"]
    stored = await app.state.widget.storage.get_comment(comment_id)
    assert stored.body_source == "Fine *words*"
    assert stored.body_html == "<p>Fine <em>words</em></p>"


@pytest.mark.slow
async def test_a_render_worker_that_hangs_is_replaced_and_the_visitor_told_to_retry(
    client: httpx.AsyncClient, app: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    assert (await post_comment(client, body="Starts the workers")).status_code == 201
    assert (await post_comment(client, body="Both of them")).status_code == 201
    frozen = [p for p in multiprocessing.active_children() if p.name == "widget-render"]
    assert frozen
    for worker in frozen:
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGSTOP)  # as a worker stuck in native code would be
    refused = await post_comment(client, body="Waits for a frozen worker")
    assert refused.status_code == 503
    assert "too busy to format comments" in refused.json()["error"]
    assert refused.headers["retry-after"] == "30"
    assert "did not answer within" in caplog.text
    # Each frozen worker is stopped when found, and a new one started in its place.
    retries = [(await post_comment(client, body=f"Again {n}")).status_code for n in range(2)]
    assert retries in ([201, 201], [503, 201])
    for worker in frozen:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, signal.SIGKILL)  # type: ignore[arg-type]  # checked above


async def test_a_moderators_edit_is_held_to_the_same_limit(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    comment_id = (await posted(client, body="Fine *words*"))["comment"]["id"]
    await make_admin(app, "boss@example.com")
    boss = await signed_in(client, "boss@example.com")
    response = await boss.post(f"/admin/comments/{comment_id}", body=SLOW, name="Ann")
    assert response.status_code == 422
    assert "too complex to display" in response.text
    stored = await app.state.widget.storage.get_comment(comment_id)
    assert stored.body_html == "<p>Fine <em>words</em></p>"


@pytest.fixture
async def limited(tmp_path: Path, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """One visitor, on a server that takes 2 comments a minute of up to 40,000 characters,
    and renders each for up to a second of CPU."""
    settings = make_settings(
        tmp_path / "limited", database_url=database_url, post_rate_per_minute=2,
        max_body_chars=40_000, render_cpu_limit_s=1.0,
    )  # fmt: skip
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client,
    ):
        await add_site(app.state.widget.storage, "blog", [BLOG], "", QUICK)
        yield client


async def test_a_post_over_the_rate_limit_is_refused_before_it_is_rendered(
    limited: httpx.AsyncClient,
) -> None:
    """The limit is counted first: refusing a post that would take markdown-it seconds to
    render (40,000 "[") takes no longer than refusing any other."""
    for n in range(2):
        assert (await post_comment(limited, body=f"Comment {n}")).status_code == 201
    started = time.monotonic()
    refused = await post_comment(limited, body="[" * 40_000, email="bob@example.com")
    took = time.monotonic() - started
    assert refused.status_code == 429
    assert "posting too fast" in refused.json()["error"]
    assert took < 1.0, f"refusing took {took:.2f} s: the text was rendered first"


async def test_edits_are_rate_limited_apart_from_posts(limited: httpx.AsyncClient) -> None:
    data = await posted(limited, body="First")
    url = f"/api/v1/comments/{data['comment']['id']}"
    edits = [
        await limited.patch(
            url, json={"token": data["edit_token"], "body": f"Edit {n}"}, headers=OWN_ORIGIN
        )
        for n in range(3)
    ]
    assert [e.status_code for e in edits] == [200, 200, 429]
    assert "editing too fast" in edits[2].json()["error"]
    assert 1 <= int(edits[2].headers["retry-after"]) <= 31
    # Posts have a count of their own: a second comment this minute is fine.
    assert (await post_comment(limited, body="Second")).status_code == 201


def test_imported_comments_are_rendered_within_the_same_limit(
    tmp_path: Path, database_url: str, widget: Widget
) -> None:
    """A file can hold text no form would take (no length limit): each body gets the same
    CPU budget, and one over it is skipped and reported, the rest imported."""
    backup = tmp_path / "backup.jsonl"
    lines = [{"version": 1, "users": [], "posts": []}]
    for n, (orig, text) in enumerate(
        [
            ("Fine *words*", ""),
            ("[" * 30_000, ""),  # Markdown, seconds of markdown-it
            ("", "<ul><li>" * 12_000),  # HTML, a second of nh3 (native code)
        ]
    ):
        lines.append({
            "id": f"c{n}", "pid": "", "orig": orig, "text": text, "user": {"name": "Ann"},
            "locator": {"url": "https://blog.example/p/"}, "time": "2020-01-02T03:04:05Z",
        })  # fmt: skip
    backup.write_text("".join(json.dumps(line) + "\n" for line in lines))
    limits = {"database_url": database_url, "render_cpu_limit_s": str(CPU_LIMIT_S)}
    assert widget("site", "add", "blog", "--origin", BLOG, **limits).code == 0
    ran = widget("import", str(backup), "--site", "blog")
    assert ran.code == 0, ran.err
    output = ran.out
    assert "Imported 1 comment and" in output
    assert "Skipped 2: 2 unparsable" in output
    assert output.count("its text could not be formatted: more than 0.05 s of CPU time") == 2

    async def stored() -> list[str]:
        storage = storage_for_url(database_url)
        await storage.open()
        try:
            head = await storage.get_thread_head("blog", "/p/")
            assert head is not None
            _, page = await storage.get_thread_page(head.id, PageWindow("after", 0, 50))
            return [comment.body_html for comment in page.roots]
        finally:
            await storage.close()

    assert asyncio.run(stored()) == ["<p>Fine <em>words</em></p>"]


async def test_a_wordpress_post_date_that_is_no_date_does_not_stop_an_import(
    app: Starlette, tmp_path: Path
) -> None:
    """The post's dates only place comments without a GMT date of their own (was: a
    ValueError out of the whole import)."""
    wxr = (FIXTURES / "wordpress.xml").read_text()
    damaged = tmp_path / "wordpress.xml"
    damaged.write_text(re.sub(r"<wp:post_date>.*?</wp:post_date>", "<wp:post_date>yesterday"
                              "</wp:post_date>", wxr))  # fmt: skip
    storage = app.state.widget.storage
    whole = await import_file(storage, FIXTURES / "wordpress.xml", "blog", dry_run=True)
    report = await import_file(storage, damaged, "blog")
    assert report.imported > 0
    assert report.imported >= whole.imported - 1  # at most the one without a GMT date is left


# -- JSON and numbers -----------------------------------------------------------------------------


async def raw_json(
    client: httpx.AsyncClient, path: str, text: str, method: str = "POST"
) -> httpx.Response:
    headers = {**OWN_ORIGIN, "Content-Type": "application/json"}
    return await client.request(method, path, content=text.encode(), headers=headers)


def with_field(name: str, literal: str) -> str:
    """A comment's JSON with one more field, written as given (not as Python would)."""
    return json.dumps(comment_body())[:-1] + f', "{name}": {literal}}}'


@pytest.mark.parametrize("depth", [21, 500, 100_000])
async def test_json_nested_deeper_than_the_api_needs_is_a_400(
    client: httpx.AsyncClient, depth: int
) -> None:
    text = with_field("extra", "[" * depth + "]" * depth)
    for method, path in [("POST", "/api/v1/comments"), ("POST", "/api/v1/me"),
                         ("POST", "/api/v1/likes"), ("PATCH", "/api/v1/comments/1"),
                         ("DELETE", "/api/v1/comments/1")]:  # fmt: skip
        response = await raw_json(client, path, text, method)
        assert response.status_code == 400, response.text
        assert "nested more than 20 levels deep" in response.json()["error"]


@pytest.mark.parametrize("digits", [19, 4_000, 5_000, 100_000])
async def test_numbers_longer_than_an_id_are_a_400(client: httpx.AsyncClient, digits: int) -> None:
    for name in ("parent", "comment"):
        for path in ("/api/v1/comments", "/api/v1/likes"):
            response = await raw_json(client, path, with_field(name, "9" * digits))
            assert response.status_code == 400, response.text
            assert f"a number of {digits:,} digits" in response.json()["error"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
async def test_json_that_is_not_json_is_a_400(client: httpx.AsyncClient, constant: str) -> None:
    response = await raw_json(client, "/api/v1/comments", with_field("parent", constant))
    assert response.status_code == 400
    assert f"{constant} is not a JSON number" in response.json()["error"]


async def test_a_content_length_of_thousands_of_digits_is_a_413(
    client: httpx.AsyncClient,
) -> None:
    request = client.build_request(
        "POST", "/api/v1/comments", content=b"{}",
        headers={**OWN_ORIGIN, "Content-Type": "application/json"},
    )  # fmt: skip
    request.headers["Content-Length"] = "9" * 5_000
    response = await client.send(request)
    assert response.status_code == 413
    assert "larger than the 262,144 bytes" in response.json()["error"]


async def test_ids_of_thousands_of_digits_in_paths_and_queries_name_nothing(
    client: httpx.AsyncClient,
) -> None:
    huge = "9" * 5_000
    edit = await client.patch(
        f"/api/v1/comments/{huge}", json={"token": "x", "body": "y"}, headers=OWN_ORIGIN
    )
    assert edit.status_code == 404
    # In a query, as long as a value may be (a longer one is refused for its length first),
    # on a page with a thread to look in.
    await post_comment(client)
    longest = "9" * 1_999
    for name, status in (("before", 400), ("after", 400), ("replytocom", 200)):
        for path in ("/embed/blog/thread", "/embed/blog/thread/fragment"):
            response = await client.get(path, params={**PAGE, name: longest})
            assert response.status_code == status, (path, name, response.text)
            if status == 400:  # a cursor that is no comment; a reply to none is just the form
                assert f"'{name}' must be a comment number" in html.unescape(response.text)
    form = await open_form(client)
    reply = await client.post(
        "/embed/blog/thread/comments",
        data={**form, "body": "Hi", "name": "Ann", "email": "ann@example.com", "parent": huge},
        headers=OWN_ORIGIN,
    )
    assert reply.status_code == 422
    assert "The comment you are replying to is not valid." in reply.text
