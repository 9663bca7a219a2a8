"""Remark42: its backup (https://remark42.com/docs/backup/; backend/app/migrator/native.go and
backend/app/store/comment.go), gzipped JSON Lines as Remark42 writes it, or plain once unpacked.

Line 1 is a meta object, {"version": 1, "users": [...], "posts": [...]}; every later line is
one comment:

    {"id": "uuid", "pid": "parent id, or '' at the top", "text": "<p>rendered html</p>",
     "orig": "the Markdown as typed (not always there)",
     "user": {"name": "…", "id": "github_0123abcd", "picture": "https://…", "ip": "hash"},
     "locator": {"site": "remark", "url": "https://example.com/post/"}, "score": 0,
     "time": "2019-06-04T18:02:36.081436+02:00", "edit": {"time": "…", "summary": ""},
     "pin": false, "delete": false, "title": "post title"}

Remark42 passes `orig` and the user's name through an HTML sanitiser before storing them, which
escapes text ("I'm" is stored as "I&#39;m", "> quote" as "&gt; quote"); they are unescaped here.
That is safe: our Markdown renderer takes no raw HTML, and a name is text. `user.ip` is a hash,
not an address, so it is not kept. The file is read a line at a time.
"""

from __future__ import annotations

import codecs
import html
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
)
from widget.records import ImportedComment

__all__ = ["read"]

VERSIONS = {0, 1}  # Remark42 itself still reads version 0 backups


def read(path: Path, site_id: str, bodies: Bodies = IN_PROCESS) -> Iterator[Item]:
    number = 0
    try:
        with open_maybe_gzip(path) as source:
            for number, raw in enumerate(source, start=1):
                if number == 1:  # an editor may have saved it with a byte order mark
                    _check_meta(raw.removeprefix(codecs.BOM_UTF8))
                elif raw.strip():
                    yield _line(raw, number, site_id, bodies)
    except (EOFError, zlib.error) as exc:
        raise BadFile(
            f"The Remark42 backup is truncated or corrupt: it ends early, after line {number}"
            f" ({exc}). Download or copy it again."
        ) from exc
    except OSError as exc:  # gzip.BadGzipFile among them
        raise BadFile(f"The Remark42 backup cannot be read after line {number}: {exc}.") from exc
    if number == 0:
        raise BadFile("This is not a Remark42 backup: the file is empty.")


def _check_meta(raw: bytes) -> None:
    try:
        meta = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError; [[[[… nested too deep
        raise BadFile(f"This is not a Remark42 backup: line 1 is not JSON ({exc}).") from exc
    # "users" and "posts" tell it from other JSON with a version, Commento's export among them.
    if not isinstance(meta, dict) or "version" not in meta or not {"users", "posts"} & meta.keys():
        raise BadFile(
            'This is not a Remark42 backup: line 1 is not its {"version": …, "posts": …} header.'
        )
    if meta["version"] not in VERSIONS:
        raise BadFile(f"This Remark42 backup is version {meta['version']!r}; this server reads"
                      " version 1 (and 0, its predecessor).")  # fmt: skip


def _line(raw: bytes, number: int, site_id: str, bodies: Bodies) -> Item:
    try:
        record = json.loads(raw)
        if not isinstance(record, dict):
            raise ValueError(f"a JSON {type(record).__name__}, not an object")
        return _comment(record, site_id, bodies)
    except (json.JSONDecodeError, RecursionError) as exc:
        detail = f"not valid JSON ({exc})"
    except KeyError as exc:
        detail = f"{exc.args[0]!r} is missing"
    except (ValueError, TypeError, AttributeError) as exc:
        detail = str(exc)
    return Skip(f"remark42:line {number}", "unparsable", f"line {number}: {detail}")


def _comment(record: dict[str, Any], site_id: str, bodies: Bodies) -> ImportedComment:
    """The comment of one line; KeyError, TypeError or ValueError for a malformed one."""
    comment_id = _string(record["id"], "id")
    if not comment_id:
        raise ValueError("the comment has an empty id")
    locator = record["locator"]
    url = _string(locator["url"], "locator.url")
    parent_id = _string(record.get("pid") or "", "pid")
    user = record.get("user") or {}
    user_id = html.unescape(_string(user.get("id") or "", "user.id"))
    provider = user_id.partition("_")[0] if "_" in user_id else ""
    orig = record.get("orig")
    if isinstance(orig, str) and orig.strip():
        source, body = bodies.from_markdown(html.unescape(orig))
    else:
        source, body = bodies.from_html(_string(record.get("text") or "", "text"))
    edit = record.get("edit") or {}
    score = record.get("score") or 0
    return ImportedComment(
        key=f"remark42:{comment_id}", parent_key=f"remark42:{parent_id}" if parent_id else None,
        page=page_for(site_id, url, "", _string(record.get("title") or "", "title")),
        author_name=html.unescape(_string(user.get("name") or "", "user.name")).strip()
        or "Anonymous",
        author_email="", author_url="", body_source=source, body_html=body,
        status="deleted" if record.get("delete") is True else "approved",
        created_at=parse_iso(_string(record["time"], "time")),
        like_count=max(score, 0) if isinstance(score, int) else 0,
        author_provider="" if provider == "anonymous" else provider,
        author_avatar=safe_avatar(html.unescape(_string(user.get("picture") or "", "picture"))),
        edited_at=parse_iso(_string(edit["time"], "edit.time")) if edit.get("time") else None,
        pinned=record.get("pin") is True,
    )  # fmt: skip


def _string(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} is a JSON {type(value).__name__}, not a string")
    return value
