"""What a backend may keep in memory between queries: thread heads, sites, and (when this
process makes every write) rate limits' due times.

Both caches follow the database through two kinds of news: this process's own commits (exact,
applied right after COMMIT) and changes committed elsewhere (another process or instance),
which only say "version N of this thread exists". A read that began before a change was noted
must not overwrite it with what it read: reads carry the generation they started in, and a
thread noted at version N accepts only a head of version N or later.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict

from widget.records import Ban, Site, ThreadHead

__all__ = ["DueTimes", "HeadCache", "SiteCache"]


@dataclasses.dataclass(frozen=True, slots=True)
class _AtLeast:
    """A thread changed elsewhere: the database holds this version or a later one."""

    version: int


class HeadCache:
    """Thread heads by (site id, page id); None stands for "this page has no thread yet"."""

    def __init__(self, max_entries: int = 20_000) -> None:
        self.max_entries = max_entries
        self.generation = 0  # moves on with every clear()
        self.changes = 0  # moves on whenever any entry does: answers built on heads check it
        self._entries: OrderedDict[tuple[str, str], ThreadHead | _AtLeast | None] = OrderedDict()

    def lookup(self, key: tuple[str, str]) -> tuple[bool, ThreadHead | None]:
        """(True, head) when the cache knows the head, (False, None) when it must be read."""
        entry = self._entries.get(key, _AtLeast(0))
        if isinstance(entry, _AtLeast):
            return False, None
        self._entries.move_to_end(key)
        return True, entry

    def fill(self, key: tuple[str, str], head: ThreadHead | None, generation: int) -> None:
        """Keep a head read from the database by a read that began in `generation`."""
        if generation != self.generation:
            return  # the cache was cleared while this read ran: what it read may be stale
        entry = self._entries.get(key)
        read = head.version if head else 0
        if isinstance(entry, _AtLeast) and read < entry.version:
            return  # a change committed meanwhile is newer than this read
        if isinstance(entry, ThreadHead) and read <= entry.version:
            return  # a commit of this process got there first
        self._put(key, head)

    def committed(self, head: ThreadHead) -> None:
        """This process committed `head`: it is the newest there is, unless a later one is."""
        key = (head.site_id, head.page_id)
        entry = self._entries.get(key)
        version = entry.version if isinstance(entry, ThreadHead | _AtLeast) else -1
        if head.version >= version:
            self._put(key, head)

    def changed_elsewhere(self, site_id: str, page_id: str, version: int) -> None:
        """Another writer committed `version` of the thread."""
        key = (site_id, page_id)
        entry = self._entries.get(key)
        known = entry.version if isinstance(entry, ThreadHead | _AtLeast) else 0
        if version > known or (key in self._entries and entry is None):
            self._put(key, _AtLeast(version))

    def clear(self) -> None:
        self._entries.clear()
        self.generation += 1
        self.changes += 1

    def _put(self, key: tuple[str, str], entry: ThreadHead | _AtLeast | None) -> None:
        self.changes += 1
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


class SiteCache:
    """Sites by id (None: no such site), and the bans that apply on each, dropped whenever a
    site or a ban changes anywhere."""

    def __init__(self) -> None:
        self.generation = 0
        self._entries: dict[str, Site | None] = {}
        self._bans: dict[str, list[Ban]] = {}

    def lookup_bans(self, site_id: str) -> list[Ban] | None:
        return self._bans.get(site_id)

    def fill_bans(self, site_id: str, bans: list[Ban], generation: int) -> None:
        if generation == self.generation:
            self._bans[site_id] = bans

    def lookup(self, site_id: str) -> tuple[bool, Site | None]:
        if site_id in self._entries:
            return True, self._entries[site_id]
        return False, None

    def fill(self, site_id: str, site: Site | None, generation: int) -> None:
        if generation == self.generation:
            self._entries[site_id] = site

    def forget(self, site_id: str | None = None) -> None:
        """Drop one site (or all): a read in flight must not put the old one back."""
        if site_id is None:
            self._entries.clear()
            self._bans.clear()
        else:
            self._entries.pop(site_id, None)
            self._bans.pop(site_id, None)
        self.generation += 1


class DueTimes:
    """Rate limits' stored due times (seconds; 0.0 for a key with no row), for a process that
    makes every write that takes from a limit, so that checking a limit before the work of a
    post costs no read.

    A key's due time only grows (each event moves it on; pruning drops only rows whose due
    time has passed, which limit nobody), so what is kept is never later than the database's:
    a check from here can let through what the database would refuse, never refuse what it
    would let through, and the write that counts the event checks again in its transaction.
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.generation = 0  # moves on with every clear()
        self._entries: OrderedDict[str, float] = OrderedDict()

    def lookup(self, keys: list[str]) -> dict[str, float] | None:
        """Every key's due time, or None when any of them must be read."""
        if not all(key in self._entries for key in keys):
            return None
        for key in keys:
            self._entries.move_to_end(key)
        return {key: self._entries[key] for key in keys}

    def fill(self, keys: list[str], stored: dict[str, float], generation: int) -> None:
        """Keep the due times a read that began in `generation` found (none: no row)."""
        if generation == self.generation:
            for key in keys:
                self.committed(key, stored.get(key, 0.0))

    def committed(self, key: str, due_at: float) -> None:
        """A due time committed to the database (a later one kept here stays)."""
        self._entries[key] = max(due_at, self._entries.get(key, 0.0))
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
        self.generation += 1
