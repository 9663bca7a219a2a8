"""Sites, their origins and the bans that apply on them, written once. Both are read often and
change rarely: they are cached (SiteCache) while the backend can trust its caches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from widget.records import Ban, Site

from .base import Outcome, Refused, columns
from .sql import Db, SQLBackend, marks

__all__ = ["SiteQueries"]


async def _load_site(db: Db, site_id: str) -> Site | None:
    row = await db.fetch_one("SELECT * FROM sites WHERE id = ?", site_id)
    if row is None:
        return None
    origins = await db.fetch_all(
        "SELECT origin FROM site_origins WHERE site_id = ? ORDER BY origin", site_id
    )
    return db.record(Site, row, origins=tuple(o["origin"] for o in origins))


async def _add_origins(db: Db, site_id: str, origins: Sequence[str]) -> None:
    await db.execute_many(
        "INSERT INTO site_origins (site_id, origin) VALUES (?, ?) ON CONFLICT DO NOTHING",
        [(site_id, origin) for origin in origins],
    )


class SiteQueries(SQLBackend):
    async def add_site(
        self, site_id: str, name: str, origins: Sequence[str], settings: Mapping[str, Any]
    ) -> Site:
        async def op(db: Db) -> None:
            added = await db.execute(
                "INSERT INTO sites (id, name, settings, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                site_id, name, db.dialect.json_in(dict(settings)), db.now,
            )  # fmt: skip
            if not added:
                raise Refused(Outcome.SITE_EXISTS, site_id)
            await _add_origins(db, site_id, origins)
            await self._sites_changed(db, site_id)

        try:
            await self._run(op)
        except Refused as refused:
            if refused.outcome is Outcome.SITE_EXISTS:
                # Made elsewhere: what is cached of it is stale. (Here, not in the write,
                # which may run in a thread of its own: the caches belong to the event loop.)
                self._sites.forget(site_id)
            raise
        return await self._site_now(site_id)

    async def get_site(self, site_id: str) -> Site | None:
        if self._caching:
            known, site = self._sites.lookup(site_id)
            if known:
                return site
        generation = self._sites.generation
        async with self._read() as db:
            site = await _load_site(db, site_id)
        if self._caching:
            self._sites.fill(site_id, site, generation)
        return site

    async def list_sites(self) -> list[Site]:
        async with self._read() as db:
            ids = [row["id"] for row in await db.fetch_all("SELECT id FROM sites ORDER BY id")]
            sites = [await _load_site(db, site_id) for site_id in ids]
        return [site for site in sites if site is not None]

    async def update_site(
        self,
        site_id: str,
        *,
        name: str | None = None,
        origins: Sequence[str] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> Site:
        async def op(db: Db) -> None:
            found = await db.execute(
                "UPDATE sites SET revision = revision + 1, name = coalesce(?, name),"
                " settings = coalesce(?, settings) WHERE id = ?",
                name, db.dialect.json_in(dict(settings)) if settings is not None else None,
                site_id,
            )  # fmt: skip
            if not found:
                raise Refused(Outcome.NO_SITE, site_id)
            if origins is not None:
                await db.execute("DELETE FROM site_origins WHERE site_id = ?", site_id)
                await _add_origins(db, site_id, origins)
            await self._sites_changed(db, site_id)

        await self._run(op)
        return await self._site_now(site_id)

    async def remove_site(self, site_id: str) -> bool:
        async def op(db: Db) -> bool:
            removed = await db.execute("DELETE FROM sites WHERE id = ?", site_id)
            await self._sites_changed(db, site_id)
            db.after_commit(self._heads.clear)  # its threads are gone too
            return removed > 0

        return await self._run(op)

    # -- bans ---------------------------------------------------------------------------------

    async def list_bans(self, site_id: str) -> list[Ban]:
        """The bans that apply on a site: its own and those for every site."""
        cached = self._sites.lookup_bans(site_id) if self._caching else None
        if cached is not None:
            return cached
        generation = self._sites.generation
        async with self._read() as db:
            bans = await db.fetch_records(
                Ban, f"SELECT {columns(Ban)} FROM bans WHERE site_id = ? OR site_id IS NULL"
                " ORDER BY id", site_id,
            )  # fmt: skip
        if self._caching:
            self._sites.fill_bans(site_id, bans, generation)
        return bans

    async def add_ban(
        self, site_id: str | None, kind: str, value: str, note: str, at: datetime
    ) -> Ban:
        async def op(db: Db) -> Ban:
            ban = await db.fetch_record(
                Ban, "INSERT INTO bans (site_id, kind, value, note, created_at)"
                f" VALUES (?, ?, ?, ?, ?) RETURNING {columns(Ban)}",
                site_id, kind, value, note, at,
            )  # fmt: skip
            assert ban is not None
            await self._sites_changed(db, None)  # every instance forgets the bans it knew
            return ban

        return await self._run(op)

    async def remove_ban(self, ban_id: int, site_ids: Sequence[str] | None) -> bool:
        """Lift a ban of one of `site_ids` (None: any ban, those of every site included)."""
        if site_ids is not None and not site_ids:
            return False
        theirs = "" if site_ids is None else f" AND site_id IN ({marks(site_ids)})"

        async def op(db: Db) -> bool:
            removed = await db.execute(
                f"DELETE FROM bans WHERE id = ?{theirs}", ban_id, *(site_ids or ())
            )
            if removed:
                await self._sites_changed(db, None)
            return removed > 0

        return await self._run(op)

    async def _site_now(self, site_id: str) -> Site:
        """A site just written, read back (and cached afresh)."""
        site = await self.get_site(site_id)
        assert site is not None
        return site
