"""What readers and commenters are told when something is wrong, in English, each under a key.

The domain raises errors whose messages are `Said` strings: English wherever they go (logs,
the admin pages, the command line, tests that read English), but carrying their key and values,
so that a view can say them again in the frame's language (`Translator.say` in
widget/views/i18n.py, where every language has every key below). Messages meant only for site
owners, operators and admins stay plain English strings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

__all__ = ["ENGLISH", "Said", "joined", "recalled", "said", "to_keep"]

ENGLISH: dict[str, str] = {
    # What storage refuses (widget/refusals.py)
    "error_no_thread": "This thread does not exist.",
    "error_thread_closed": "Comments are closed on this page.",
    "error_parent_elsewhere": "The comment you are replying to is not on this page.",
    "error_parent_elsewhere_field": "That comment is not on this page.",
    "error_parent_removed": "The comment you are replying to has been removed.",
    "error_parent_removed_field": "That comment has been removed.",
    "error_no_comment": "This comment does not exist.",
    "error_comment_gone": "This comment does not exist or has been removed.",
    "error_comment_gone_again": "This comment does not exist or has already been removed.",
    "error_not_likeable": "This comment is not on this page, or has been removed.",
    # The comment form (widget/comments.py)
    "error_body_empty": "Write a comment before posting.",
    "error_body_too_long": (
        "Your comment is {length} characters long; the limit is {limit}. Shorten it and post again."
    ),
    "error_body_control": "Your comment contains invisible control characters; remove them.",
    "error_name_empty": "Enter your name.",
    "error_name_too_long": "Use a name of at most {limit} characters.",
    "error_name_control": "Your name contains control characters or line breaks; remove them.",
    "error_email_for_replies": (
        "Enter your email address to be told of replies (it is never shown)."
    ),
    "error_email_for_posts": (
        "Enter your email address to be told of new posts (it is never shown)."
    ),
    "error_email_empty": "Enter your email address (it is never shown).",
    "error_email_invalid": "Enter an email address such as name@example.com.",
    "error_website_scheme": "Enter a website address starting with http:// or https://.",
    "error_website_invalid": "Enter a website address such as https://example.com.",
    "error_parent_invalid": "The comment you are replying to is not valid.",
    "error_sign_in_first": "This site asks commenters to sign in first.",
    "error_too_complex": (
        "This comment's formatting is too complex to display (thousands of brackets, or lists"
        " and quotes nested very deep, say). Simplify it and post again."
    ),
    "error_too_busy": (
        "The server is too busy to format comments right now; nothing was saved. Try"
        " again in a minute."
    ),
    "error_edit_over": "The time to edit or delete this comment is over.",
    "error_edit_token": "This edit token is not valid.",
    "error_edit_token_other": "This edit token is for another comment.",
    # The form's token and pace (widget/moderation/screening.py)
    "error_form_missing": "This comment did not come from the comment form; reload the page.",
    "error_form_expired": (
        "This form was open for too long. Your comment is still here: post it again."
    ),
    "error_form_invalid": "This form is not valid; reload the page and try again.",
    "error_form_other_page": "This form belongs to another page; reload the page and try again.",
    "error_too_quick": "That was quick! Read your comment over and post it again in a few seconds.",
    "error_too_quick_field": "Posted too quickly after the page opened; post it again in a moment.",
    "error_form_used": (
        "This form has already posted a comment. Reload the page to write another."
    ),
    # Limits (widget/records.py): "{what}; try again in {seconds} seconds."
    "error_try_again_in": "{what}; try again in {seconds} seconds.",
    "error_try_again_in_a_second": "{what}; try again in a second.",
    "error_posting_too_fast": "You are posting too fast",
    "error_editing_too_fast": "You are editing too fast",
    "error_too_many_links": "Too many links asked for",
    "error_guest_likes": (
        "Your network has already given this the most guest likes it can ({limit})."
    ),
    "error_guest_likes_sign_in": (
        "Your network has already given this the most guest likes it can ({limit})."
        " Sign in to add yours."
    ),
    "error_data_email_empty": "Enter the email address you commented with.",
    # Signing in with an email link (widget/auth/email_link.py)
    "error_sign_in_name_empty": "Enter the name to show with your comments.",
    "error_sign_in_name_too_long": "A name of at most {limit} characters, on one line.",
    "error_sign_in_email_empty": "Enter your email address.",
    "error_fields_marked": "Please correct the fields marked below.",
    "error_wrong_code": "That is not the code the sign-in window shows.",
    "error_too_many_codes": "Too many wrong codes for this link",
    "error_too_many_links_network": "Too many sign-in links asked for from your network",
    "error_too_many_links_address": "Too many sign-in links asked for this address",
    # Signing in with a provider (widget/auth/signin.py): the popup and the frame say why
    "error_sign_in_not_from_form": (
        "This sign-in was not started by the comment form; start again."
    ),
    "error_sign_in_cancelled": "Sign-in was cancelled.",
    "error_sign_in_not_here": (
        "This sign-in was not started here, or it was already used. Close this window and"
        " start again from the comment form."
    ),
    "error_provider_failed": "The provider could not sign you in ({error}).",
    "error_provider_unreachable": "The provider could not be reached; try again in a moment.",
    "error_provider_mismatch": "The provider's answer did not match this sign-in; start again.",
    "error_provider_refused": (
        "The provider refused this sign-in (it may have been used already); start again."
    ),
    "error_too_many_sign_ins": "Too many sign-ins from your network",
    "error_provider_no_subject": "The provider did not say who you are; sign-in cannot continue.",
    "error_provider_no_id_token": "The provider sent no ID token; sign-in cannot continue.",
    "error_provider_no_profile": "The provider refused to say who you are ({status}).",
    "error_named_provider_no_profile": "{provider} refused to say who you are ({status}).",
    "error_provider_unreadable": "The provider's answer could not be read.",
    "error_mastodon_name": "Enter your Mastodon server's name, such as mastodon.social.",
    "error_mastodon_private": (
        "The Mastodon server {host} is not on the public internet; enter the name of a public"
        " server, such as mastodon.social."
    ),
    "error_mastodon_silent": "The Mastodon server {host} did not answer; check its name.",
    "error_sign_in_code_invalid": (
        "This sign-in code is not valid, was used already, or has expired; sign in again."
    ),
    # Passkeys (widget/auth/passkeys.py, widget/refusals.py, widget/views/passkeys.py)
    "error_passkeys_off": "This comment server does not sign in with passkeys.",
    "error_passkey_sign_in_first": "Sign in first, then add a passkey.",
    "error_passkey_window_signed_out": (
        "This window is no longer signed in; close it, sign in again under the comments if"
        " your session ended, and press \u201cAdd a passkey\u201d again."
    ),
    "error_passkey_not_yours": "That passkey is not one of yours, or it was removed already.",
    "error_passkey_start_again": (
        "This passkey request is no longer valid; close this window and start again."
    ),
    "error_passkey_used": (
        "This passkey request was used already; close this window and start again."
    ),
    "error_passkey_limit": "An account keeps at most {limit} passkeys; remove one first.",
    "error_passkey_answer_unfit": (
        "The browser's answer does not fit this request (another site, or an old request);"
        " close this window and start again."
    ),
    "error_passkey_sign_in_unfit": (
        "The passkey's answer does not fit this sign-in (another site, or an old request);"
        " close this window and start again."
    ),
    "error_passkey_unknown": (
        "This passkey is not known here (it may have been removed); sign in another way, then"
        " add a passkey again."
    ),
    "error_passkey_gone": (
        "This passkey is not known here (it may have been removed); sign in another way."
    ),
    "error_passkey_other_account": "This passkey does not belong to the account it names.",
    "error_passkey_exists": "This passkey has been added already.",
    "error_passkey_counter_behind": (
        "This passkey was refused: its use counter went backwards, which happens when a copy"
        " of it is used. Sign in another way, and remove the passkey if you did not copy it."
    ),
    "error_passkey_too_long": "The browser's answer is too long to be a passkey's.",
    "error_passkey_none_sent": "The browser sent no passkey; try again.",
    # The rarer errors a frame can meet: its site and page (widget/sites.py, widget/comments.py),
    # what its script sends (widget/views/inputs.py), a server without mail
    "error_no_site": (
        "There is no site called {site} on this comment server. The site owner can add it"
        " with: widget site add {site_id} --origin https://their-blog.example"
    ),
    "error_page_empty": "Say which page this is about: the page parameter is empty.",
    "error_page_id_too_long": "The page id must be at most {limit} characters of ordinary text.",
    "error_page_url": "The page URL must be an http or https address.",
    "error_page_url_too_long": "The page URL must be at most {limit} characters long.",
    "error_page_origin": (
        "This page ({origin}) is not one of the origins of the site {site} ({origins}). The"
        " site owner can allow it with: widget site add-origin {site_id} {origin}"
    ),
    "error_send_form": "Send the form as application/x-www-form-urlencoded.",
    "error_send_json": "Send the request body as application/json.",
    "error_json_invalid": "The request body is not valid JSON: {detail}.",
    "error_json_object": "The request body must be a JSON object.",
    "error_no_origin": "This request has no Origin header; send it from the comment form.",
    "error_origin_refused": "Requests from {origin} may not change anything here.",
    "error_no_provider": "There is no sign-in with {name} on this server.",
    "error_account_gone": "This account no longer exists.",
    "error_email_sign_in_off": "This comment server does not sign in by email.",
    "error_no_such_comment": "There is no such comment.",
    "error_comment_not_published": "This comment is not (or no longer) published.",
    "error_comment_page_gone": "This comment's page is not on its site any more.",
    "error_no_email": (
        "This comment server sends no email; ask the site's owner for your comments."
    ),
    # The database (widget/errors.py)
    "error_storage_unavailable": (
        "The comments database is unavailable right now; please try again in a minute."
    ),
    "error_storage_unsaved": (
        "The comments database could not save this; nothing was saved. Please try again"
        " in a minute."
    ),
}


class Said(str):
    """A sentence in English that remembers which message it is (`key`, `values`), or which
    sentences it joins (`parts`), so that a view can say it in another language."""

    key: str
    values: dict[str, object]
    parts: tuple[str, ...]

    def __new__(
        cls,
        text: str,
        key: str = "",
        values: Mapping[str, object] | None = None,
        parts: tuple[str, ...] = (),
    ) -> Said:
        sentence = super().__new__(cls, text)
        sentence.key = key
        sentence.values = dict(values or {})
        sentence.parts = parts
        return sentence


def said(key: str, **values: object) -> Said:
    """The message `key` of ENGLISH with `values` in its placeholders (a value may itself be
    Said: it is translated too). Whole numbers are written as English writes them ("10,000");
    the values keep them as numbers, for each language to write its own way."""
    english = {
        name: f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else value
        for name, value in values.items()
    }
    return Said(ENGLISH[key].format(**english), key, values)


def joined(sentences: Iterable[str]) -> Said:
    """Sentences said one after the other (a form's field messages as one summary)."""
    parts = tuple(sentences)
    return Said(" ".join(parts), parts=parts)


def to_keep(text: str) -> str:
    """`text` as storage keeps it to be said again later (a sign-in's failure, told to the frame
    that polls): a Said message as JSON of its key and values, other text as it is."""
    if not isinstance(text, Said) or not text.key:
        return str(text)
    # A value that is itself Said is kept in English: none of the kept messages has one.
    return json.dumps({"said": text.key, "values": text.values, "english": str(text)})


def recalled(kept: str) -> str:
    """What `to_keep` kept: Said again where it was Said (and its key is still known)."""
    if not kept.startswith('{"said": '):
        return kept
    try:
        value = json.loads(kept)
    except ValueError:
        return kept
    try:
        return said(value["said"], **value["values"])
    except (KeyError, IndexError, TypeError):  # a key or placeholder renamed since it was kept
        return str(value.get("english", kept))
