"""Commento: its data export (api/domain_export.go, api/comment.go, api/commenter.go), one
JSON document, which Commento hands out gzipped (unpacked copies are read too):

    {"version": 1,
     "comments": [{"commentHex": "…", "domain": "example.com", "url": "/post/",
                   "commenterHex": "… or 'anonymous'", "markdown": "…",
                   "parentHex": "'root' at the top, else a commentHex", "score": 0,
                   "state": "approved | unapproved | flagged",
                   "creationDate": "2020-01-02T03:04:05.123Z", "deleted": false}],
     "commenters": [{"commenterHex": "…", "email": "…", "name": "…",
                     "link": "https://… or 'undefined'", "photo": "https://… or 'undefined'",
                     "provider": "commento | google | github | gitlab | twitter | sso:…"}]}

Commento names a comment's page path "url" in JSON (its Go field is Path); "path" is read too.
Its export leaves "html" empty, so bodies come from the Markdown. Anonymous comments name the
commenter "anonymous", who is not in "commenters".

The whole document is loaded at once: Commento builds it in memory itself and exports one
domain at a time, so these files are small, and JSON has no record boundaries to stream on.
"""

from __future__ import annotations

import codecs
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from widget.porting.items import (
    IN_PROCESS,
    BadFile,
    Bodies,
    Item,
    Skip,
    open_maybe_gzip,
    page_for,
    parse_iso,
    safe_avatar,
    safe_website,
)
from widget.records import CommentStatus, ImportedComment

__all__ = ["read"]

STATES: dict[str, CommentStatus] = {
    "approved": "approved",
    "unapproved": "pending",
    "flagged": "spam",
}
Commenters = dict[str, dict[str, Any]]  # commenterHex → commenter
ANONYMOUS = "anonymous"  # the commenterHex of a comment posted without an account
UNSET = "undefined"  # what Commento stores for a commenter without a link or photo


def read(path: Path, site_id: str, bodies: Bodies = IN_PROCESS) -> Iterator[Item]:
    document = _load(path)
    commenters = _commenters(document.get("commenters"))
    for index, record in enumerate(document["comments"]):
        yield _record(index, record, site_id, commenters, bodies)


def _record(
    index: int, record: object, site_id: str, commenters: Commenters, bodies: Bodies
) -> Item:
    try:
        if not isinstance(record, dict):
            raise TypeError(f"a JSON {type(record).__name__}, not an object")
        return _comment(record, site_id, commenters, bodies)
    except KeyError as exc:
        detail = f"{exc.args[0]!r} is missing"
    except (TypeError, ValueError) as exc:
        detail = str(exc)
    hex_id = record.get("commentHex") if isinstance(record, dict) else None
    key = f"commento:{hex_id}" if isinstance(hex_id, str) and hex_id else f"commento:#{index}"
    return Skip(key, "unparsable", f"comments[{index}]: {detail}")


def _load(path: Path) -> dict[str, Any]:
    try:
        with open_maybe_gzip(path) as source:
            # An editor may have saved it with a byte order mark, which json refuses.
            document = json.loads(source.read().removeprefix(codecs.BOM_UTF8))
    except (EOFError, zlib.error) as exc:
        raise BadFile(f"The Commento export is truncated or corrupt ({exc}). Download it"
                      " again.") from exc  # fmt: skip
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, [[[[…
        raise BadFile(f"This is not a Commento export: it is not valid JSON ({exc}).") from exc
    except OSError as exc:
        raise BadFile(f"The Commento export cannot be read: {exc}.") from exc
    if not isinstance(document, dict) or not isinstance(document.get("comments"), list):
        raise BadFile('This is not a Commento export: it has no "comments" list.')
    if document.get("version") != 1:
        raise BadFile(f"This Commento export is version {document.get('version')!r}; only"
                      " version 1 is read.")  # fmt: skip
    return document


def _commenters(records: object) -> Commenters:
    """commenterHex → commenter. Commento lists a commenter once per comment (a join), and a
    malformed entry only costs its comments their author's details, so it is passed over."""
    if not isinstance(records, list):
        return {}
    return {
        record["commenterHex"]: record
        for record in records
        if isinstance(record, dict) and isinstance(record.get("commenterHex"), str)
    }


def _comment(
    record: dict[str, Any], site_id: str, commenters: Commenters, bodies: Bodies
) -> ImportedComment:
    """The comment of one record; KeyError, TypeError or ValueError for a malformed one."""
    hex_id = _string(record["commentHex"], "commentHex")
    if not hex_id:
        raise ValueError("commentHex is empty")
    domain = _string(record.get("domain") or "", "domain").strip()
    path = _string(record.get("url") or record.get("path") or "", "url").strip()
    if not path:
        raise ValueError("the comment names no page (url)")
    url = f"https://{domain}{path if path.startswith('/') else '/' + path}" if domain else ""
    parent = _string(record.get("parentHex") or "root", "parentHex")
    state = record.get("state")
    status = STATES.get(state) if isinstance(state, str) else None
    if status is None:
        raise ValueError(f"state {state!r}: Commento uses approved, unapproved or flagged")
    if record.get("deleted") is True:
        status = "deleted"
    commenter_hex = record.get("commenterHex")
    # "anonymous" is no commenter; an unknown one (not in "commenters") is shown as anonymous
    # too, rather than its comment being lost.
    commenter: dict[str, Any] = {}
    if isinstance(commenter_hex, str) and commenter_hex != ANONYMOUS:
        commenter = commenters.get(commenter_hex, {})
    provider = _field(commenter, "provider")
    source, body = bodies.from_markdown(_string(record.get("markdown") or "", "markdown"))
    score = record.get("score") or 0
    return ImportedComment(
        key=f"commento:{hex_id}", parent_key=None if parent == "root" else f"commento:{parent}",
        page=page_for(site_id, url, path), author_name=_field(commenter, "name") or "Anonymous",
        author_email=_field(commenter, "email"), author_url=safe_website(_field(commenter, "link")),
        body_source=source, body_html=body, status=status,
        created_at=parse_iso(_string(record["creationDate"], "creationDate")),
        like_count=max(score, 0) if isinstance(score, int) else 0,
        author_provider="" if provider == "commento" else provider,
        author_avatar=safe_avatar(_field(commenter, "photo")),
    )  # fmt: skip


def _field(commenter: dict[str, Any], name: str) -> str:
    """A commenter's detail, '' when absent or "undefined" (Commento's word for none)."""
    value = commenter.get(name)
    return value.strip() if isinstance(value, str) and value.strip() != UNSET else ""


def _string(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} is a JSON {type(value).__name__}, not a string")
    return value
