"""Passkeys: the WebAuthn credentials users sign in with, written once for both backends."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from widget.records import Passkey

from .base import Outcome, Refused, columns
from .sql import Db, SQLBackend

__all__ = ["PasskeyQueries"]

_PASSKEY = columns(Passkey)


class PasskeyQueries(SQLBackend):
    async def add_passkey(
        self, user_id: int, credential_id: str, public_key: bytes, sign_count: int,
        transports: Sequence[str], name: str, at: datetime,
    ) -> Passkey:  # fmt: skip
        """Keep a new passkey of `user_id`'s; Refused(PASSKEY_EXISTS) when its credential is
        kept already (for this user or another)."""
        passkey = await self._run(lambda db: db.fetch_record(
            Passkey, "INSERT INTO passkeys (user_id, credential_id, public_key, sign_count,"
            " transports, name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
            f" ON CONFLICT DO NOTHING RETURNING {_PASSKEY}",
            user_id, credential_id, public_key, sign_count, json.dumps(list(transports)), name, at,
        ))  # fmt: skip
        if passkey is None:
            raise Refused(Outcome.PASSKEY_EXISTS)
        return passkey

    async def get_passkey(self, credential_id: str) -> Passkey | None:
        return await self._read_record(
            Passkey, f"SELECT {_PASSKEY} FROM passkeys WHERE credential_id = ?", credential_id
        )

    async def list_passkeys(self, user_id: int) -> list[Passkey]:
        """A user's passkeys, oldest first."""
        return await self._read_records(
            Passkey, f"SELECT {_PASSKEY} FROM passkeys WHERE user_id = ? ORDER BY id", user_id
        )

    async def remove_passkey(self, user_id: int, passkey_id: int) -> bool:
        """Remove one of `user_id`'s passkeys; False when they have none of that id."""
        delete = "DELETE FROM passkeys WHERE id = ? AND user_id = ?"
        return await self._run(lambda db: db.execute(delete, passkey_id, user_id)) > 0

    async def use_passkey(self, credential_id: str, sign_count: int, at: datetime) -> None:
        """Record a sign-in with a passkey whose authenticator now counts `sign_count`.

        The counter must have gone up since the last use, unless the authenticator keeps none
        (0 then and now): compared and set in one statement, so two sign-ins that raced with
        the same count cannot both pass. Refused(PASSKEY_COUNTER_BEHIND) when it did not go
        up (a copy of the credential signed), Refused(NO_PASSKEY) when it was removed."""

        async def op(db: Db) -> None:
            changed = await db.execute(
                "UPDATE passkeys SET sign_count = ?, last_used_at = ? WHERE credential_id = ?"
                " AND (sign_count < ? OR (sign_count = 0 AND ? = 0))",
                sign_count, at, credential_id, sign_count, sign_count,
            )  # fmt: skip
            if changed:
                return
            known = await db.fetch_value(
                "SELECT 1 FROM passkeys WHERE credential_id = ?", credential_id
            )
            raise Refused(Outcome.PASSKEY_COUNTER_BEHIND if known else Outcome.NO_PASSKEY)

        await self._run(op)
