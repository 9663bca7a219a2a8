"""Where an imported thread came from, kept so that an export can go back there.

A thread's origin (the `threads.origin` column) is a JSON object with one entry per system the
thread was imported from, '' for threads born here:

    {"wordpress": {"post_id": "12", "title": "Tom &amp; Jerry", "link": "https://…/tom/",
                   "post_date": "2024-03-30 23:30:00", "post_date_gmt": "2024-03-30 22:30:00",
                   "post_type": "page", "post_name": "tom", "status": "publish",
                   "offsets": [["2024-03-30T22:45:00Z", 60], ["2024-03-31T10:00:00Z", 120]],
                   "offsets_until": "2024-04-02T08:00:00Z"},
     "disqus": {"id": "8234", "identifier": "528 https://blog.example/?p=528",
                "link": "https://blog.example/2015/hello/", "title": "Hello",
                "created_at": "2015-03-01T10:00:00Z"}}

- WordPress's importer (WP_Import::process_posts) takes a post in the file as one it already
  has when post_exists(title, '', post_date) finds a post of the same post_type: the title and
  the local post_date are kept exactly as the file had them (not unescaped, not trimmed).
- Its comments are matched by comment_exists(author, comment_date), comment_date being the
  blog's local time. The offsets from UTC (minutes) the imported comments showed are kept where
  they changed (summer time), so each imported comment's local date comes back as it was.
- Disqus finds a thread by its identifier (the page's `disqus_identifier`), else by its link.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from widget.porting.export_context import Row, utc_text
from widget.porting.items import parse_iso
from widget.records import origin_json

__all__ = [
    "LocalTimes",
    "Offsets",
    "checked_origin",
    "origin_json",
    "origin_of",
]

SOURCES = ("wordpress", "disqus")
MAX_TEXT_CHARS = 2000  # a title, a link, an identifier: more is not a real one
MAX_OFFSETS = 10_000  # changes of offset in one thread: twice a year for 5,000 years


def origin_of(thread: Row) -> dict[str, dict[str, Any]]:
    """A thread row's origin; one that cannot be read counts as none (the thread is then
    exported as one born here, which is what it would be without the column)."""
    try:
        origin = json.loads(thread.get("origin") or "{}")
        checked_origin(origin)
    except ValueError:
        return {}
    return origin  # type: ignore[no-any-return]


def checked_origin(raw: Any) -> str:
    """An origin read from a file (our own export) as the column's text; raises ValueError
    when it is not the shape above (an import must not store what an export cannot read)."""
    if not isinstance(raw, dict) or not set(raw) <= set(SOURCES):
        raise ValueError(f"origin: expected an object with {' or '.join(SOURCES)}")
    for source, entry in raw.items():
        if not isinstance(entry, dict):
            raise ValueError(f"origin.{source}: expected an object")
        for name, value in entry.items():
            if name == "offsets":
                _check_offsets(value)
            elif not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
                raise ValueError(f"origin.{source}.{name}: expected a short text")
            elif name == "offsets_until":
                parse_iso(value)  # read by every WXR export: it must be a time
    return origin_json(raw)


def _check_offsets(value: Any) -> None:
    if not isinstance(value, list) or len(value) > MAX_OFFSETS:
        raise ValueError("origin.wordpress.offsets: expected a list of [time, minutes]")
    for point in value:
        ok = isinstance(point, list) and len(point) == 2 and isinstance(point[0], str)
        if not ok or not isinstance(point[1], int) or abs(point[1]) > 24 * 60:
            raise ValueError("origin.wordpress.offsets: expected a list of [time, minutes]")
        parse_iso(point[0])


class Offsets:
    """A blog's offsets from UTC over time, as its comments showed them: each change kept."""

    def __init__(self, points: Iterable[tuple[datetime, int]]) -> None:
        changes: list[tuple[datetime, int]] = []
        ordered = sorted(points)
        for moment, minutes in ordered:
            if not changes or changes[-1][1] != minutes:
                changes.append((moment, minutes))
        self.changes = changes
        self.until = ordered[-1][0] if ordered else None  # the last moment seen

    @classmethod
    def of(cls, entry: Mapping[str, Any]) -> Offsets:
        offsets = cls(
            (parse_iso(moment), int(minutes)) for moment, minutes in entry.get("offsets", [])
        )
        if entry.get("offsets_until"):
            offsets.until = parse_iso(entry["offsets_until"])
        return offsets

    def as_entry(self) -> dict[str, Any]:
        if self.until is None:
            return {}
        return {"offsets": [[utc_text(moment), minutes] for moment, minutes in self.changes],
                "offsets_until": utc_text(self.until)}  # fmt: skip

    def covers(self, moment: datetime) -> bool:
        return self.until is not None and moment <= self.until

    def at(self, moment: datetime) -> int | None:
        """Minutes east of UTC at `moment`: the last change before it (the first one for a
        moment before all of them); None when nothing was seen."""
        found = self.changes[0][1] if self.changes else None
        for start, minutes in self.changes:
            if start > moment:
                break
            found = minutes
        return found


class LocalTimes:
    """The blog's local time of a moment, for WordPress's local dates. In order:
    1. a moment an import from WordPress saw in this thread: the offset it had then;
    2. the site's `timezone` setting;
    3. the latest offset an import saw in this thread, else in any thread of the site;
    4. UTC."""

    def __init__(self, zone: ZoneInfo | None, threads: Iterable[Row]) -> None:
        self.zone = zone
        latest: tuple[datetime, int] | None = None
        for thread in threads:
            offsets = self.offsets_of(thread)
            if offsets.until is None or not offsets.changes:
                continue
            if latest is None or offsets.until > latest[0]:
                latest = (offsets.until, offsets.changes[-1][1])
        self.site_minutes = latest[1] if latest else 0

    @staticmethod
    def offsets_of(thread: Row) -> Offsets:
        return Offsets.of(origin_of(thread).get("wordpress", {}))

    def local(self, moment: datetime, offsets: Offsets) -> datetime:
        """`moment` (aware) as the blog's wall-clock time, without a zone."""
        moment = moment.astimezone(UTC)
        minutes = offsets.at(moment) if offsets.covers(moment) else None
        if minutes is None and self.zone is not None:
            return moment.astimezone(self.zone).replace(tzinfo=None)
        if minutes is None:
            minutes = offsets.at(moment)
        if minutes is None:
            minutes = self.site_minutes
        return (moment + timedelta(minutes=minutes)).replace(tzinfo=None)
