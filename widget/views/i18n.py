"""The words of the comment section, in each supported language.

A message is a string with `{placeholders}`, or a mapping of plural category to string. Plural
categories and rules follow CLDR (for whole numbers): English, German, Turkish one/other;
French and Portuguese count 0 as one; Russian, Ukrainian and Polish one/few/many; Arabic
zero/one/two/few/many/other; Japanese and Chinese have one form. A "zero" form, where a message
has one, is used for 0 in every language ("No Responses"). English, German and Russian live
here; the others in widget/views/locales/.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime

from widget.messages import ENGLISH, Said

from .locales import ar, es, fr, it, ja, pl, pt, tr, uk, zh

__all__ = [
    "LANGUAGES", "RIGHT_TO_LEFT", "Translator", "choose_language", "language_asked", "words_digest",
]  # fmt: skip

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
    "notify_posts": "Notify me of new posts via email.",
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
    "comments_pagination": "Comments pagination",
    "comments_pagination_after": "Comments pagination, after the comments",
    "own_expired": (
        "It is too old, or it was changed on the way. Ask for a new one in the comments of any "
        "page."
    ),
    "own_title": "Your comments",
    "own_erased_title": "Erased",
    "own_erased": {
        "one": (
            "One comment written as {email} is erased: only its place remains in its thread, "
            "with no name, address or text. Follow-up emails to this address have stopped."
        ),
        "other": (
            "{n} comments written as {email} are erased: only their places remain in their "
            "threads, with no name, address or text. Follow-up emails to this address have "
            "stopped."
        ),
    },
    "own_written": {
        "one": "One comment was written as {email}.",
        "other": "{n} comments were written as {email}.",
    },
    "own_download": "Download them all (JSON)",
    "own_erase_confirm": "Erase them all. This cannot be undone.",
    "own_tick": "Tick the box to confirm first.",
    "email_title_ask": "Sign in with your email",
    "email_title_sent": "Check your email",
    "email_address": "Email address",
    "email_name": "Name, shown with your comments",
    "email_send": "Email me a sign-in link",
    "email_not_shown": "Your address is not shown with your comments.",
    "email_sent": (
        "We sent a link to {email}. Open it (here or on another device) and type this code:"
    ),
    "email_then": (
        "Then come back to the comments: you will be signed in. The link works for 15 minutes."
    ),
    "email_signing_in_as": (
        "Signing in to comment as {email}. Type the four-digit code that the sign-in window shows."
    ),
    "email_code": "Code",
    "email_sign_in": "Sign in",
    "email_not_asked": (
        "Did not ask to sign in? Close this page: without the code, nobody can use the link."
    ),
    "notify_expired_title": "This link has expired",
    "notify_expired": (
        "It is too old, or it was changed on the way. Ask for a new one where you got it."
    ),
    "notify_follow_title": "Follow this conversation?",
    "notify_follow": "Emails go to {email}. Each one has a link to stop them.",
    "notify_scope_replies": "Only replies to my comments",
    "notify_scope_thread": "Every new comment in this thread",
    "notify_confirmed_title": "Confirmed",
    "notify_confirmed_replies": "You will get an email for each reply to your comments.",
    "notify_confirmed_thread": "You will get an email for every new comment in this thread.",
    "notify_stop_title": "Stop these emails?",
    "notify_stop": "No more emails about this conversation.",
    "notify_unsubscribe": "Unsubscribe",
    "notify_unsubscribed_title": "Unsubscribed",
    "notify_unsubscribed": "You will get no more emails about this conversation.",
    "mail_follow_asked": (
        "Someone (we hope you) asked to be told of follow-up comments on “{title}”, after this "
        "comment:"
    ),
    "mail_confirm": "Confirm",
    "mail_confirm_here": "To start, confirm here: {link}",
    "mail_confirm_not_you": (
        "If it was not you, do nothing: without a confirmation no more emails come."
    ),
    "mail_confirm_subject": "Confirm: follow the comments on “{title}”",
    "mail_replied": "{author} replied to your comment on “{title}”:",
    "mail_commented": "{author} commented on “{title}”:",
    "mail_read_and_reply": "Read it and reply",
    "mail_why_follow_up": "You get this because you asked to be told of follow-up comments.",
    "mail_stop": "Stop these emails",
    "mail_reply_subject": "New reply to your comment on “{title}”",
    "mail_comment_subject": "New comment on “{title}”",
    "mail_own_data_asked": "Someone (we hope you) asked for the comments written as {email}.",
    "mail_own_data_button": "See, download or erase them",
    "mail_own_data_for_a_day": "The link works for 24 hours.",
    "mail_own_data_here": (
        "See them, download them or erase them here (the link works for 24 hours):"
    ),
    "mail_own_data_not_you": "If it was not you, do nothing: the link only works from this email.",
    "mail_sign_in_asked": (
        "Someone (we hope you) asked to sign in to comment as {email} ({server})."
    ),
    "mail_sign_in_button": "Sign in to comment",
    "mail_sign_in_then": (
        "Then type the four-digit code that the sign-in window shows. The link works once, for "
        "15 minutes."
    ),
    "mail_sign_in_open": (
        "Open this link and type the four-digit code that the sign-in window shows (the link "
        "works once, for 15 minutes):"
    ),
    "mail_sign_in_not_you": (
        "If it was not you, do nothing: without the code from that window, nobody can use this "
        "link."
    ),
    "popup_sign_in_failed": "Sign-in failed",
    "popup_sign_in_cancelled": "Sign-in cancelled",
    "popup_sign_in_stopped": "Sign-in stopped",
    "popup_refused": (
        "This sign-in did not come from a comment form, so it was stopped. If you meant to sign "
        "in, close this window and press a sign-in button under the comments."
    ),
    "popup_signing_in_with": "Signing in with {provider}",
    "popup_taking_you_there": "Taking you there…",
    "popup_signed_in": "You are signed in",
    "popup_close_and_go_back": "You can close this window and go back to the comments.",
    "popup_can_close": "You can close this window.",
    "passkey_title_sign_in": "Sign in with a passkey",
    "passkey_title_manage": "Your passkeys",
    "passkey_choose_when_asked": "Choose your passkey when your browser asks.",
    "passkey_use": "Use a passkey",
    "passkey_intro": (
        "Passkeys of {name}: sign in to comment with your fingerprint, face or screen lock, or a"
        " security key."
    ),
    "passkey_added_on": "added {added}",
    "passkey_added_and_used": "added {added}, last used {used}",
    "passkey_remove": "Remove",
    "passkey_none_yet": "No passkey yet.",
    "passkey_name_label": "Name of the new passkey",
    "passkey_name_placeholder": "Phone, laptop, security key…",
    "passkey_added": "Passkey “{name}” added. Next time, sign in with it.",
    "passkey_removed": "Passkey removed.",
    "passkey_choose": "Choose a passkey.",
    "passkey_browser_cannot": (
        "This browser cannot use passkeys. Close this window and sign in another way."
    ),
    "passkey_held_already": "This device holds a passkey for this account already.",
    "passkey_none_used": "No passkey was used. Try again, or close this window.",
    "error_title_400": "This request cannot be understood",
    "error_title_403": "Not allowed here",
    "error_title_404": "Not found",
    "error_title_405": "Method not allowed",
    "error_title_409": "Already exists",
    "error_title_413": "Too large",
    "error_title_415": "Wrong content type",
    "error_title_422": "Please check what you entered",
    "error_title_429": "Too many requests",
    "error_title_503": "Try again in a moment",
}

# What the domain tells readers (widget/messages.py) is English there; every language here
# and in locales/ has each of those keys too.
EN.update(ENGLISH)

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
    "notify_posts": "Benachrichtige mich über neue Beiträge via E-Mail.",
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
    "comments_pagination": "Kommentar-Seiten",
    "comments_pagination_after": "Kommentar-Seiten, nach den Kommentaren",
    "own_expired": (
        "Er ist zu alt oder wurde unterwegs verändert. Fordere in den Kommentaren einer "
        "beliebigen Seite einen neuen an."
    ),
    "own_title": "Deine Kommentare",
    "own_erased_title": "Gelöscht",
    "own_erased": {
        "one": (
            "Ein Kommentar, geschrieben als {email}, ist gelöscht: Nur sein Platz im Thread "
            "bleibt, ohne Name, Adresse oder Text. E-Mails über neue Kommentare an diese "
            "Adresse sind abbestellt."
        ),
        "other": (
            "{n} Kommentare, geschrieben als {email}, sind gelöscht: Nur ihre Plätze in den "
            "Threads bleiben, ohne Name, Adresse oder Text. E-Mails über neue Kommentare an "
            "diese Adresse sind abbestellt."
        ),
    },
    "own_written": {
        "one": "Ein Kommentar wurde als {email} geschrieben.",
        "other": "{n} Kommentare wurden als {email} geschrieben.",
    },
    "own_download": "Alle herunterladen (JSON)",
    "own_erase_confirm": "Alle löschen. Das lässt sich nicht rückgängig machen.",
    "own_tick": "Setze zuerst das Häkchen zur Bestätigung.",
    "email_title_ask": "Mit deiner E-Mail anmelden",
    "email_title_sent": "Schau in dein Postfach",
    "email_address": "E-Mail-Adresse",
    "email_name": "Name, der bei deinen Kommentaren steht",
    "email_send": "Anmeldelink per E-Mail schicken",
    "email_not_shown": "Deine Adresse wird bei deinen Kommentaren nicht angezeigt.",
    "email_sent": (
        "Wir haben einen Link an {email} geschickt. Öffne ihn (hier oder auf einem anderen "
        "Gerät) und gib diesen Code ein:"
    ),
    "email_then": (
        "Komm dann zu den Kommentaren zurück: Du bist angemeldet. Der Link gilt 15 Minuten."
    ),
    "email_signing_in_as": (
        "Anmeldung zum Kommentieren als {email}. Gib den vierstelligen Code ein, den das "
        "Anmeldefenster zeigt."
    ),
    "email_code": "Code",
    "email_sign_in": "Anmelden",
    "email_not_asked": (
        "Du wolltest dich nicht anmelden? Schließe diese Seite: Ohne den Code kann niemand den "
        "Link verwenden."
    ),
    "error_sign_in_name_empty": "Gib den Namen ein, der bei deinen Kommentaren stehen soll.",
    "error_sign_in_name_too_long": "Ein Name mit höchstens {limit} Zeichen, in einer Zeile.",
    "error_sign_in_email_empty": "Gib deine E-Mail-Adresse ein.",
    "error_fields_marked": "Bitte korrigiere die markierten Felder.",
    "error_wrong_code": "Das ist nicht der Code, den das Anmeldefenster zeigt.",
    "error_too_many_codes": "Zu viele falsche Codes für diesen Link",
    "error_too_many_links_network": "Zu viele Anmeldelinks aus deinem Netzwerk angefordert",
    "error_too_many_links_address": "Zu viele Anmeldelinks für diese Adresse angefordert",
    "notify_expired_title": "Dieser Link ist abgelaufen",
    "notify_expired": (
        "Er ist zu alt oder wurde unterwegs verändert. Fordere dort, wo du ihn bekommen hast, "
        "einen neuen an."
    ),
    "notify_follow_title": "Diesem Gespräch folgen?",
    "notify_follow": "E-Mails gehen an {email}. Jede enthält einen Link, um sie abzubestellen.",
    "notify_scope_replies": "Nur Antworten auf meine Kommentare",
    "notify_scope_thread": "Jeden neuen Kommentar in diesem Thread",
    "notify_confirmed_title": "Bestätigt",
    "notify_confirmed_replies": "Du bekommst eine E-Mail für jede Antwort auf deine Kommentare.",
    "notify_confirmed_thread": (
        "Du bekommst eine E-Mail für jeden neuen Kommentar in diesem Thread."
    ),
    "notify_stop_title": "Diese E-Mails abbestellen?",
    "notify_stop": "Keine E-Mails mehr zu diesem Gespräch.",
    "notify_unsubscribe": "Abbestellen",
    "notify_unsubscribed_title": "Abbestellt",
    "notify_unsubscribed": "Du bekommst keine E-Mails mehr zu diesem Gespräch.",
    "mail_follow_asked": (
        "Jemand (hoffentlich du) möchte nach diesem Kommentar über weitere Kommentare zu "
        "„{title}“ benachrichtigt werden:"
    ),
    "mail_confirm": "Bestätigen",
    "mail_confirm_here": "Zum Starten hier bestätigen: {link}",
    "mail_confirm_not_you": (
        "Wenn du das nicht warst, tu nichts: Ohne Bestätigung kommen keine weiteren E-Mails."
    ),
    "mail_confirm_subject": "Bestätigen: Kommentaren zu „{title}“ folgen",
    "mail_replied": "{author} hat auf deinen Kommentar zu „{title}“ geantwortet:",
    "mail_commented": "{author} hat „{title}“ kommentiert:",
    "mail_read_and_reply": "Lesen und antworten",
    "mail_why_follow_up": (
        "Du bekommst diese E-Mail, weil du über weitere Kommentare benachrichtigt werden wolltest."
    ),
    "mail_stop": "Diese E-Mails abbestellen",
    "mail_reply_subject": "Neue Antwort auf deinen Kommentar zu „{title}“",
    "mail_comment_subject": "Neuer Kommentar zu „{title}“",
    "mail_own_data_asked": (
        "Jemand (hoffentlich du) hat die Kommentare angefordert, die als {email} geschrieben "
        "wurden."
    ),
    "mail_own_data_button": "Ansehen, herunterladen oder löschen",
    "mail_own_data_for_a_day": "Der Link gilt 24 Stunden.",
    "mail_own_data_here": (
        "Hier kannst du sie ansehen, herunterladen oder löschen (der Link gilt 24 Stunden):"
    ),
    "mail_own_data_not_you": (
        "Wenn du das nicht warst, tu nichts: Der Link funktioniert nur aus dieser E-Mail."
    ),
    "mail_sign_in_asked": (
        "Jemand (hoffentlich du) möchte sich als {email} zum Kommentieren anmelden ({server})."
    ),
    "mail_sign_in_button": "Zum Kommentieren anmelden",
    "mail_sign_in_then": (
        "Gib dann den vierstelligen Code ein, den das Anmeldefenster zeigt. Der Link "
        "funktioniert einmal, 15 Minuten lang."
    ),
    "mail_sign_in_open": (
        "Öffne diesen Link und gib den vierstelligen Code ein, den das Anmeldefenster zeigt "
        "(der Link funktioniert einmal, 15 Minuten lang):"
    ),
    "mail_sign_in_not_you": (
        "Wenn du das nicht warst, tu nichts: Ohne den Code aus diesem Fenster kann niemand den "
        "Link verwenden."
    ),
    "popup_sign_in_failed": "Anmeldung fehlgeschlagen",
    "popup_sign_in_cancelled": "Anmeldung abgebrochen",
    "popup_sign_in_stopped": "Anmeldung gestoppt",
    "popup_refused": (
        "Diese Anmeldung kam nicht aus einem Kommentarformular und wurde deshalb gestoppt. Wenn "
        "du dich anmelden wolltest, schließe dieses Fenster und drücke einen Anmelde-Knopf "
        "unter den Kommentaren."
    ),
    "popup_signing_in_with": "Anmeldung mit {provider}",
    "popup_taking_you_there": "Du wirst weitergeleitet …",
    "popup_signed_in": "Du bist angemeldet",
    "popup_close_and_go_back": (
        "Du kannst dieses Fenster schließen und zu den Kommentaren zurückkehren."
    ),
    "popup_can_close": "Du kannst dieses Fenster schließen.",
    "error_title_400": "Diese Anfrage ist nicht verständlich",
    "error_title_403": "Hier nicht erlaubt",
    "error_title_404": "Nicht gefunden",
    "error_title_405": "Methode nicht erlaubt",
    "error_title_409": "Existiert bereits",
    "error_title_413": "Zu groß",
    "error_title_415": "Falscher Inhaltstyp",
    "error_title_422": "Bitte prüfe deine Eingaben",
    "error_title_429": "Zu viele Anfragen",
    "error_title_503": "Versuche es gleich noch einmal",
    "error_no_thread": "Diesen Thread gibt es nicht.",
    "error_thread_closed": "Die Kommentarfunktion ist auf dieser Seite geschlossen.",
    "error_parent_elsewhere": "Der Kommentar, auf den du antwortest, ist nicht auf dieser Seite.",
    "error_parent_elsewhere_field": "Dieser Kommentar ist nicht auf dieser Seite.",
    "error_parent_removed": "Der Kommentar, auf den du antwortest, wurde entfernt.",
    "error_parent_removed_field": "Dieser Kommentar wurde entfernt.",
    "error_no_comment": "Diesen Kommentar gibt es nicht.",
    "error_comment_gone": "Diesen Kommentar gibt es nicht, oder er wurde entfernt.",
    "error_comment_gone_again": "Diesen Kommentar gibt es nicht, oder er wurde schon entfernt.",
    "error_not_likeable": "Dieser Kommentar ist nicht auf dieser Seite oder wurde entfernt.",
    "error_body_empty": "Schreib einen Kommentar, bevor du ihn abschickst.",
    "error_body_too_long": (
        "Dein Kommentar ist {length} Zeichen lang; erlaubt sind {limit}. Kürze ihn und schicke "
        "ihn noch einmal ab."
    ),
    "error_body_control": "Dein Kommentar enthält unsichtbare Steuerzeichen; entferne sie.",
    "error_name_empty": "Gib deinen Namen ein.",
    "error_name_too_long": "Dein Name darf höchstens {limit} Zeichen lang sein.",
    "error_name_control": "Dein Name enthält Steuerzeichen oder Zeilenumbrüche; entferne sie.",
    "error_email_for_replies": (
        "Gib deine E-Mail-Adresse ein, um über Antworten benachrichtigt zu werden (sie wird nie "
        "angezeigt)."
    ),
    "error_email_for_posts": (
        "Gib deine E-Mail-Adresse ein, um über neue Beiträge benachrichtigt zu werden (sie wird"
        " nie angezeigt)."
    ),
    "error_email_empty": "Gib deine E-Mail-Adresse ein (sie wird nie angezeigt).",
    "error_email_invalid": "Gib eine E-Mail-Adresse wie name@example.com ein.",
    "error_website_scheme": "Gib eine Website-Adresse ein, die mit http:// oder https:// beginnt.",
    "error_website_invalid": "Gib eine Website-Adresse wie https://example.com ein.",
    "error_parent_invalid": "Der Kommentar, auf den du antwortest, ist ungültig.",
    "error_sign_in_first": "Auf dieser Website musst du dich zum Kommentieren zuerst anmelden.",
    "error_too_complex": (
        "Die Formatierung dieses Kommentars ist zu komplex für die Anzeige (Tausende Klammern "
        "oder sehr tief verschachtelte Listen und Zitate). Vereinfache sie und schicke ihn noch "
        "einmal ab."
    ),
    "error_too_busy": (
        "Der Server ist gerade zu ausgelastet, um Kommentare zu formatieren; nichts wurde "
        "gespeichert. Versuche es in einer Minute noch einmal."
    ),
    "error_edit_over": "Die Zeit zum Bearbeiten oder Löschen dieses Kommentars ist abgelaufen.",
    "error_edit_token": "Dieses Bearbeitungs-Token ist ungültig.",
    "error_edit_token_other": "Dieses Bearbeitungs-Token gehört zu einem anderen Kommentar.",
    "error_form_missing": (
        "Dieser Kommentar kam nicht aus dem Kommentarformular; lade die Seite neu."
    ),
    "error_form_expired": (
        "Dieses Formular war zu lange offen. Dein Kommentar ist noch da: schicke ihn noch "
        "einmal ab."
    ),
    "error_form_invalid": (
        "Dieses Formular ist ungültig; lade die Seite neu und versuche es noch einmal."
    ),
    "error_form_other_page": (
        "Dieses Formular gehört zu einer anderen Seite; lade die Seite neu und versuche es noch "
        "einmal."
    ),
    "error_too_quick": (
        "Das ging schnell! Lies deinen Kommentar noch einmal durch und schicke ihn in ein paar "
        "Sekunden ab."
    ),
    "error_too_quick_field": (
        "Zu schnell nach dem Öffnen der Seite abgeschickt; schicke ihn gleich noch einmal ab."
    ),
    "error_form_used": (
        "Mit diesem Formular wurde schon ein Kommentar abgeschickt. Lade die Seite neu, um noch "
        "einen zu schreiben."
    ),
    "error_try_again_in": "{what}; versuche es in {seconds} s noch einmal.",
    "error_try_again_in_a_second": "{what}; versuche es in einer Sekunde noch einmal.",
    "error_posting_too_fast": "Du kommentierst zu schnell",
    "error_editing_too_fast": "Du bearbeitest zu schnell",
    "error_too_many_links": "Zu viele Links angefordert",
    "error_guest_likes": (
        "Dein Netzwerk hat diesem Beitrag schon so viele Gast-Likes gegeben wie möglich ({limit})."
    ),
    "error_guest_likes_sign_in": (
        "Dein Netzwerk hat diesem Beitrag schon so viele Gast-Likes gegeben wie möglich "
        "({limit}). Melde dich an, um deins hinzuzufügen."
    ),
    "error_data_email_empty": "Gib die E-Mail-Adresse ein, mit der du kommentiert hast.",
    "error_storage_unavailable": (
        "Die Kommentar-Datenbank ist gerade nicht erreichbar; versuche es in einer Minute noch "
        "einmal."
    ),
    "error_storage_unsaved": (
        "Die Kommentar-Datenbank konnte das nicht speichern; nichts wurde gespeichert. Versuche "
        "es in einer Minute noch einmal."
    ),
    "passkey_title_sign_in": "Mit einem Passkey anmelden",
    "passkey_title_manage": "Deine Passkeys",
    "passkey_choose_when_asked": "Wähle deinen Passkey, wenn dein Browser danach fragt.",
    "passkey_use": "Passkey verwenden",
    "passkey_intro": (
        "Passkeys von {name}: Melde dich zum Kommentieren mit Fingerabdruck, Gesicht,"
        " Bildschirmsperre oder einem Sicherheitsschlüssel an."
    ),
    "passkey_added_on": "hinzugefügt am {added}",
    "passkey_added_and_used": "hinzugefügt am {added}, zuletzt verwendet am {used}",
    "passkey_remove": "Entfernen",
    "passkey_none_yet": "Noch kein Passkey.",
    "passkey_name_label": "Name des neuen Passkeys",
    "passkey_name_placeholder": "Handy, Laptop, Sicherheitsschlüssel …",
    "passkey_added": "Passkey „{name}“ hinzugefügt. Melde dich beim nächsten Mal damit an.",
    "passkey_removed": "Passkey entfernt.",
    "passkey_choose": "Wähle einen Passkey.",
    "passkey_browser_cannot": (
        "Dieser Browser kann keine Passkeys verwenden. Schließe dieses Fenster und melde dich"
        " anders an."
    ),
    "passkey_held_already": "Dieses Gerät hat schon einen Passkey für dieses Konto.",
    "passkey_none_used": (
        "Es wurde kein Passkey verwendet. Versuche es noch einmal oder schließe dieses Fenster."
    ),
    "error_sign_in_not_from_form": (
        "Diese Anmeldung wurde nicht im Kommentarformular begonnen; fang noch einmal an."
    ),
    "error_sign_in_cancelled": "Die Anmeldung wurde abgebrochen.",
    "error_sign_in_not_here": (
        "Diese Anmeldung wurde nicht hier begonnen oder schon verwendet. Schließe dieses Fenster"
        " und fang im Kommentarformular noch einmal an."
    ),
    "error_provider_failed": "Der Anbieter konnte dich nicht anmelden ({error}).",
    "error_provider_unreachable": (
        "Der Anbieter ist nicht erreichbar; versuche es gleich noch einmal."
    ),
    "error_provider_mismatch": (
        "Die Antwort des Anbieters passt nicht zu dieser Anmeldung; fang noch einmal an."
    ),
    "error_provider_refused": (
        "Der Anbieter hat diese Anmeldung abgelehnt (vielleicht wurde sie schon verwendet); fang"
        " noch einmal an."
    ),
    "error_too_many_sign_ins": "Zu viele Anmeldungen aus deinem Netzwerk",
    "error_sign_in_code_invalid": (
        "Dieser Anmeldecode ist ungültig, schon verwendet oder abgelaufen; melde dich noch einmal"
        " an."
    ),
    "error_passkeys_off": "Dieser Kommentarserver bietet keine Anmeldung mit Passkeys.",
    "error_passkey_sign_in_first": "Melde dich zuerst an und füge dann einen Passkey hinzu.",
    "error_passkey_window_signed_out": (
        "Dieses Fenster ist nicht mehr angemeldet; schließe es, melde dich unter den Kommentaren"
        " wieder an, falls deine Sitzung beendet ist, und drücke noch einmal auf „Passkey"
        " hinzufügen“."
    ),
    "error_passkey_not_yours": "Dieser Passkey gehört nicht dir oder wurde schon entfernt.",
    "error_passkey_start_again": (
        "Diese Passkey-Anfrage ist nicht mehr gültig; schließe dieses Fenster und fang noch"
        " einmal an."
    ),
    "error_passkey_used": (
        "Diese Passkey-Anfrage wurde schon verwendet; schließe dieses Fenster und fang noch"
        " einmal an."
    ),
    "error_passkey_limit": "Ein Konto hat höchstens {limit} Passkeys; entferne zuerst einen.",
    "error_passkey_answer_unfit": (
        "Die Antwort des Browsers passt nicht zu dieser Anfrage (eine andere Website oder eine"
        " alte Anfrage); schließe dieses Fenster und fang noch einmal an."
    ),
    "error_passkey_sign_in_unfit": (
        "Die Antwort des Passkeys passt nicht zu dieser Anmeldung (eine andere Website oder eine"
        " alte Anfrage); schließe dieses Fenster und fang noch einmal an."
    ),
    "error_passkey_unknown": (
        "Dieser Passkey ist hier nicht bekannt (vielleicht wurde er entfernt); melde dich anders"
        " an und füge dann wieder einen Passkey hinzu."
    ),
    "error_passkey_gone": (
        "Dieser Passkey ist hier nicht bekannt (vielleicht wurde er entfernt); melde dich anders"
        " an."
    ),
    "error_passkey_other_account": "Dieser Passkey gehört nicht zu dem Konto, das er nennt.",
    "error_passkey_exists": "Dieser Passkey wurde schon hinzugefügt.",
    "error_passkey_counter_behind": (
        "Dieser Passkey wurde abgelehnt: Sein Nutzungszähler ist zurückgegangen, was passiert,"
        " wenn eine Kopie von ihm verwendet wird. Melde dich anders an und entferne den Passkey,"
        " wenn du ihn nicht kopiert hast."
    ),
    "error_passkey_too_long": "Die Antwort des Browsers ist zu lang für einen Passkey.",
    "error_passkey_none_sent": "Der Browser hat keinen Passkey gesendet; versuche es noch einmal.",
    "error_no_site": (
        "Auf diesem Kommentarserver gibt es keine Website namens {site}. Der Betreiber der"
        " Website kann sie hinzufügen mit: widget site add {site_id} --origin"
        " https://their-blog.example"
    ),
    "error_page_empty": "Gib an, um welche Seite es geht: Der Parameter page ist leer.",
    "error_page_id_too_long": (
        "Die Seiten-ID darf höchstens {limit} Zeichen gewöhnlichen Text lang sein."
    ),
    "error_page_url": "Die Seiten-URL muss eine http- oder https-Adresse sein.",
    "error_page_url_too_long": "Die Seiten-URL darf höchstens {limit} Zeichen lang sein.",
    "error_page_origin": (
        "Diese Seite ({origin}) gehört nicht zu den Origins der Website {site} ({origins}). Der"
        " Betreiber der Website kann sie erlauben mit: widget site add-origin {site_id} {origin}"
    ),
    "error_send_form": "Sende das Formular als application/x-www-form-urlencoded.",
    "error_send_json": "Sende den Anfrageinhalt als application/json.",
    "error_json_invalid": "Der Anfrageinhalt ist kein gültiges JSON: {detail}.",
    "error_json_object": "Der Anfrageinhalt muss ein JSON-Objekt sein.",
    "error_no_origin": (
        "Diese Anfrage hat keinen Origin-Header; sende sie aus dem Kommentarformular."
    ),
    "error_origin_refused": "Anfragen von {origin} dürfen hier nichts ändern.",
    "error_no_provider": "Auf diesem Server gibt es keine Anmeldung mit {name}.",
    "error_account_gone": "Dieses Konto gibt es nicht mehr.",
    "error_email_sign_in_off": "Dieser Kommentarserver bietet keine Anmeldung per E-Mail.",
    "error_no_such_comment": "Diesen Kommentar gibt es nicht.",
    "error_comment_not_published": "Dieser Kommentar ist nicht (oder nicht mehr) veröffentlicht.",
    "error_comment_page_gone": "Die Seite dieses Kommentars ist nicht mehr auf ihrer Website.",
    "error_no_email": (
        "Dieser Kommentarserver verschickt keine E-Mails; frag den Betreiber der Website nach"
        " deinen Kommentaren."
    ),
    "error_provider_no_subject": (
        "Der Anbieter hat nicht gesagt, wer du bist; die Anmeldung kann nicht weitergehen."
    ),
    "error_provider_no_id_token": (
        "Der Anbieter hat kein ID-Token geschickt; die Anmeldung kann nicht weitergehen."
    ),
    "error_provider_no_profile": (
        "Der Anbieter hat sich geweigert zu sagen, wer du bist ({status})."
    ),
    "error_named_provider_no_profile": (
        "{provider} hat sich geweigert zu sagen, wer du bist ({status})."
    ),
    "error_provider_unreadable": "Die Antwort des Anbieters ließ sich nicht lesen.",
    "error_mastodon_name": "Gib den Namen deines Mastodon-Servers ein, etwa mastodon.social.",
    "error_mastodon_private": (
        "Der Mastodon-Server {host} ist nicht im öffentlichen Internet; gib den Namen eines"
        " öffentlichen Servers ein, etwa mastodon.social."
    ),
    "error_mastodon_silent": (
        "Der Mastodon-Server {host} hat nicht geantwortet; prüfe seinen Namen."
    ),
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
    "notify_posts": "Уведомлять меня о новых записях по почте.",
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
    "comments_pagination": "Страницы комментариев",
    "comments_pagination_after": "Страницы комментариев, после комментариев",
    "own_expired": (
        "Она слишком старая или была изменена по дороге. Запросите новую в комментариях на "
        "любой странице."
    ),
    "own_title": "Ваши комментарии",
    "own_erased_title": "Удалено",
    "own_erased": {
        "one": (
            "{n} комментарий от имени {email} удалён: в обсуждениях осталось только его место, "
            "без имени, адреса и текста. Письма на этот адрес больше не придут."
        ),
        "few": (
            "{n} комментария от имени {email} удалены: в обсуждениях остались только их места, "
            "без имени, адреса и текста. Письма на этот адрес больше не придут."
        ),
        "many": (
            "{n} комментариев от имени {email} удалены: в обсуждениях остались только их места, "
            "без имени, адреса и текста. Письма на этот адрес больше не придут."
        ),
    },
    "own_written": {
        "one": "От имени {email} написан {n} комментарий.",
        "few": "От имени {email} написано {n} комментария.",
        "many": "От имени {email} написано {n} комментариев.",
    },
    "own_download": "Скачать все (JSON)",
    "own_erase_confirm": "Удалить все. Это нельзя отменить.",
    "own_tick": "Сначала поставьте галочку для подтверждения.",
    "email_title_ask": "Вход по эл. почте",
    "email_title_sent": "Проверьте почту",
    "email_address": "Адрес эл. почты",
    "email_name": "Имя, которое будет видно у ваших комментариев",
    "email_send": "Прислать ссылку для входа",
    "email_not_shown": "Ваш адрес не показывается у комментариев.",
    "email_sent": (
        "Мы отправили ссылку на {email}. Откройте её (здесь или на другом устройстве) и введите "
        "этот код:"
    ),
    "email_then": "Затем вернитесь к комментариям: вы будете в системе. Ссылка действует 15 минут.",
    "email_signing_in_as": (
        "Вход для комментариев от имени {email}. Введите четырёхзначный код, который показывает "
        "окно входа."
    ),
    "email_code": "Код",
    "email_sign_in": "Войти",
    "email_not_asked": (
        "Не собирались входить? Закройте эту страницу: без кода ссылкой никто не воспользуется."
    ),
    "error_sign_in_name_empty": "Введите имя, которое будет видно у ваших комментариев.",
    "error_sign_in_name_too_long": "Имя не длиннее {limit} символов, в одну строку.",
    "error_sign_in_email_empty": "Введите адрес эл. почты.",
    "error_fields_marked": "Исправьте отмеченные ниже поля.",
    "error_wrong_code": "Это не тот код, который показывает окно входа.",
    "error_too_many_codes": "Слишком много неверных кодов для этой ссылки",
    "error_too_many_links_network": "Слишком много ссылок для входа запрошено из вашей сети",
    "error_too_many_links_address": "Слишком много ссылок для входа запрошено для этого адреса",
    "notify_expired_title": "Срок действия ссылки истёк",
    "notify_expired": (
        "Она слишком старая или была изменена по дороге. Запросите новую там, где получили эту."
    ),
    "notify_follow_title": "Следить за этим обсуждением?",
    "notify_follow": "Письма будут приходить на {email}. В каждом есть ссылка, чтобы отписаться.",
    "notify_scope_replies": "Только ответы на мои комментарии",
    "notify_scope_thread": "Все новые комментарии в этом обсуждении",
    "notify_confirmed_title": "Подтверждено",
    "notify_confirmed_replies": "Вы будете получать письмо о каждом ответе на ваши комментарии.",
    "notify_confirmed_thread": (
        "Вы будете получать письмо о каждом новом комментарии в этом обсуждении."
    ),
    "notify_stop_title": "Отписаться от этих писем?",
    "notify_stop": "Больше никаких писем об этом обсуждении.",
    "notify_unsubscribe": "Отписаться",
    "notify_unsubscribed_title": "Вы отписались",
    "notify_unsubscribed": "Вы больше не будете получать писем об этом обсуждении.",
    "mail_follow_asked": (
        "Кто-то (надеемся, вы) попросил присылать уведомления о новых комментариях к «{title}» "
        "после этого комментария:"
    ),
    "mail_confirm": "Подтвердить",
    "mail_confirm_here": "Чтобы начать, подтвердите здесь: {link}",
    "mail_confirm_not_you": (
        "Если это были не вы, ничего не делайте: без подтверждения писем больше не будет."
    ),
    "mail_confirm_subject": "Подтвердите: следить за комментариями к «{title}»",
    "mail_replied": "{author} ответил(а) на ваш комментарий к «{title}»:",
    "mail_commented": "{author} прокомментировал(а) «{title}»:",
    "mail_read_and_reply": "Прочитать и ответить",
    "mail_why_follow_up": (
        "Вы получили это письмо, потому что просили уведомлять вас о новых комментариях."
    ),
    "mail_stop": "Отписаться от этих писем",
    "mail_reply_subject": "Новый ответ на ваш комментарий к «{title}»",
    "mail_comment_subject": "Новый комментарий к «{title}»",
    "mail_own_data_asked": (
        "Кто-то (надеемся, вы) запросил комментарии, написанные от имени {email}."
    ),
    "mail_own_data_button": "Посмотреть, скачать или удалить их",
    "mail_own_data_for_a_day": "Ссылка действует 24 часа.",
    "mail_own_data_here": (
        "Посмотреть, скачать или удалить их можно здесь (ссылка действует 24 часа):"
    ),
    "mail_own_data_not_you": (
        "Если это были не вы, ничего не делайте: ссылка работает только из этого письма."
    ),
    "mail_sign_in_asked": (
        "Кто-то (надеемся, вы) хочет войти, чтобы комментировать от имени {email} ({server})."
    ),
    "mail_sign_in_button": "Войти, чтобы комментировать",
    "mail_sign_in_then": (
        "Затем введите четырёхзначный код, который показывает окно входа. Ссылка сработает один "
        "раз в течение 15 минут."
    ),
    "mail_sign_in_open": (
        "Откройте эту ссылку и введите четырёхзначный код, который показывает окно входа "
        "(ссылка сработает один раз в течение 15 минут):"
    ),
    "mail_sign_in_not_you": (
        "Если это были не вы, ничего не делайте: без кода из того окна никто не сможет "
        "воспользоваться ссылкой."
    ),
    "popup_sign_in_failed": "Не удалось войти",
    "popup_sign_in_cancelled": "Вход отменён",
    "popup_sign_in_stopped": "Вход остановлен",
    "popup_refused": (
        "Этот вход начат не из формы комментариев, поэтому он остановлен. Если вы хотели войти, "
        "закройте это окно и нажмите кнопку входа под комментариями."
    ),
    "popup_signing_in_with": "Вход через {provider}",
    "popup_taking_you_there": "Переходим…",
    "popup_signed_in": "Вы вошли",
    "popup_close_and_go_back": "Можно закрыть это окно и вернуться к комментариям.",
    "popup_can_close": "Можно закрыть это окно.",
    "error_title_400": "Этот запрос непонятен",
    "error_title_403": "Здесь это не разрешено",
    "error_title_404": "Не найдено",
    "error_title_405": "Метод не разрешён",
    "error_title_409": "Уже существует",
    "error_title_413": "Слишком большой объём",
    "error_title_415": "Неверный тип содержимого",
    "error_title_422": "Проверьте введённые данные",
    "error_title_429": "Слишком много запросов",
    "error_title_503": "Попробуйте ещё раз чуть позже",
    "error_no_thread": "Этого обсуждения не существует.",
    "error_thread_closed": "Комментарии на этой странице закрыты.",
    "error_parent_elsewhere": (
        "Комментарий, на который вы отвечаете, находится не на этой странице."
    ),
    "error_parent_elsewhere_field": "Этот комментарий не на этой странице.",
    "error_parent_removed": "Комментарий, на который вы отвечаете, удалён.",
    "error_parent_removed_field": "Этот комментарий удалён.",
    "error_no_comment": "Этого комментария не существует.",
    "error_comment_gone": "Этого комментария не существует, или он удалён.",
    "error_comment_gone_again": "Этого комментария не существует, или он уже удалён.",
    "error_not_likeable": "Этого комментария нет на этой странице, или он удалён.",
    "error_body_empty": "Напишите комментарий, прежде чем отправлять.",
    "error_body_too_long": (
        "Символов в вашем комментарии: {length}, а предел — {limit}. Сократите его и "
        "отправьте снова."
    ),
    "error_body_control": "В вашем комментарии есть невидимые управляющие символы; удалите их.",
    "error_name_empty": "Введите своё имя.",
    "error_name_too_long": "Имя должно быть не длиннее {limit} символов.",
    "error_name_control": "В вашем имени есть управляющие символы или переводы строк; удалите их.",
    "error_email_for_replies": (
        "Введите адрес эл. почты, чтобы получать уведомления об ответах (он нигде не показывается)."
    ),
    "error_email_for_posts": (
        "Введите адрес эл. почты, чтобы получать уведомления о новых записях (он нигде не"
        " показывается)."
    ),
    "error_email_empty": "Введите адрес эл. почты (он нигде не показывается).",
    "error_email_invalid": "Введите адрес эл. почты вида name@example.com.",
    "error_website_scheme": "Введите адрес сайта, начинающийся с http:// или https://.",
    "error_website_invalid": "Введите адрес сайта вида https://example.com.",
    "error_parent_invalid": "Комментарий, на который вы отвечаете, указан неверно.",
    "error_sign_in_first": "На этом сайте нужно войти, чтобы комментировать.",
    "error_too_complex": (
        "Оформление этого комментария слишком сложно для показа (например, тысячи скобок или "
        "очень глубоко вложенные списки и цитаты). Упростите его и отправьте снова."
    ),
    "error_too_busy": (
        "Сервер сейчас слишком загружен, чтобы оформлять комментарии; ничего не сохранено. "
        "Попробуйте ещё раз через минуту."
    ),
    "error_edit_over": "Время на изменение или удаление этого комментария истекло.",
    "error_edit_token": "Этот токен изменения недействителен.",
    "error_edit_token_other": "Этот токен изменения относится к другому комментарию.",
    "error_form_missing": (
        "Этот комментарий отправлен не из формы комментариев; перезагрузите страницу."
    ),
    "error_form_expired": (
        "Форма была открыта слишком долго. Ваш комментарий сохранился: отправьте его снова."
    ),
    "error_form_invalid": "Эта форма недействительна; перезагрузите страницу и попробуйте снова.",
    "error_form_other_page": (
        "Эта форма относится к другой странице; перезагрузите страницу и попробуйте снова."
    ),
    "error_too_quick": (
        "Как быстро! Перечитайте комментарий и отправьте его снова через несколько секунд."
    ),
    "error_too_quick_field": (
        "Отправлено слишком быстро после открытия страницы; отправьте снова чуть позже."
    ),
    "error_form_used": (
        "Из этой формы уже отправлен комментарий. Перезагрузите страницу, чтобы написать ещё один."
    ),
    "error_try_again_in": "{what}; попробуйте снова через {seconds} с.",
    "error_try_again_in_a_second": "{what}; попробуйте снова через секунду.",
    "error_posting_too_fast": "Вы отправляете комментарии слишком часто",
    "error_editing_too_fast": "Вы вносите изменения слишком часто",
    "error_too_many_links": "Запрошено слишком много ссылок",
    "error_guest_likes": (
        "Ваша сеть уже поставила этому максимум гостевых отметок «нравится» ({limit})."
    ),
    "error_guest_likes_sign_in": (
        "Ваша сеть уже поставила этому максимум гостевых отметок «нравится» ({limit}). Войдите, "
        "чтобы добавить свою."
    ),
    "error_data_email_empty": "Введите адрес эл. почты, с которым вы оставляли комментарии.",
    "error_storage_unavailable": (
        "База данных комментариев сейчас недоступна; попробуйте ещё раз через минуту."
    ),
    "error_storage_unsaved": (
        "База данных комментариев не смогла это сохранить; ничего не сохранено. Попробуйте ещё "
        "раз через минуту."
    ),
    "passkey_title_sign_in": "Вход с ключом доступа",
    "passkey_title_manage": "Ваши ключи доступа",
    "passkey_choose_when_asked": "Выберите свой ключ доступа, когда браузер спросит.",
    "passkey_use": "Использовать ключ доступа",
    "passkey_intro": (
        "Ключи доступа {name}: входите, чтобы комментировать, по отпечатку пальца, лицу,"
        " блокировке экрана или с электронным ключом."
    ),
    "passkey_added_on": "добавлен {added}",
    "passkey_added_and_used": "добавлен {added}, последний вход {used}",
    "passkey_remove": "Удалить",
    "passkey_none_yet": "Ключей доступа пока нет.",
    "passkey_name_label": "Название нового ключа доступа",
    "passkey_name_placeholder": "Телефон, ноутбук, электронный ключ…",
    "passkey_added": "Ключ доступа «{name}» добавлен. В следующий раз входите с ним.",
    "passkey_removed": "Ключ доступа удалён.",
    "passkey_choose": "Выберите ключ доступа.",
    "passkey_browser_cannot": (
        "Этот браузер не умеет работать с ключами доступа. Закройте это окно и войдите другим"
        " способом."
    ),
    "passkey_held_already": "На этом устройстве уже есть ключ доступа для этой учётной записи.",
    "passkey_none_used": (
        "Ключ доступа не был использован. Попробуйте ещё раз или закройте это окно."
    ),
    "error_sign_in_not_from_form": "Этот вход начат не из формы комментариев; начните заново.",
    "error_sign_in_cancelled": "Вход отменён.",
    "error_sign_in_not_here": (
        "Этот вход начат не здесь или уже использован. Закройте это окно и начните заново из"
        " формы комментариев."
    ),
    "error_provider_failed": "Провайдер не смог выполнить вход ({error}).",
    "error_provider_unreachable": (
        "Не удалось связаться с провайдером; попробуйте ещё раз чуть позже."
    ),
    "error_provider_mismatch": "Ответ провайдера не соответствует этому входу; начните заново.",
    "error_provider_refused": (
        "Провайдер отклонил этот вход (возможно, он уже использован); начните заново."
    ),
    "error_too_many_sign_ins": "Слишком много входов из вашей сети",
    "error_sign_in_code_invalid": (
        "Этот код входа недействителен, уже использован или истёк; войдите снова."
    ),
    "error_passkeys_off": "Этот сервер комментариев не поддерживает вход с ключами доступа.",
    "error_passkey_sign_in_first": "Сначала войдите, затем добавьте ключ доступа.",
    "error_passkey_window_signed_out": (
        "В этом окне вы больше не вошли; закройте его, войдите снова под комментариями, если"
        " сеанс завершился, и снова нажмите «Добавить ключ доступа»."
    ),
    "error_passkey_not_yours": "Этот ключ доступа не ваш или уже удалён.",
    "error_passkey_start_again": (
        "Этот запрос ключа доступа больше не действителен; закройте это окно и начните заново."
    ),
    "error_passkey_used": (
        "Этот запрос ключа доступа уже использован; закройте это окно и начните заново."
    ),
    "error_passkey_limit": (
        "У учётной записи может быть не более {limit} ключей доступа; сначала удалите один."
    ),
    "error_passkey_answer_unfit": (
        "Ответ браузера не соответствует этому запросу (другой сайт или старый запрос); закройте"
        " это окно и начните заново."
    ),
    "error_passkey_sign_in_unfit": (
        "Ответ ключа доступа не соответствует этому входу (другой сайт или старый запрос);"
        " закройте это окно и начните заново."
    ),
    "error_passkey_unknown": (
        "Этот ключ доступа здесь неизвестен (возможно, его удалили); войдите другим способом,"
        " затем снова добавьте ключ доступа."
    ),
    "error_passkey_gone": (
        "Этот ключ доступа здесь неизвестен (возможно, его удалили); войдите другим способом."
    ),
    "error_passkey_other_account": (
        "Этот ключ доступа не принадлежит указанной в нём учётной записи."
    ),
    "error_passkey_exists": "Этот ключ доступа уже добавлен.",
    "error_passkey_counter_behind": (
        "Этот ключ доступа отклонён: его счётчик использований уменьшился, а так бывает, когда"
        " используют его копию. Войдите другим способом и удалите ключ доступа, если вы его не"
        " копировали."
    ),
    "error_passkey_too_long": "Ответ браузера слишком длинный для ключа доступа.",
    "error_passkey_none_sent": "Браузер не прислал ключ доступа; попробуйте ещё раз.",
    "error_no_site": (
        "На этом сервере комментариев нет сайта {site}. Владелец сайта может добавить его"
        " командой: widget site add {site_id} --origin https://their-blog.example"
    ),
    "error_page_empty": "Укажите, о какой странице речь: параметр page пуст.",
    "error_page_id_too_long": (
        "Идентификатор страницы должен быть не длиннее {limit} символов обычного текста."
    ),
    "error_page_url": "Адрес страницы должен начинаться с http или https.",
    "error_page_url_too_long": "Адрес страницы должен быть не длиннее {limit} символов.",
    "error_page_origin": (
        "Эта страница ({origin}) не относится к источникам сайта {site} ({origins}). Владелец"
        " сайта может разрешить её командой: widget site add-origin {site_id} {origin}"
    ),
    "error_send_form": "Отправьте форму как application/x-www-form-urlencoded.",
    "error_send_json": "Отправьте тело запроса как application/json.",
    "error_json_invalid": "Тело запроса — недопустимый JSON: {detail}.",
    "error_json_object": "Тело запроса должно быть объектом JSON.",
    "error_no_origin": "У этого запроса нет заголовка Origin; отправьте его из формы комментариев.",
    "error_origin_refused": "Запросы с {origin} не могут ничего здесь менять.",
    "error_no_provider": "На этом сервере нет входа через {name}.",
    "error_account_gone": "Этой учётной записи больше нет.",
    "error_email_sign_in_off": (
        "Этот сервер комментариев не поддерживает вход по электронной почте."
    ),
    "error_no_such_comment": "Такого комментария нет.",
    "error_comment_not_published": "Этот комментарий не опубликован (или уже снят с публикации).",
    "error_comment_page_gone": "Страницы этого комментария больше нет на сайте.",
    "error_no_email": (
        "Этот сервер комментариев не отправляет писем; попросите свои комментарии у владельца"
        " сайта."
    ),
    "error_provider_no_subject": "Провайдер не сообщил, кто вы; вход не может продолжиться.",
    "error_provider_no_id_token": "Провайдер не прислал ID-токен; вход не может продолжиться.",
    "error_provider_no_profile": "Провайдер отказался сообщить, кто вы ({status}).",
    "error_named_provider_no_profile": "{provider} отказался сообщить, кто вы ({status}).",
    "error_provider_unreadable": "Не удалось прочитать ответ провайдера.",
    "error_mastodon_name": "Введите имя своего сервера Mastodon, например mastodon.social.",
    "error_mastodon_private": (
        "Сервер Mastodon {host} не находится в публичном интернете; введите имя публичного"
        " сервера, например mastodon.social."
    ),
    "error_mastodon_silent": "Сервер Mastodon {host} не ответил; проверьте его имя.",
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


# How each language writes a whole number a person reads ("20 000 caractères"): the separator
# between groups of three digits, and CLDR's minimumGroupingDigits, the fewest digits before the
# first separator (2: Spanish, Italian and Polish write 1234 but 12.345). From CLDR 48, as
# browsers' Intl.NumberFormat writes them (the frame's script formats numbers so), Arabic's
# default numbering system there being Latin digits. Babel would give the same separators but
# skips minimumGroupingDigits ("1.234" in Spanish) and costs a process 4 MB to import, 18 MB
# once the 13 languages are loaded (docs/benchmark.md).
_DIGIT_GROUPS: dict[str, tuple[str, int]] = {
    "en": (",", 1), "de": (".", 1), "ru": ("\u00a0", 1), "fr": ("\u202f", 1),
    "es": (".", 2), "pt": (".", 1), "it": (".", 2), "pl": ("\u00a0", 2), "uk": ("\u00a0", 1),
    "tr": (".", 1), "ja": (",", 1), "zh": (",", 1), "ar": (",", 1),
}  # fmt: skip


def group_digits(number: int, language: str) -> str:
    """`number` as `language` writes it for people: "20,000", "20.000", "20\u202f000", "1234"
    in Spanish. Only numbers people read: counts in JSON, ids and headers stay plain."""
    separator, minimum = _DIGIT_GROUPS[language]
    digits = str(abs(number))
    if len(digits) < 3 + minimum:
        return str(number)
    grouped = f"{abs(number):,}".replace(",", separator)
    return grouped if number >= 0 else "-" + grouped


@functools.cache
def words_digest() -> str:
    """A short name for every word and number format of every language: part of the ETags of
    what is kept and revalidated in their words, so that a release that words something
    anew (or writes its numbers anew) is never answered by a 304 of the old words."""
    digest = hashlib.sha256(repr((_DIGIT_GROUPS, _DATE_FORMATS, _MONTHS)).encode())
    for language, (catalog, _) in _CATALOGS.items():  # one at a time: a few KB each, not 1 MB
        digest.update(repr((language, catalog)).encode())
    return digest.hexdigest()[:6]


def choose_language(requested: str | None) -> str:
    """A supported language for `requested` ("de", "de-AT", "RU"); English otherwise."""
    if requested:
        base = requested.strip().lower().replace("_", "-").split("-")[0]
        if base in _CATALOGS:
            return base
    return "en"


def language_asked(accept_language: str) -> str:
    """The first supported language of an Accept-Language header ("fr-CA,fr;q=0.9,en;q=0.8"),
    by weight; English when none is. The frame's script sends its own language this way."""
    weighted = []
    for position, item in enumerate(accept_language.split(",")[:20]):
        tag, _, parameters = item.strip().partition(";")
        weight = 1.0
        if parameters.strip().startswith("q="):
            try:
                weight = float(parameters.strip()[2:])
            except ValueError:
                continue
        weighted.append((-weight, position, tag.strip()))
    for _, _, tag in sorted(weighted):
        language = choose_language(tag)
        if language != "en" or tag.lower().startswith("en"):
            return language
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
        return message.format(n=self._readable(n), **self._readable_values(values))

    def number(self, number: int) -> str:
        """`number` as this language writes it for people ("1 234" in French)."""
        return group_digits(number, self.language)

    def _readable(self, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            return group_digits(value, self.language)
        return value

    def _readable_values(self, values: Mapping[str, object]) -> dict[str, object]:
        return {name: self._readable(value) for name, value in values.items()}

    def say(self, text: str) -> str:
        """What the domain said (widget/messages.py) in this language; English text as it came
        (the English of a message can be more precise than its key), and any text not Said."""
        if not isinstance(text, Said) or self.language == "en":
            return str(text)
        if text.parts:
            return " ".join(self.say(part) for part in text.parts)
        if not text.key:
            return str(text)
        values = {
            name: self.say(value) if isinstance(value, Said) else self._readable(value)
            for name, value in text.values.items()
        }
        message = self._catalog.get(text.key) or EN[text.key]
        assert isinstance(message, str), f"{text.key} is a plural message"
        return message.format(**values)

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
