"""One email address: the only check of an address anyone types, imports or we send to.

An address field names exactly one mailbox, written plainly: `name@example.com`. Mail syntax
allows much more in an address header (lists, groups, display names, comments, quoted local
parts, route addresses, domain literals), and each of those lets one field reach people the
form never meant to, or carries a line break into a header. All of that is refused here:

- the local part (before the @) is a dot-atom of ASCII letters, digits and ``!#$%&'*+-/=?^_`{|}~``
  (RFC 5322), at most 64 characters (RFC 5321); quoted local parts are refused, and so are
  non-ASCII ones, which need SMTPUTF8 at every mail server on the way;
- the domain is a host name of at least two labels; an internationalised one is accepted and
  kept in its ASCII form (`bücher.example` -> `xn--bcher-kva.example`, IDNA 2008 with UTS 46
  mapping), which every mail server understands, and it is lower-cased;
- the whole address is at most 254 characters (RFC 5321's path limit).
"""

from __future__ import annotations

import functools
import re

import idna

from widget.errors import Invalid
from widget.messages import Said

__all__ = ["MAX_EMAIL_CHARS", "NotAnEmailAddress", "check_email_address", "email_field"]

MAX_EMAIL_CHARS = 254
MAX_LOCAL_PART_CHARS = 64

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = re.compile(rf"{_ATEXT}(\.{_ATEXT})*\Z")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")
# Control characters and Unicode line breaks: in a header, any of them could start a new line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
# What only an address with a name, a comment, quotes, a group or a route would hold.
_BEYOND_ONE_ADDRESS = re.compile(r"[<>\"()\[\]:\\]")
_LIST_SEPARATOR = re.compile(r"[,;\s]")

_PLAIN = "Enter an email address such as name@example.com."
_TOO_LONG = (
    f"That email address is too long: at most {MAX_LOCAL_PART_CHARS} characters before the @"
    f" and {MAX_EMAIL_CHARS} in all."
)
_BAD_DOMAIN = "After the @, enter a domain name such as example.com."


class NotAnEmailAddress(ValueError):
    """The text is not one plain email address; the message says what to change."""


def check_email_address(raw: str) -> str:
    """The one address `raw` holds (surrounding spaces dropped, the domain lower-cased and in
    its ASCII form); raises NotAnEmailAddress otherwise."""
    text = raw.strip()
    if _CONTROL.search(text):
        raise NotAnEmailAddress(
            "An email address cannot contain line breaks or control characters."
        )
    if "@" not in text:
        raise NotAnEmailAddress(_PLAIN)
    if _BEYOND_ONE_ADDRESS.search(text):
        raise NotAnEmailAddress(
            "Enter just the address, such as name@example.com, without a name, quotes or brackets."
        )
    if _LIST_SEPARATOR.search(text):
        raise NotAnEmailAddress("Enter one email address only, not a list.")
    if len(text) > MAX_EMAIL_CHARS:
        raise NotAnEmailAddress(_TOO_LONG)
    local, _, domain = text.rpartition("@")
    if not local.isascii():
        raise NotAnEmailAddress(
            "Before the @, use only letters without accents, digits and . _ + - characters."
        )
    if not _DOT_ATOM.match(local):
        raise NotAnEmailAddress(_PLAIN)
    if len(local) > MAX_LOCAL_PART_CHARS:
        raise NotAnEmailAddress(_TOO_LONG)
    address = f"{local}@{_ascii_domain(domain)}"
    if len(address) > MAX_EMAIL_CHARS:
        raise NotAnEmailAddress(_TOO_LONG)
    return address


def email_field(raw: str, field: str = "email") -> str:
    """`check_email_address` for a form's field: raises Invalid (422) naming the field."""
    try:
        return check_email_address(raw)
    except NotAnEmailAddress as exc:
        # Precise in English; other languages say what a good address looks like.
        reason = Said(str(exc), "error_email_invalid")
        raise Invalid(Said(f"{raw!r} is not an email address. {exc}", parts=(reason,)),
                      {field: reason}) from None  # fmt: skip


# Most addresses are at a few domains, and idna's checks cost ~15 µs of every post's CPU: the
# answer is kept for those seen most (a refused domain is checked again each time).
@functools.lru_cache(maxsize=1024)
def _ascii_domain(domain: str) -> str:
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise NotAnEmailAddress(_BAD_DOMAIN) from None
    labels = ascii_domain.split(".")
    # One label ("root", "localhost"), a trailing dot, an IP address: not a mail domain.
    if len(labels) < 2 or labels[-1].isdigit() or not all(_LABEL.match(x) for x in labels):
        raise NotAnEmailAddress(_BAD_DOMAIN)
    return ascii_domain
