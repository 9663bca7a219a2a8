"""Every language has every message, with the placeholders English has, and picks the plural
forms CLDR gives for whole numbers; the frame speaks the reader's language (and reads right to
left in Arabic)."""

from __future__ import annotations

import re
from collections.abc import Mapping

import httpx
import pytest
from starlette.applications import Starlette

from tests.helpers import EMBED, OWN_ORIGIN, PAGE, comment_body, open_form
from widget.errors import RateLimited
from widget.messages import ENGLISH, said
from widget.records import RateLimit
from widget.sites import change_site_setting
from widget.views.i18n import _CATALOGS, EN, LANGUAGES, Translator, language_asked

NUMBERS = (0, 1, 2, 5, 11, 21, 101, 1_000_000)
# CLDR's categories for those numbers, written out from the CLDR tables (not computed).
CLDR = {
    "en": "other one other other other other other other",
    "de": "other one other other other other other other",
    "tr": "other one other other other other other other",
    "fr": "one one other other other other other many",
    "pt": "one one other other other other other many",
    "es": "other one other other other other other many",
    "it": "other one other other other other other many",
    "ru": "many one few many many one one many",
    "uk": "many one few many many one one many",
    "pl": "many one few many many many many many",
    "ja": "other other other other other other other other",
    "zh": "other other other other other other other other",
    "ar": "zero one two few many many other other",
}
PLACEHOLDER = re.compile(r"\{(\w+)(?::[^}]*)?\}")
# Numbers come to messages as text, written the language's way ("1 234"): no format spec.
FORMAT_SPEC = re.compile(r"\{\w+:")


def _forms(message: str | Mapping[str, str]) -> list[str]:
    return [message] if isinstance(message, str) else list(message.values())


def _by_category(message: str | Mapping[str, str]) -> Mapping[str, str]:
    return {"": message} if isinstance(message, str) else message


def test_the_languages_asked_for_are_there() -> None:
    assert set(CLDR) == set(LANGUAGES)


@pytest.mark.parametrize("lang", sorted(CLDR))
def test_plural_categories_follow_cldr(lang: str) -> None:
    plural = _CATALOGS[lang][1]
    assert [plural(n) for n in NUMBERS] == CLDR[lang].split()


@pytest.mark.parametrize("lang", sorted(CLDR))
def test_every_message_is_translated_with_its_placeholders(lang: str) -> None:
    catalog, plural = _CATALOGS[lang]
    assert set(catalog) == set(EN)
    needed = {plural(n) for n in NUMBERS}
    for key, english in EN.items():
        message = catalog[key]
        assert isinstance(message, str) == isinstance(english, str), key
        wanted = {p for form in _forms(english) for p in PLACEHOLDER.findall(form)} - {"n"}
        english_forms = _by_category(english)
        for category, form in _by_category(message).items():
            if not form:  # only where English says nothing too (no likes yet: no "0 likes")
                assert english_forms.get(category) == "", (lang, key, category)
                continue
            assert not FORMAT_SPEC.search(form), (lang, key, form)
            found = set(PLACEHOLDER.findall(form))
            assert found - {"n"} == wanted, (lang, key, form)
        if isinstance(message, Mapping):
            assert needed <= set(message), (lang, key, needed - set(message))


def test_counts_read_right_in_languages_with_several_plurals() -> None:
    assert Translator("ru")("count", n=21) == "21 отклик"
    assert Translator("uk")("count", n=22) == "22 відповіді"
    assert Translator("pl")("count", n=5) == "5 odpowiedzi"
    assert Translator("pl")("likes", n=22) == "22 polubienia"
    assert Translator("ar")("count", n=2) == "ردّان"
    assert Translator("fr")("count", n=0) == "Aucune réponse"
    assert Translator("pt-BR")("count", n=1) == "1 resposta"
    assert Translator("zh-CN")("count", n=3) == "3 条评论"


async def test_the_frame_speaks_the_readers_language(client: httpx.AsyncClient) -> None:
    query = {key: value for key, value in PAGE.items() if key != "site"}
    french = await client.get("/embed/blog/thread", params={**query, "lang": "fr-CA"})
    assert '<html lang="fr" class=' in french.text
    assert "Laisser un commentaire" in french.text
    arabic = await client.get("/embed/blog/thread", params={**query, "lang": "ar"})
    assert '<html lang="ar" dir="rtl"' in arabic.text
    assert "اترك تعليقًا" in arabic.text


def test_what_the_domain_says_is_a_message_of_every_language() -> None:
    assert set(ENGLISH) <= set(EN)  # and so, by the test above, of every language
    too_long = said("error_body_too_long", length=12_345, limit=10_000)
    assert too_long == (
        "Your comment is 12,345 characters long; the limit is 10,000. Shorten it and post again."
    )
    assert Translator("fr").say(too_long) == (
        "Votre commentaire fait 12\u202f345 caractères ; la limite est de 10\u202f000."
        " Raccourcissez-le et envoyez-le à nouveau."
    )
    nested = said("error_try_again_in", what=said("error_posting_too_fast"), seconds=7)
    assert (
        Translator("de").say(nested)
        == "Du kommentierst zu schnell; versuche es in 7 s noch einmal."
    )
    assert Translator("en").say(nested) == "You are posting too fast; try again in 7 seconds."
    assert Translator("fr").say("Not said: an admin's message") == "Not said: an admin's message"


