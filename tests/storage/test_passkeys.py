"""Passkeys in storage, on both backends: kept per user, found by credential, their counter
moved on only upwards (in the statement that checks it), gone with their account."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import schema_before
from widget.records import Profile, User
from widget.refusals import explain
from widget.storage import Outcome, Refused, Storage, storage_for_url

KEY = b"\xa5\x01\x02\x03&"  # stands for a COSE key: storage keeps the bytes as they are


async def user(storage: Storage, subject: str = "ann") -> User:
    return await storage.upsert_user(Profile("github", subject, subject.title()), datetime.now(UTC))


async def test_passkeys_are_kept_per_user_and_found_by_credential(storage: Storage) -> None:
    ann, bob = await user(storage), await user(storage, "bob")
    at = datetime.now(UTC).replace(microsecond=0)
    phone = await storage.add_passkey(ann.id, "cred-1", KEY, 0, ["internal", "hybrid"], "Phone", at)
    laptop = await storage.add_passkey(ann.id, "cred-2", KEY + b"\0", 7, [], "Laptop", at)
    assert (phone.user_id, phone.credential_id, phone.public_key, phone.sign_count) == (
        ann.id, "cred-1", KEY, 0,
    )  # fmt: skip
    assert phone.transports == ("internal", "hybrid") and phone.last_used_at is None
    assert abs(phone.created_at - at) < timedelta(seconds=1)
    assert await storage.get_passkey("cred-2") == laptop
    assert await storage.get_passkey("cred-3") is None
    assert [p.name for p in await storage.list_passkeys(ann.id)] == ["Phone", "Laptop"]
    assert await storage.list_passkeys(bob.id) == []

    with pytest.raises(Refused) as refused:  # one credential, one account
        await storage.add_passkey(bob.id, "cred-1", KEY, 0, [], "Stolen", at)
    assert refused.value.outcome is Outcome.PASSKEY_EXISTS
    assert explain(refused.value).status == 409

    assert await storage.remove_passkey(bob.id, phone.id) is False  # not his
    assert await storage.remove_passkey(ann.id, phone.id) is True
    assert await storage.remove_passkey(ann.id, phone.id) is False
    assert [p.name for p in await storage.list_passkeys(ann.id)] == ["Laptop"]


async def test_the_counter_only_goes_up(storage: Storage) -> None:
    ann = await user(storage)
    now = datetime.now(UTC)
    await storage.add_passkey(ann.id, "counting", KEY, 5, [], "Key", now)
    await storage.add_passkey(ann.id, "no-counter", KEY, 0, [], "Phone", now)

    await storage.use_passkey("counting", 6, now)
    for behind in (6, 3, 0):  # the same count again, less, none: a copy signed
        with pytest.raises(Refused) as refused:
            await storage.use_passkey("counting", behind, now)
        assert refused.value.outcome is Outcome.PASSKEY_COUNTER_BEHIND
        assert explain(refused.value).status == 403
    kept = await storage.get_passkey("counting")
    assert kept is not None and kept.sign_count == 6 and kept.last_used_at is not None

    # An authenticator that keeps no counter says 0 each time (synced passkeys do).
    await storage.use_passkey("no-counter", 0, now)
    await storage.use_passkey("no-counter", 0, now)
    with pytest.raises(Refused) as refused:
        await storage.use_passkey("gone", 1, now)
    assert refused.value.outcome is Outcome.NO_PASSKEY


async def test_two_sign_ins_with_one_count_cannot_both_pass(storage: Storage) -> None:
    ann = await user(storage)
    await storage.add_passkey(ann.id, "raced", KEY, 1, [], "Key", datetime.now(UTC))
    results = await asyncio.gather(
        *(storage.use_passkey("raced", 2, datetime.now(UTC)) for _ in range(2)),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["NoneType", "Refused"]


async def test_an_erased_account_takes_its_passkeys_along(storage: Storage) -> None:
    ann = await user(storage)
    await storage.add_passkey(ann.id, "cred", KEY, 0, [], "Phone", datetime.now(UTC))
    await storage.erase_author(None, ann.id)
    assert await storage.get_passkey("cred") is None


async def test_migration_0010_adds_passkeys_to_the_accounts_there(database_url: str) -> None:
    await schema_before(
        database_url, 10,
        "INSERT INTO users (provider, subject, name, created_at, updated_at)"
        " VALUES ('github', 'old', 'Old', {now}, {now})",
    )  # fmt: skip
    storage = storage_for_url(database_url)
    await storage.open()  # applies 0010
    try:
        old = await storage.upsert_user(Profile("github", "old", "Old"), datetime.now(UTC))
        await storage.add_passkey(old.id, "cred", KEY, 0, [], "Phone", datetime.now(UTC))
        assert [p.name for p in await storage.list_passkeys(old.id)] == ["Phone"]
    finally:
        await storage.close()
