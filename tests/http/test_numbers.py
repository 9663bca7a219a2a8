"""Numbers a reader reads are written the way the frame's language writes them ("1 234
réponses", "20.000"), in the frame, the fragment, the no-JavaScript form's errors, the counts
for index pages and the admin pages; numbers for machines (JSON counts, versions, ids) stay
plain; and what is kept and revalidated follows the language and the words."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from starlette.applications import Starlette

from tests.admins import make_admin, signed_in
from tests.helpers import BLOG, EMBED, OWN_ORIGIN, PAGE, open_form, running_app
from widget.app import create_app
from widget.config import Settings
from widget.messages import said
from widget.records import ImportedComment, ImportedLike, PageRef
from widget.sites import change_site_setting
from widget.views import i18n
from widget.views.i18n import LANGUAGES, Translator, group_digits

NNBSP, NBSP = "\u202f", "\u00a0"
# 1234, 20000 and 1234567 as CLDR 48 writes them (and so browsers' Intl.NumberFormat), written
# out here, not computed: Spanish, Italian and Polish leave four digits whole
# (minimumGroupingDigits 2); French separates with a narrow no-break space; Arabic's default
# numbering system is Latin digits.
CLDR = {
    "en": ("1,234", "20,000", "1,234,567"),
    "de": ("1.234", "20.000", "1.234.567"),
    "ru": (f"1{NBSP}234", f"20{NBSP}000", f"1{NBSP}234{NBSP}567"),
    "fr": (f"1{NNBSP}234", f"20{NNBSP}000", f"1{NNBSP}234{NNBSP}567"),
    "es": ("1234", "20.000", "1.234.567"),
    "pt": ("1.234", "20.000", "1.234.567"),
    "it": ("1234", "20.000", "1.234.567"),
    "pl": ("1234", f"20{NBSP}000", f"1{NBSP}234{NBSP}567"),
    "uk": (f"1{NBSP}234", f"20{NBSP}000", f"1{NBSP}234{NBSP}567"),
    "tr": ("1.234", "20.000", "1.234.567"),
    "ja": ("1,234", "20,000", "1,234,567"),
    "zh": ("1,234", "20,000", "1,234,567"),
    "ar": ("1,234", "20,000", "1,234,567"),
}
MANY = 1234  # comments (and likes) of the big thread


def test_the_languages_are_all_here() -> None:
    assert set(CLDR) == set(LANGUAGES)


@pytest.mark.parametrize("lang", sorted(CLDR))
def test_numbers_are_grouped_as_cldr_writes_them(lang: str) -> None:
    assert tuple(group_digits(n, lang) for n in (1234, 20000, 1234567)) == CLDR[lang]
    assert [group_digits(n, lang) for n in (0, 7, 999)] == ["0", "7", "999"]
    assert Translator(lang).number(1234) == CLDR[lang][0]


def test_what_the_domain_says_in_english_groups_its_numbers_too() -> None:
    too_long = said("error_body_too_long", length=20_001, limit=20_000)
    assert "is 20,001 characters long; the limit is 20,000." in too_long
    assert Translator("fr").say(too_long).startswith(f"Votre commentaire fait 20{NNBSP}001 ")
    late = said("error_try_again_in", what=said("error_too_many_links"), seconds=3600)
    assert late == "Too many links asked for; try again in 3,600 seconds."
    assert (
        Translator("de").say(late)
        == "Zu viele Links angefordert; versuche es in 3.600 s noch einmal."
    )


async def test_the_forms_length_error_is_written_in_the_readers_numbers(
    client: httpx.AsyncClient,
) -> None:
    """The no-JavaScript form and the frame's script (Accept-Language) alike."""
    body = "x" * 10_001  # the limit is 10,000 characters
    for lang in LANGUAGES:
        form = await open_form(client, lang=lang)
        answer = await client.post(
            "/embed/blog/thread/comments",
            data={**form, "body": body, "name": "Ann", "email": "ann@example.com"},
            headers=OWN_ORIGIN,
        )
        assert answer.status_code == 422, lang
        expected = Translator(lang).say(said("error_body_too_long", length=10_001, limit=10_000))
        assert group_digits(10_001, lang) in expected, lang
        assert group_digits(10_000, lang) in expected, lang
        assert expected in html.unescape(answer.text), lang
    api = await client.post(
        "/api/v1/comments",
        json={**PAGE, "body": body, "name": "Ann", "email": "ann@example.com",
              "form_token": form["form_token"]},
        headers={**OWN_ORIGIN, "Accept-Language": "fr"},
    )  # fmt: skip
    assert api.status_code == 422
    assert f"fait 10{NNBSP}001 caractères ; la limite est de 10{NNBSP}000." in api.json()["error"]


@pytest.fixture
async def big_thread(app: Starlette) -> AsyncIterator[Starlette]:
    """PAGE with 1,234 comments and 1,234 likes of the post, its first comment with 1,234
    likes of its own, one comment a page."""
    storage = app.state.widget.storage
    page = PageRef("blog", PAGE["page"], PAGE["url"], PAGE["title"])
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    async def items() -> AsyncIterator[ImportedComment | ImportedLike]:
        for n in range(MANY):
            yield ImportedComment(
                f"c{n}", None, page, f"Reader {n}", "", "", f"Comment {n}", f"<p>Comment {n}</p>",
                "approved", at, like_count=MANY if n == MANY - 1 else 0,
            )  # fmt: skip
        for n in range(MANY):
            yield ImportedLike(PAGE["page"], None, f"voter-{n}", at)

    tally = await storage.import_comments("blog", items())
    assert (tally.imported, tally.likes) == (MANY, MANY)
    await change_site_setting(storage, "blog", "page_size", 1)
    yield app


