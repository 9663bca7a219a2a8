"""Signed-in users and their sessions, admins and theirs, and rate limits, written once."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, TypeVar

from widget.records import Admin, Profile, RateLimit, User

from .base import READINESS_KEY, Outcome, Refused, columns
from .caching import DueTimes
from .sql import Db, SQLBackend, marks

__all__ = ["PRUNE_EVERY_S", "AccountQueries", "mark_ready", "prune_expired", "take_rate_tokens"]

PRUNE_EVERY_S = 300.0  # how often each backend drops rate limits and tokens that decide nothing

_USER, _ADMIN = columns(User), columns(Admin)
# The sessions of signed-in readers and of admins: their table, whose they are (a column of that
# table), and the owners' table with the SELECT list that reads one.
_SESSIONS = {
    User: ("sessions", "user_id", "users", _USER),
    Admin: ("admin_sessions", "admin_id", "admins", _ADMIN),
}
Owner = TypeVar("Owner", User, Admin)


def _json_or_null(values: Sequence[str] | None) -> str | None:
    return json.dumps(list(values)) if values is not None else None


async def take_rate_tokens(
    db: Db, limits: Sequence[RateLimit], at: datetime, due_times: DueTimes | None
) -> None:
    """RateLimit.take against the stored state, for each limit. The upsert returns the stored
    due time (a new key's is `now`, which RateLimit.take treats as it does none) and, on
    PostgreSQL, locks the row until commit, so instances sharing the database take turns.
    The new due times go to `due_times` once committed."""
    now = at.timestamp()
    for limit in limits:
        stored = await db.fetch_value(
            "INSERT INTO rate_limits (key, due_at) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET key = excluded.key RETURNING due_at",
            limit.key, now,
        )  # fmt: skip
        due_at = limit.take(stored, now)
        await db.execute("UPDATE rate_limits SET due_at = ? WHERE key = ?", due_at, limit.key)
        if due_times is not None:
            db.after_commit(functools.partial(due_times.committed, limit.key, due_at))


async def mark_ready(db: Db) -> None:
    await db.execute(
        "INSERT INTO rate_limits (key, due_at) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET due_at = excluded.due_at",
        READINESS_KEY, db.now.timestamp(),
    )  # fmt: skip


async def prune_expired(db: Db) -> None:
    """Housekeeping: drop what no longer decides anything. A rate limit whose due time has
    passed limits nobody; a spent form token past its expiry is refused anyway (and costs
    each comment's write nothing to keep until then)."""
    await db.execute("DELETE FROM rate_limits WHERE due_at < ?", db.now.timestamp())
    await db.execute("DELETE FROM spent_form_tokens WHERE expires_at < ?", db.now)


async def _add_short_lived(
    db: Db, table: str, row: Mapping[str, Any], on_conflict: str = ""
) -> None:
    """Insert `row` into a table of rows kept until their `expires_at` (sessions, codes, ...),
    dropping first those past it: they would only be refused."""
    await db.execute(f"DELETE FROM {table} WHERE expires_at < ?", db.now)
    await db.execute(
        f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks(list(row))}){on_conflict}",
        *row.values(),
    )