@pytest.mark.parametrize(
    ("late_s", "english", "russian"),
    [
        (0.4, "You are posting too fast; try again in a second.",
         "Вы отправляете комментарии слишком часто; попробуйте снова через секунду."),
        (6.2, "You are posting too fast; try again in 7 seconds.",
         "Вы отправляете комментарии слишком часто; попробуйте снова через 7 с."),
    ],
)  # fmt: skip
def test_how_long_to_wait_is_said_in_the_singular_for_one_second(
    late_s: float, english: str, russian: str
) -> None:
    limit = RateLimit("post:192.0.2.1", 1, 60.0)  # one a minute, and one was just now
    with pytest.raises(RateLimited) as refused:
        limit.take(due_at=1000.0 + late_s, now=1000.0)
    assert str(refused.value) == english
    assert Translator("ru").say(refused.value.args[0]) == russian


def test_a_length_is_said_without_a_noun_whose_form_the_number_would_choose() -> None:
    # "10 001 символов" is wrong Russian (10 001 takes "символ", 10 002 "символа"): languages
    # with several plural forms say how long a comment is as "characters: 10 001".
    too_long = said("error_body_too_long", length=10_001, limit=10_000)
    assert Translator("ru").say(too_long).startswith("Символов в вашем комментарии: 10\xa0001,")
    assert Translator("uk").say(too_long).startswith("Символів у вашому коментарі: 10\xa0001,")
    assert Translator("pl").say(too_long).startswith("Liczba znaków w Twoim komentarzu: 10\xa0001;")
    assert Translator("ar").say(too_long).startswith("عدد أحرف تعليقك 10,001،")


def test_the_language_asked_for_by_accept_language() -> None:
    assert language_asked("fr-CA,fr;q=0.9,en;q=0.8") == "fr"
    assert language_asked("xx, de;q=0.5, ru;q=0.7") == "ru"
    assert language_asked("en-GB, fr;q=0.9") == "en"
    assert language_asked("") == "en"
    assert language_asked("de;q=bogus, it;q=0.1") == "it"


async def test_an_error_comes_back_in_the_frames_language_through_the_api(
    client: httpx.AsyncClient,
) -> None:
    # The frame's script sends its language as Accept-Language with every call.
    body = comment_body(body="   ", name="", email="not an address")
    response = await client.post(
        "/api/v1/comments", json=body, headers={**OWN_ORIGIN, "Accept-Language": "fr"}
    )
    assert response.status_code == 422
    error = response.json()
    assert error["fields"] == {
        "body": "Écrivez un commentaire avant de l’envoyer.",
        "name": "Saisissez votre nom.",
        "email": "Saisissez une adresse e-mail comme nom@example.com.",
    }
    assert error["error"] == " ".join(error["fields"].values())
    english = await client.post("/api/v1/comments", json=comment_body(body=" "), headers=OWN_ORIGIN)
    assert english.json()["error"] == "Write a comment before posting."

    # What storage refuses, too: a reply to a comment that is not there.
    refused = await client.post(
        "/api/v1/comments",
        json=comment_body(parent=987654),
        headers={**OWN_ORIGIN, "Accept-Language": "ja,en;q=0.5"},
    )
    assert refused.status_code == 422
    assert refused.json()["error"] == "返信先のコメントはこのページにありません。"


async def test_an_error_comes_back_in_the_frames_language_through_the_form(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    form = await open_form(client, lang="fr")
    assert form["lang"] == "fr"
    response = await client.post(
        "/embed/blog/thread/comments",
        data={**form, "body": "Mon avis", "name": "", "email": "ann@example.com"},
        headers=OWN_ORIGIN,
    )
    assert response.status_code == 422
    assert 'id="wg-name-error" data-field="name">Saisissez votre nom.</span>' in response.text
    assert "Enter your name." not in response.text

    # A rule of the site, worded by the domain, shown above the form.
    await change_site_setting(app.state.widget.storage, "blog", "sign_in", "required")
    must_sign_in = await client.post(
        "/embed/blog/thread/comments",
        data={**form, "body": "Mon avis", "name": "Ann", "email": "ann@example.com"},
        headers=OWN_ORIGIN,
    )
    assert must_sign_in.status_code == 403
    assert "Ce site demande de se connecter avant de commenter." in must_sign_in.text


async def test_an_error_page_in_the_frame_speaks_its_language(client: httpx.AsyncClient) -> None:
    arabic = await client.get("/embed/blog/thread", params={**EMBED, "lang": "ar", "theme": "x"})
    assert arabic.status_code == 400
    assert '<html lang="ar" dir="rtl"' in arabic.text
    assert "تعذّر فهم هذا الطلب" in arabic.text
    german = await client.get(
        "/embed/blog/thread", params={**EMBED, "cpage": "0"}, headers={"Accept-Language": "de"}
    )
    assert german.status_code == 400
    assert "<h1>Diese Anfrage ist nicht verständlich</h1>" in german.text


async def test_the_rarer_errors_of_the_frame_speak_its_language(client: httpx.AsyncClient) -> None:
    unknown_site = await client.get("/embed/nosuchblog/thread", params={**EMBED, "lang": "es"})
    assert unknown_site.status_code == 404
    assert (
        "No hay ningún sitio llamado &#39;nosuchblog&#39; en este servidor de comentarios."
        in unknown_site.text
    )
    assert "widget site add nosuchblog --origin https://their-blog.example" in unknown_site.text
    not_json = await client.post(
        "/api/v1/comments", content="body=hi",
        headers={**OWN_ORIGIN, "Content-Type": "text/plain", "Accept-Language": "pl"},
    )  # fmt: skip
    assert not_json.status_code == 415
    assert not_json.json()["error"] == "Wyślij treść żądania jako application/json."
    foreign = await client.post(
        "/api/v1/comments", json=comment_body(),
        headers={"Origin": "https://evil.example", "Accept-Language": "zh"},
    )  # fmt: skip
    assert foreign.status_code == 403
    assert foreign.json()["error"] == "来自 https://evil.example 的请求不能在这里更改任何内容。"