async def test_counts_likes_and_page_numbers_in_the_readers_numbers(
    big_thread: Starlette, client: httpx.AsyncClient
) -> None:
    for lang in LANGUAGES:
        t, many = Translator(lang), CLDR[lang][0]
        fragment = (
            await client.get("/embed/blog/thread/fragment", params={**EMBED, "lang": lang})
        ).text
        heading = re.search(r'<h2 class="wg-title" id="comments-title">([^<]*)</h2>', fragment)
        assert heading, lang
        assert many in heading.group(1), (lang, heading.group(1))
        assert html.unescape(heading.group(1)) == t("responses_to", n=MANY, title="Hello world")
        post_likes = re.search(r'<span class="wg-post-like-count">([^<]*)</span>', fragment)
        assert post_likes and many in post_likes.group(1), lang
        likes = re.findall(r'<span class="wg-like-count">([^<]*)</span>', fragment)
        assert likes == [t("likes", n=MANY)] and many in likes[0], (lang, likes)
        # One comment a page: the opening page is number 1,234, after 1,233.
        current = re.findall(r'<span class="wg-page" aria-current="page">([^<]*)</span>', fragment)
        assert current == [many, many], (lang, current)
        before = group_digits(MANY - 1, lang)
        assert f'target="_self">{before}</a>' in fragment, lang
        assert "cpage=1233" in fragment, lang  # the links' numbers stay plain

        counts = await client.get(
            "/api/v1/counts", params={"site": "blog", "lang": lang, "page": PAGE["page"]}
        )
        answer = counts.json()["counts"][PAGE["page"]]
        assert answer == {"count": MANY, "text": t("count", n=MANY)}, lang  # the number: plain
        assert many in answer["text"], (lang, answer)

        data = (await client.get("/api/v1/threads", params={**PAGE, "lang": lang})).json()
        assert (data["count"], data["likes"], data["page_number"]) == (MANY, MANY, MANY)
        assert many in data["count_text"], lang

    # A site's own wording of the count takes the frame's digits.
    await change_site_setting(big_thread.state.widget.storage, "blog", "count_many", "{n} avis")
    counts = await client.get(
        "/api/v1/counts", params={"site": "blog", "lang": "fr", "page": PAGE["page"]}
    )
    assert counts.json()["counts"][PAGE["page"]]["text"] == f"1{NNBSP}234 avis"


async def test_kept_documents_and_counts_follow_the_language(
    big_thread: Starlette, client: httpx.AsyncClient
) -> None:
    """What is kept in the process is kept per language, and each language's ETag names
    what that language shows: a French reader never gets German digits, fresh or kept."""
    for _ in range(2):  # rendered, then kept
        for lang in ("fr", "de", "es", "en"):
            document = await client.get("/embed/blog/thread", params={**EMBED, "lang": lang})
            assert f">{CLDR[lang][0]}</span>" in document.text, lang
            counts = await client.get(
                "/api/v1/counts", params={"site": "blog", "lang": lang, "page": PAGE["page"]}
            )
            assert CLDR[lang][0] in counts.json()["counts"][PAGE["page"]]["text"], lang
    etags = set()
    for lang in ("fr", "de"):
        counts = await client.get(
            "/api/v1/counts", params={"site": "blog", "lang": lang, "page": PAGE["page"]}
        )
        etags.add(counts.headers["etag"])
    assert len(etags) == 2


async def test_etags_change_when_the_numbers_are_written_anew(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A release that writes numbers (or words) anew changes the ETags of what shows them, so
    that no browser, proxy or CDN revalidating a page it kept gets a 304 for the old digits."""

    async def etags() -> list[str]:
        app = create_app(settings)  # a new process, as after a release
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
            async with httpx.AsyncClient(transport=transport, base_url=BLOG) as client:
                params = {**EMBED, "lang": "fr"}
                fragment = await client.get("/embed/blog/thread/fragment", params=params)
                document = await client.get("/embed/blog/thread", params=params)
                counts = await client.get(
                    "/api/v1/counts", params={"site": "blog", "lang": "fr", "page": "/x/"}
                )
                return [r.headers["etag"] for r in (fragment, document, counts)]

    async with running_app(settings):
        pass  # the blog's site, added
    before = await etags()
    assert before == await etags()  # the same words: the same names
    monkeypatch.setitem(i18n._DIGIT_GROUPS, "fr", (" ", 1))  # as a release might write them
    i18n.words_digest.cache_clear()
    try:
        after = await etags()
    finally:
        i18n.words_digest.cache_clear()
    assert [a != b for a, b in zip(before, after, strict=True)] == [True, True, True]


async def test_the_admin_pages_write_counts_the_english_way(
    big_thread: Starlette, client: httpx.AsyncClient
) -> None:
    await make_admin(big_thread, "boss@example.com")
    boss = await signed_in(client, "boss@example.com")
    queue = await boss.get("/admin/sites/blog/comments", status="approved", done="spam", n="1234")
    assert queue.status_code == 200
    assert "approved (1,234)</a>" in queue.text
    assert "Marked 1,234 comments as spam." in queue.text  # what a bulk action did
    dashboard = await boss.get("/admin/")
    assert '<a href="/admin/sites/blog/comments?status=approved">1,234</a>' in dashboard.text