class AccountQueries(SQLBackend):
    async def take_rate_limits(self, limits: Sequence[RateLimit], at: datetime) -> None:
        """Count one event against each limit; raises RateLimited (counting none) when any
        has no room."""
        await self._run(lambda db: take_rate_tokens(db, limits, at, self._due_times))

    async def check_rate_limits(self, limits: Sequence[RateLimit], at: datetime) -> None:
        """Raises RateLimited when any limit has no room for one more event right now, counting
        none: for a caller that counts the event later in its own write (add_comment), which
        checks again. A read, unless this process keeps the due times (`_due_times`)."""
        if not limits:
            return
        keys = [limit.key for limit in limits]
        stored = self._due_times.lookup(keys) if self._due_times is not None else None
        if stored is None:
            generation = self._due_times.generation if self._due_times is not None else 0
            async with self._read() as db:
                where, params = db.dialect.one_of("key", keys)
                rows = await db.fetch_all(f"SELECT key, due_at FROM rate_limits WHERE {where}",
                                          *params)  # fmt: skip
            stored = {row["key"]: row["due_at"] for row in rows}  # seconds, as take_rate_tokens'
            if self._due_times is not None:
                self._due_times.fill(keys, stored, generation)
        for limit in limits:
            limit.take(stored.get(limit.key), at.timestamp())

    # -- users --------------------------------------------------------------------------------

    async def upsert_user(self, profile: Profile, at: datetime) -> User:
        """The user for (provider, subject), created or brought up to date from `profile`."""

        user = await self._run(lambda db: db.fetch_record(
            User, "INSERT INTO users (provider, subject, name, email, avatar_url, profile_url,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (provider, subject) DO UPDATE SET name = excluded.name,"
            " email = excluded.email, avatar_url = excluded.avatar_url, profile_url ="
            f" excluded.profile_url, updated_at = excluded.updated_at RETURNING {_USER}",
            profile.provider, profile.subject, profile.name, profile.email, profile.avatar_url,
            profile.profile_url, at, at,
        ))  # fmt: skip
        assert user is not None
        return user

    async def get_user(self, user_id: int) -> User | None:
        return await self._read_record(User, f"SELECT {_USER} FROM users WHERE id = ?", user_id)

    async def add_login_code(
        self, code_hash: str, challenge: str, user_id: int, expires_at: datetime
    ) -> None:
        row = {"code_hash": code_hash, "challenge": challenge, "user_id": user_id,
               "expires_at": expires_at}  # fmt: skip
        await self._run(lambda db: _add_short_lived(db, "login_codes", row))

    async def take_login_code(
        self, code_hash: str | None, challenge: str, now: datetime
    ) -> int | None:
        """Use a login code once: the user id of the unexpired code with this challenge (and
        this hash, when given), which is deleted; None when there is none."""
        user_id: int | None = await self._run(lambda db: db.fetch_value(
            "DELETE FROM login_codes WHERE challenge = ? AND expires_at >= ?"
            " AND (CAST(? AS TEXT) IS NULL OR code_hash = ?) RETURNING user_id",
            challenge, now, code_hash, code_hash,
        ))  # fmt: skip
        return user_id

    async def add_sign_in_failure(self, challenge: str, message: str, expires_at: datetime) -> None:
        """Record why the sign-in of `challenge` failed (replacing an earlier reason)."""
        row = {"challenge": challenge, "message": message, "expires_at": expires_at}
        replace = (" ON CONFLICT (challenge) DO UPDATE SET message = excluded.message,"
                   " expires_at = excluded.expires_at")  # fmt: skip
        await self._run(lambda db: _add_short_lived(db, "sign_in_failures", row, replace))

    async def take_sign_in_failure(self, challenge: str, now: datetime) -> str | None:
        """The unexpired failure of `challenge`, once (it is deleted); None when there is none."""
        message: str | None = await self._run(lambda db: db.fetch_value(
            "DELETE FROM sign_in_failures WHERE challenge = ? AND expires_at >= ?"
            " RETURNING message",
            challenge, now,
        ))  # fmt: skip
        return message

    async def get_provider_app(self, provider: str, instance: str) -> tuple[str, str] | None:
        """(client id, client secret) registered with a provider's instance (Mastodon)."""
        async with self._read() as db:
            row = await db.fetch_one(
                "SELECT client_id, client_secret FROM provider_apps"
                " WHERE provider = ? AND instance = ?",
                provider, instance,
            )  # fmt: skip
        return (row["client_id"], row["client_secret"]) if row else None

    async def add_provider_app(
        self, provider: str, instance: str, client_id: str, client_secret: str
    ) -> tuple[str, str]:
        """Keep an app registration; when one exists already (another instance was quicker),
        that one is kept and returned."""
        row = await self._run(lambda db: db.fetch_one(
            "INSERT INTO provider_apps (provider, instance, client_id, client_secret, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (provider, instance) DO UPDATE"
            " SET provider = excluded.provider RETURNING client_id, client_secret",
            provider, instance, client_id, client_secret, db.now,
        ))  # fmt: skip
        assert row is not None
        return row["client_id"], row["client_secret"]

    # -- admins and their sessions ------------------------------------------------------------

    async def add_admin(
        self, email: str, password_hash: str, sites: Sequence[str] | None, at: datetime
    ) -> Admin:
        """Refused(ADMIN_EXISTS) when an admin has this email address."""
        admin = await self._run(lambda db: db.fetch_record(
            Admin, "INSERT INTO admins (email, password_hash, sites, created_at)"
            f" VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING {_ADMIN}",
            email, password_hash, _json_or_null(sites), at,
        ))  # fmt: skip
        if admin is None:
            raise Refused(Outcome.ADMIN_EXISTS, email)
        return admin

    async def update_admin(
        self, email: str, *, password_hash: str | None = None,
        sites: Sequence[str] | Literal["keep"] | None = "keep",
    ) -> Admin | None:  # fmt: skip
        async def op(db: Db) -> Admin | None:
            if password_hash is not None:  # a new password ends every session
                await db.execute(
                    "DELETE FROM admin_sessions WHERE admin_id ="
                    " (SELECT id FROM admins WHERE email = ?)",
                    email,
                )
            return await db.fetch_record(
                Admin, "UPDATE admins SET password_hash = coalesce(?, password_hash),"
                f" sites = CASE WHEN ? THEN sites ELSE ? END WHERE email = ? RETURNING {_ADMIN}",
                password_hash, sites == "keep", None if sites == "keep" else _json_or_null(sites),
                email,
            )  # fmt: skip

        return await self._run(op)

    async def remove_admin(self, email: str) -> bool:
        delete = "DELETE FROM admins WHERE email = ?"
        return await self._run(lambda db: db.execute(delete, email)) > 0

    async def list_admins(self) -> list[Admin]:
        return await self._read_records(Admin, f"SELECT {_ADMIN} FROM admins ORDER BY email")

    async def get_admin_login(self, email: str) -> tuple[Admin, str] | None:
        """The admin with this email and their password hash."""
        async with self._read() as db:
            row = await db.fetch_one(
                f"SELECT {_ADMIN}, password_hash FROM admins WHERE email = ?", email
            )
            return (db.record(Admin, row), row["password_hash"]) if row else None

    # -- sessions, of users and of admins -----------------------------------------------------

    async def add_session(
        self, owner: type[Owner], token_hash: str, owner_id: int, expires_at: datetime
    ) -> None:
        table, column, _, _ = _SESSIONS[owner]
        row = {"token_hash": token_hash, column: owner_id, "expires_at": expires_at}
        await self._run(lambda db: _add_short_lived(db, table, {**row, "created_at": db.now}))

    async def get_session(self, owner: type[Owner], token_hash: str, now: datetime) -> Owner | None:
        """Whose unexpired session this is; None for nobody's."""
        table, column, owners, read = _SESSIONS[owner]
        return await self._read_record(
            owner, f"SELECT {read} FROM {owners} WHERE id ="
            f" (SELECT {column} FROM {table} WHERE token_hash = ? AND expires_at >= ?)",
            token_hash, now,
        )  # fmt: skip

    async def delete_session(self, owner: type[Owner], token_hash: str) -> None:
        delete = f"DELETE FROM {_SESSIONS[owner][0]} WHERE token_hash = ?"
        await self._run(lambda db: db.execute(delete, token_hash))
