"""What readers and commenters are told when something is wrong, in English, each under a key.

The domain raises errors whose messages are `Said` strings: English wherever they go (logs,
the admin pages, the command line, tests that read English), but carrying their key and values,
so that a view can say them again in the frame's language (`Translator.say` in
widget/views/i18n.py, where every language has every key below). Messages meant only for site
owners, operators and admins stay plain English strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["ENGLISH", "Said", "joined", "said"]

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
        "Your comment is {length:,} characters long; the limit is {limit:,}."
        " Shorten it and post again."
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
    Said: it is translated too)."""
    return Said(ENGLISH[key].format(**values), key, values)


def joined(sentences: Iterable[str]) -> Said:
    """Sentences said one after the other (a form's field messages as one summary)."""
    parts = tuple(sentences)
    return Said(" ".join(parts), parts=parts)
