"""Every language has every message, with the placeholders English has, and picks the plural
forms CLDR gives for whole numbers; the frame speaks the reader's language (and reads right to
left in Arabic)."""

from __future__ import annotations

import re
from collections.abc import Mapping

import httpx
import pytest

from tests.helpers import PAGE
from widget.views.i18n import _CATALOGS, EN, LANGUAGES, Translator

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
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _forms(message: str | Mapping[str, str]) -> list[str]:
    return [message] if isinstance(message, str) else list(message.values())


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
        for form in _forms(message):
            found = set(PLACEHOLDER.findall(form))
            assert found - {"n"} == wanted or not form, (lang, key, form)
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
