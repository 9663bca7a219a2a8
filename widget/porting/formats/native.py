"""widget's own export: JSON Lines, lossless and documented (docs/export-format.md).

Line 1 is a header, {"format": "widget-export", "version": 1}; then one object per line, each
with a "type": every "site", then every "thread", "user", "comment" (parents before replies),
and "like". Comments and likes name each other by key (the key a comment was imported under,
else its id), so a file imports into any database, and imports again without adding anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from widget.porting.export_context import ExportContext, Row, comment_key, utc_text
from widget.porting.items import (
    IN_PROCESS,
    BadFile,
    Bodies,
    Item,
    Skip,
    open_maybe_gzip,
    parse_iso,
    safe_avatar,
    safe_website,
)
from widget.porting.origins import checked_origin, origin_of
from widget.records import ImportedComment, ImportedLike, ImportedThread, PageRef, Profile

__all__ = ["FORMAT", "VERSION", "NativeWriter", "read"]

FORMAT = "widget-export"
VERSION = 1
STATUSES = {"approved", "pending", "spam", "deleted"}


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


class NativeWriter:
    media_type = "application/x-ndjson"
    extension = "jsonl"

    def head(self, context: ExportContext) -> Iterator[str]:
        yield _line({"format": FORMAT, "version": VERSION})
        for site in context.sites:
            yield _line({
                "type": "site", "id": site["id"], "name": site["name"],
                "origins": context.origins.get(site["id"], []), "settings": site["settings"],
            })  # fmt: skip
        for thread in context.threads.values():
            origin = origin_of(thread)
            yield _line({
                "type": "thread", "site": thread["site_id"], "page": thread["page_id"],
                "url": thread["url"], "title": thread["title"], "closed": thread["closed"],
                "created_at": utc_text(thread["created_at"]),
            } | ({"origin": origin} if origin else {}))  # fmt: skip
        for user in context.users.values():
            yield _line({
                "type": "user", "key": _user_key(user), "provider": user["provider"],
                "subject": user["subject"], "name": user["name"], "email": user["email"],
                "avatar_url": user["avatar_url"], "profile_url": user["profile_url"],
            })  # fmt: skip

    def comments(self, context: ExportContext, rows: Iterable[Row]) -> Iterator[str]:
        for c in rows:
            thread = context.threads[c["thread_id"]]
            user = context.users.get(c["user_id"]) if c["user_id"] else None
            yield _line({
                "type": "comment", "site": thread["site_id"], "page": thread["page_id"],
                "key": comment_key(c["import_key"], c["id"]),
                "parent": comment_key(c["parent_import_key"], c["parent_id"]),
                "status": c["status"], "created_at": utc_text(c["created_at"]),
                "edited_at": utc_text(c["edited_at"]) or None,
                "name": c["author_name"], "email": c["author_email"], "website": c["author_url"],
                "avatar": c["author_avatar"], "provider": c["author_provider"],
                "user": _user_key(user) if user else None, "ip_address": c["remote_ip"],
                "text": c["body_source"], "html": c["body_html"], "likes": c["like_count"],
                "pinned": c["pinned"],
            })  # fmt: skip

    def likes(self, context: ExportContext, rows: Iterable[Row]) -> Iterator[str]:
        for like in rows:
            thread = context.threads[like["thread_id"]]
            voter = like["voter"]
            if voter.startswith("user:"):  # a user's id means nothing in another database
                user = context.users.get(int(voter.removeprefix("user:")))
                voter = f"user:{_user_key(user)}" if user else voter
            yield _line({
                "type": "like", "site": thread["site_id"], "page": thread["page_id"],
                "comment": comment_key(like["import_key"], like["comment_id"]),
                "voter": voter, "created_at": utc_text(like["created_at"]),
            })  # fmt: skip

    def tail(self, context: ExportContext) -> Iterator[str]:
        return iter(())


def _user_key(user: Row) -> str:
    return f"{user['provider']}:{user['subject']}"


# -- reading --------------------------------------------------------------------------------------


def read(path: Path, site_id: str, bodies: Bodies = IN_PROCESS) -> Iterator[Item]:
    with open_maybe_gzip(path) as source:
        lines = iter(source)
        try:
            header = json.loads(next(lines, b"") or b"null")
        except (ValueError, EOFError, OSError) as exc:
            raise BadFile(f"This is not a widget export: line 1 is not JSON ({exc}).") from exc
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise BadFile('This is not a widget export: line 1 lacks "format": "widget-export".')
        if header.get("version") != VERSION:
            raise BadFile(f"This widget export is version {header.get('version')!r}; this"
                          f" server reads version {VERSION}.")  # fmt: skip
        pages: dict[str, tuple[str, str]] = {}
        users: dict[str, Profile] = {}
        sites = _Sites(site_id)
        number = 1
        try:
            for number, raw in enumerate(lines, start=2):
                item = _record(raw, number, site_id, pages, users, bodies, sites)
                if item is not None:
                    yield item
        except (EOFError, OSError) as exc:
            raise BadFile(f"The file ends early, after line {number} ({exc}).") from exc


class _Sites:
    """Which of the file's sites goes into `site_id`: the one a file holds, whatever it was
    called where it was exported; of several (`widget export` of every site), the one of that
    name. Every site's comments went into the one site before, threads of the same path
    merged."""

    def __init__(self, site_id: str) -> None:
        self.site_id = site_id
        self.listed: list[str] = []  # the "site" records, which come first
        self.kept: str | None = None  # decided at the first record after them; "": all

    def wanted(self, record: dict[str, Any]) -> bool:
        if self.kept is None:
            self.kept = ""
            if len(self.listed) > 1:
                if self.site_id not in self.listed:
                    raise BadFile(
                        f"This file holds the comments of {len(self.listed)} sites"
                        f" ({', '.join(self.listed)}); import them one at a time, each with"
                        f" --site naming it (widget site add it first)."
                    )
                self.kept = self.site_id
        return not self.kept or record.get("site") == self.kept


def _record(
    raw: bytes, number: int, site_id: str, pages: dict[str, tuple[str, str]],
    users: dict[str, Profile], bodies: Bodies, sites: _Sites,
) -> Item | None:  # fmt: skip
    try:
        record = json.loads(raw)
        kind = record["type"]
        if kind == "site":
            sites.listed.append(str(record["id"]))
            return None
        if kind != "user" and not sites.wanted(record):
            return None
        if kind == "thread":
            pages[record["page"]] = (record.get("url", ""), record.get("title", ""))
            page = PageRef(site_id, str(record["page"]), *pages[record["page"]])
            origin = checked_origin(record["origin"]) if "origin" in record else ""
            return ImportedThread(page, parse_iso(record["created_at"]), bool(record["closed"]),
                                  origin)  # fmt: skip
        elif kind == "user":
            users[record["key"]] = Profile(
                record["provider"], record["subject"], record["name"], record.get("email", ""),
                record.get("avatar_url", ""), record.get("profile_url", ""),
            )  # fmt: skip
        elif kind == "comment":
            return _comment(record, site_id, pages, users, bodies)
        elif kind == "like":
            voter = str(record["voter"])
            user = users.get(voter.removeprefix("user:")) if voter.startswith("user:") else None
            if voter.startswith("user:") and user is None:
                return Skip(f"line {number}", "unparsable", f"voter {voter} is not a user here")
            return ImportedLike(record["page"], record.get("comment"), voter,
                                parse_iso(record["created_at"]), user)  # fmt: skip
        return None
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError) as exc:
        # OverflowError: "likes": 1e999; RecursionError: a line of [[[[… nested too deep.
        return Skip(f"line {number}", "unparsable", f"{type(exc).__name__}: {exc}")


def _comment(
    record: dict[str, Any], site_id: str, pages: dict[str, tuple[str, str]],
    users: dict[str, Profile], bodies: Bodies,
) -> ImportedComment:  # fmt: skip
    url, title = pages.get(record["page"], ("", ""))
    page = PageRef(site_id, str(record["page"]), url, title)  # ids as they were: no rewriting
    if record["status"] not in STATUSES:
        raise ValueError(f"status {record['status']!r}")
    edited = record.get("edited_at")
    return ImportedComment(
        key=str(record["key"]), parent_key=record.get("parent"),
        page=page,
        author_name=record.get("name", ""), author_email=record.get("email", ""),
        author_url=safe_website(record.get("website", "")), body_source=record.get("text", ""),
        body_html=bodies.clean(record.get("html", "")), status=record["status"],
        created_at=parse_iso(record["created_at"]), remote_ip=record.get("ip_address", ""),
        like_count=int(record.get("likes", 0)), author_provider=record.get("provider", ""),
        author_avatar=safe_avatar(record.get("avatar", "")),
        user=users.get(record.get("user") or ""),
        edited_at=parse_iso(edited) if edited else None, pinned=bool(record.get("pinned")),
    )  # fmt: skip
