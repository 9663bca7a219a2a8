"""The words of the comment section, in each supported language.

A message is a string with `{placeholders}`, or a mapping of plural category to string. Plural
categories and rules follow CLDR (for whole numbers): English, German, Turkish one/other;
French and Portuguese count 0 as one; Russian, Ukrainian and Polish one/few/many; Arabic
zero/one/two/few/many/other; Japanese and Chinese have one form. A "zero" form, where a message
has one, is used for 0 in every language ("No Responses"). English, German and Russian live
here; the others in widget/views/locales/.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from .locales import ar, es, fr, it, ja, pl, pt, tr, uk, zh

__all__ = ["LANGUAGES", "RIGHT_TO_LEFT", "Translator", "choose_language"]

Message = str | Mapping[str, str]


def _plural_one_other(n: int) -> str:
    return "one" if n == 1 else "other"


def _plural_one_is_zero_or_one(n: int) -> str:  # French, Portuguese
    if n in (0, 1):
        return "one"
    return "many" if n % 1_000_000 == 0 else "other"


def _plural_one_many_other(n: int) -> str:  # Spanish, Italian
    if n == 1:
        return "one"
    return "many" if n != 0 and n % 1_000_000 == 0 else "other"


def _plural_only_other(n: int) -> str:  # Japanese, Chinese
    return "other"


def _plural_polish(n: int) -> str:
    if n == 1:
        return "one"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return "few"
    return "many"


def _plural_arabic(n: int) -> str:
    if n in (0, 1, 2):
        return ("zero", "one", "two")[n]
    if 3 <= n % 100 <= 10:
        return "few"
    if 11 <= n % 100 <= 99:
        return "many"
    return "other"


def _plural_russian(n: int) -> str:  # Russian, Ukrainian
    if n % 10 == 1 and n % 100 != 11:
        return "one"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return "few"
    return "many"


EN: dict[str, Message] = {
    "responses_to": {
        "zero": "No Responses to “{title}”",
        "one": "One Response to “{title}”",
        "other": "{n} Responses to “{title}”",
    },
    "count": {"zero": "No Responses", "one": "1 Response", "other": "{n} Responses"},
    "says": "says:",
    "reply": "Reply",
    "reply_to": "Reply to {name}",
    "cancel_reply": "Cancel reply",
    "like": "Like",
    "liked": "Liked",
    "likes": {"zero": "", "one": "{n} like", "other": "{n} likes"},
    "post_likes": {
        "zero": "Be the first to like this.",
        "one": "One person likes this.",
        "other": "{n} people like this.",
    },
    "permalink": "Permalink",
    "edited": "edited",
    "deleted": "This comment was removed.",
    "older": "Older comments",
    "newer": "Newer comments",
    "leave_reply": "Leave a Reply",
    "leave_reply_to": "Leave a Reply to {name}",
    "fill_details": "Fill in your details below.",
    "comment": "Comment",
    "name": "Name",
    "email": "Email",
    "website": "Website",
    "required": "required",
    "email_private": "Your email address will not be published.",
    "save_details": "Save my name, email, and website in this browser for the next time I comment.",
    "notify": "Notify me of follow-up comments via email.",
    "post_comment": "Post Comment",
    "posting": "Posting…",
    "edit": "Edit",
    "delete": "Delete",
    "save": "Save",
    "cancel": "Cancel",
    "confirm_delete": "Delete this comment? This cannot be undone.",
    "markdown_hint": "Markdown works: **bold**, _italic_, [links](https://example.com), `code`.",
    "comments_on": "Comments on “{title}”",
    "problem": "Something went wrong",
    "new_comments": {"one": "Show {n} new comment", "other": "Show {n} new comments"},
    "new_activity": "Show the latest changes",
    "sign_in_or_fill": "Fill in your details below or click an icon to log in:",
    "sign_in_required": "Sign in to comment:",
    "sign_in_needs_script": "Signing in needs JavaScript, which is off in this browser.",
    "commenting_as": "You are commenting using your {provider} account.",
    "log_out": "Log Out",
    "change": "Change",
    "mastodon_instance": "Your Mastodon server",
    "continue": "Continue",
    "sign_in_failed": "Sign-in failed:",
    "sign_in_waiting": "Finish signing in in the window that opened.",
    "sign_in_email": "Email link",
    "sign_in_passkey": "Passkey",
    "add_passkey": "Add a passkey",
    "comments_feed": "Comments feed (Atom)",
    "sign_in_closed": "The sign-in window was closed before signing in finished.",
    "sign_in_expired": "Signing in took too long; try again.",
    "via": "via {provider}",
    "awaiting_moderation": "Your comment is awaiting moderation.",
    "comment_posted": "Your comment is posted.",
    "enter_comment": "Enter your comment here...",
    "moderator": "Moderator",
    "author": "Author",
    "pinned": "Pinned",
    "own_data": "Your comments: download or erase",
    "own_data_guest": (
        "Get a link, by email, to download or erase every comment written with your email address."
    ),
    "own_data_signed_in": "Download or erase every comment written with your account.",
    "email_me_link": "Email me a link",
    "data_link_sent": "If comments were written with that address, a link is on its way to it.",
    "download_mine": "Download my comments",
    "erase_mine": "Erase my comments",
    "erase_confirm": (
        "Erase every comment you wrote with this account, and the account? This cannot be undone."
    ),
    "erased": "Your comments are erased.",
    "comments_closed": "Comments are closed.",
    "leave_empty": "Leave this field empty",
}

DE: dict[str, Message] = {
    "responses_to": {
        "zero": "Keine Antworten auf „{title}“",
        "one": "Eine Antwort auf „{title}“",
        "other": "{n} Antworten auf „{title}“",
    },
    "count": {"zero": "Keine Antworten", "one": "1 Antwort", "other": "{n} Antworten"},
    "says": "sagt:",
    "reply": "Antworten",
    "reply_to": "Antwort an {name}",
    "cancel_reply": "Antworten abbrechen",
    "like": "Gefällt mir",
    "liked": "Gefällt mir nicht mehr",
    "likes": {"zero": "", "one": "{n} Like", "other": "{n} Likes"},
    "post_likes": {
        "zero": "Sei der Erste, dem das gefällt.",
        "one": "Einer Person gefällt das.",
        "other": "{n} Personen gefällt das.",
    },
    "permalink": "Permalink",
    "edited": "bearbeitet",
    "deleted": "Dieser Kommentar wurde entfernt.",
    "older": "Ältere Kommentare",
    "newer": "Neuere Kommentare",
    "leave_reply": "Hinterlasse einen Kommentar",
    "leave_reply_to": "Antworte {name}",
    "fill_details": "Gib unten deine Angaben ein.",
    "comment": "Kommentar",
    "name": "Name",
    "email": "E-Mail",
    "website": "Website",
    "required": "erforderlich",
    "email_private": "Deine E-Mail-Adresse wird nicht veröffentlicht.",
    "save_details": (
        "Meinen Namen, meine E-Mail-Adresse und meine Website in diesem Browser speichern,"
        " bis ich wieder kommentiere."
    ),
    "notify": "Benachrichtige mich über nachfolgende Kommentare via E-Mail.",
    "post_comment": "Kommentar abschicken",
    "posting": "Wird gesendet…",
    "edit": "Bearbeiten",
    "delete": "Löschen",
    "save": "Speichern",
    "cancel": "Abbrechen",
    "confirm_delete": "Diesen Kommentar löschen? Das lässt sich nicht rückgängig machen.",
    "markdown_hint": "Markdown geht: **fett**, _kursiv_, [Links](https://example.com), `Code`.",
    "comments_on": "Kommentare zu {title}",
    "problem": "Etwas ist schiefgelaufen",
    "new_comments": {
        "one": "{n} neuen Kommentar anzeigen",
        "other": "{n} neue Kommentare anzeigen",
    },
    "new_activity": "Neueste Änderungen anzeigen",
    "sign_in_or_fill": "Gib unten deine Daten ein oder klicke auf ein Symbol, um dich anzumelden:",
    "sign_in_required": "Melde dich an, um zu kommentieren:",
    "sign_in_needs_script": "Die Anmeldung braucht JavaScript, das in diesem Browser aus ist.",
    "commenting_as": "Du kommentierst mit deinem {provider}-Konto.",
    "log_out": "Abmelden",
    "change": "Ändern",
    "mastodon_instance": "Dein Mastodon-Server",
    "continue": "Weiter",
    "sign_in_failed": "Anmeldung fehlgeschlagen:",
    "sign_in_waiting": "Schließe die Anmeldung im geöffneten Fenster ab.",
    "sign_in_email": "Link per E-Mail",
    "sign_in_passkey": "Passkey",
    "add_passkey": "Passkey hinzufügen",
    "comments_feed": "Kommentar-Feed (Atom)",
    "sign_in_closed": "Das Anmeldefenster wurde geschlossen, bevor die Anmeldung fertig war.",
    "sign_in_expired": "Die Anmeldung hat zu lange gedauert; versuche es noch einmal.",
    "via": "über {provider}",
    "awaiting_moderation": "Dein Kommentar muss noch freigeschaltet werden.",
    "comment_posted": "Dein Kommentar ist veröffentlicht.",
    "enter_comment": "Gib hier deinen Kommentar ein …",
    "moderator": "Moderator",
    "author": "Autor",
    "pinned": "Angeheftet",
    "own_data": "Deine Kommentare: herunterladen oder löschen",
    "own_data_guest": (
        "Erhalte per E-Mail einen Link, um alle mit deiner E-Mail-Adresse geschriebenen "
        "Kommentare herunterzuladen oder zu löschen."
    ),
    "own_data_signed_in": (
        "Alle mit deinem Konto geschriebenen Kommentare herunterladen oder löschen."
    ),
    "email_me_link": "Link per E-Mail senden",
    "data_link_sent": (
        "Wenn mit dieser Adresse Kommentare geschrieben wurden, ist ein Link dorthin unterwegs."
    ),
    "download_mine": "Meine Kommentare herunterladen",
    "erase_mine": "Meine Kommentare löschen",
    "erase_confirm": (
        "Alle mit diesem Konto geschriebenen Kommentare und das Konto löschen? Das lässt "
        "sich nicht rückgängig machen."
    ),
    "erased": "Deine Kommentare sind gelöscht.",
    "comments_closed": "Die Kommentarfunktion ist geschlossen.",
    "leave_empty": "Dieses Feld leer lassen",
}

RU: dict[str, Message] = {
    "responses_to": {
        "zero": "Нет откликов на «{title}»",
        "one": "{n} отклик на «{title}»",
        "few": "{n} отклика на «{title}»",
        "many": "{n} откликов на «{title}»",
    },
    "count": {
        "zero": "Нет откликов",
        "one": "{n} отклик",
        "few": "{n} отклика",
        "many": "{n} откликов",
    },
    "says": "пишет:",
    "reply": "Ответить",
    "reply_to": "Ответ для {name}",
    "cancel_reply": "Отменить ответ",
    "like": "Нравится",
    "liked": "Больше не нравится",
    "likes": {"zero": "", "one": "{n} отметка", "few": "{n} отметки", "many": "{n} отметок"},
    "post_likes": {
        "zero": "Будьте первым, кому это понравится.",
        "one": "Это нравится {n} человеку.",
        "few": "Это нравится {n} людям.",
        "many": "Это нравится {n} людям.",
    },
    "permalink": "Ссылка",
    "edited": "изменено",
    "deleted": "Этот комментарий удалён.",
    "older": "Более ранние комментарии",
    "newer": "Более поздние комментарии",
    "leave_reply": "Добавить комментарий",
    "leave_reply_to": "Ответить {name}",
    "fill_details": "Заполните поля ниже.",
    "comment": "Комментарий",
    "name": "Имя",
    "email": "Эл. почта",
    "website": "Сайт",
    "required": "обязательно",
    "email_private": "Ваш адрес эл. почты не будет опубликован.",
    "save_details": (
        "Сохранить моё имя, почту и адрес сайта в этом браузере для следующих комментариев."
    ),
    "notify": "Уведомлять меня о новых комментариях по почте.",
    "post_comment": "Отправить комментарий",
    "posting": "Отправка…",
    "edit": "Изменить",
    "delete": "Удалить",
    "save": "Сохранить",
    "cancel": "Отмена",
    "confirm_delete": "Удалить этот комментарий? Это нельзя отменить.",
    "markdown_hint": (
        "Работает Markdown: **жирный**, _курсив_, [ссылки](https://example.com), `код`."
    ),
    "comments_on": "Комментарии к «{title}»",
    "problem": "Что-то пошло не так",
    "new_comments": {
        "one": "Показать {n} новый комментарий",
        "few": "Показать {n} новых комментария",
        "many": "Показать {n} новых комментариев",
    },
    "new_activity": "Показать последние изменения",
    "sign_in_or_fill": "Заполните поля ниже или нажмите на значок, чтобы войти:",
    "sign_in_required": "Войдите, чтобы прокомментировать:",
    "sign_in_needs_script": "Для входа нужен JavaScript, а он в этом браузере выключен.",
    "commenting_as": "Вы комментируете от имени учётной записи {provider}.",
    "log_out": "Выйти",
    "change": "Сменить",
    "mastodon_instance": "Ваш сервер Mastodon",
    "continue": "Продолжить",
    "sign_in_failed": "Не удалось войти:",
    "sign_in_waiting": "Завершите вход в открывшемся окне.",
    "sign_in_email": "Ссылка по почте",
    "sign_in_passkey": "Ключ доступа",
    "add_passkey": "Добавить ключ доступа",
    "comments_feed": "Лента комментариев (Atom)",
    "sign_in_closed": "Окно входа закрыто до завершения входа.",
    "sign_in_expired": "Вход занял слишком много времени; попробуйте ещё раз.",
    "via": "через {provider}",
    "awaiting_moderation": "Ваш комментарий ожидает проверки.",
    "comment_posted": "Ваш комментарий опубликован.",
    "enter_comment": "Введите комментарий…",
    "moderator": "Модератор",
    "author": "Автор",
    "pinned": "Закреплено",
    "own_data": "Ваши комментарии: скачать или удалить",
    "own_data_guest": (
        "Получите по почте ссылку, чтобы скачать или удалить все комментарии, написанные "
        "с вашим адресом."
    ),
    "own_data_signed_in": "Скачать или удалить все комментарии, написанные с этой учётной записью.",
    "email_me_link": "Прислать ссылку",
    "data_link_sent": "Если с этим адресом писали комментарии, ссылка уже отправлена на него.",
    "download_mine": "Скачать мои комментарии",
    "erase_mine": "Удалить мои комментарии",
    "erase_confirm": (
        "Удалить все комментарии этой учётной записи и саму запись? Это нельзя отменить."
    ),
    "erased": "Ваши комментарии удалены.",
    "comments_closed": "Комментарии закрыты.",
    "leave_empty": "Оставьте это поле пустым",
}

_CATALOGS: dict[str, tuple[Mapping[str, Message], Callable[[int], str]]] = {
    "en": (EN, _plural_one_other),
    "de": (DE, _plural_one_other),
    "ru": (RU, _plural_russian),
    "fr": (fr.CATALOG, _plural_one_is_zero_or_one),
    "es": (es.CATALOG, _plural_one_many_other),
    "pt": (pt.CATALOG, _plural_one_is_zero_or_one),
    "it": (it.CATALOG, _plural_one_many_other),
    "pl": (pl.CATALOG, _plural_polish),
    "uk": (uk.CATALOG, _plural_russian),
    "tr": (tr.CATALOG, _plural_one_other),
    "ja": (ja.CATALOG, _plural_only_other),
    "zh": (zh.CATALOG, _plural_only_other),
    "ar": (ar.CATALOG, _plural_arabic),
}
RIGHT_TO_LEFT = frozenset({"ar"})
LANGUAGES = tuple(_CATALOGS)

# Dates as WordPress shows them ("March 3, 2025 at 10:12 am"), in each language's own way; a
# language without a table here gets the numeric form.
_MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
           "Oktober", "November", "Dezember"),
    "ru": ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
           "сентября", "октября", "ноября", "декабря"),
    "ar": ("يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو", "يوليو", "أغسطس", "سبتمبر",
           "أكتوبر", "نوفمبر", "ديسمبر"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
           "octobre", "novembre", "décembre"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
           "septiembre", "octubre", "noviembre", "diciembre"),
    "it": ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
           "settembre", "ottobre", "novembre", "dicembre"),
    "pt": ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto",
           "setembro", "outubro", "novembro", "dezembro"),
    "pl": ("stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca", "lipca", "sierpnia",
           "września", "października", "listopada", "grudnia"),
    "uk": ("січня", "лютого", "березня", "квітня", "травня", "червня", "липня", "серпня",
           "вересня", "жовтня", "листопада", "грудня"),
    "tr": ("Ocak", "Şubat", "Mart", "Nisan", "Mayıs", "Haziran", "Temmuz", "Ağustos", "Eylül",
           "Ekim", "Kasım", "Aralık"),
}  # fmt: skip
_DATE_FORMATS = {
    "en": "{month} {day}, {year} at {hour12}:{minute:02d} {ampm}",
    "de": "{day}. {month} {year} um {hour:02d}:{minute:02d}",
    "ru": "{day} {month} {year} в {hour:02d}:{minute:02d}",
    "ar": "{day} {month} {year} في {hour:02d}:{minute:02d}",
    "fr": "{day} {month} {year} à {hour:02d}:{minute:02d}",
    "es": "{day} de {month} de {year} a las {hour:02d}:{minute:02d}",
    "it": "{day} {month} {year} alle {hour:02d}:{minute:02d}",
    "pt": "{day} de {month} de {year} às {hour:02d}:{minute:02d}",
    "pl": "{day} {month} {year} o {hour:02d}:{minute:02d}",
    "uk": "{day} {month} {year} о {hour:02d}:{minute:02d}",
    "tr": "{day} {month} {year} {hour:02d}:{minute:02d}",
    "ja": "{year}年{month_number}月{day}日 {hour:02d}:{minute:02d}",
    "zh": "{year}年{month_number}月{day}日 {hour:02d}:{minute:02d}",
}


def choose_language(requested: str | None) -> str:
    """A supported language for `requested` ("de", "de-AT", "RU"); English otherwise."""
    if requested:
        base = requested.strip().lower().replace("_", "-").split("-")[0]
        if base in _CATALOGS:
            return base
    return "en"


class Translator:
    """`t(key, n=..., **values)` in one language; falls back to English for a missing key."""

    def __init__(self, language: str) -> None:
        self.language = choose_language(language)
        self._catalog, self._plural = _CATALOGS[self.language]

    def __call__(self, key: str, n: int | None = None, **values: object) -> str:
        message = self._catalog.get(key) or EN[key]
        if isinstance(message, Mapping):
            if n is None:
                raise ValueError(f"message {key!r} needs a count")
            category = "zero" if n == 0 and "zero" in message else self._plural(n)
            message = message[category]
        return message.format(n=n, **values)

    @property
    def direction(self) -> str:
        """The writing direction of this language, for `dir`: "rtl" or "ltr"."""
        return "rtl" if self.language in RIGHT_TO_LEFT else "ltr"

    def date(self, moment: datetime) -> str:
        """`moment` as WordPress writes dates, in this language (the frame's script shows
        it again in the reader's own time zone)."""
        months = _MONTHS.get(self.language)
        return _DATE_FORMATS[self.language].format(
            month=months[moment.month - 1] if months else "", month_number=moment.month,
            day=moment.day, year=moment.year, hour=moment.hour,
            hour12=(moment.hour - 1) % 12 + 1, minute=moment.minute,
            ampm="am" if moment.hour < 12 else "pm",
        )  # fmt: skip

    def plural_forms(self, key: str) -> dict[str, str]:
        """A plural message's forms by CLDR category, placeholders left in, for the script
        (which picks the category with Intl.PluralRules)."""
        message = self._catalog.get(key) or EN[key]
        assert isinstance(message, Mapping), f"{key} is not a plural message"
        return dict(message)

    def strings(self, keys: tuple[str, ...]) -> dict[str, str]:
        """Plain (non-plural) messages, placeholders left in, for the iframe's script."""
        messages = {}
        for key in keys:
            message = self._catalog.get(key) or EN[key]
            assert isinstance(message, str), f"{key} is a plural message"
            messages[key] = message
        return messages
