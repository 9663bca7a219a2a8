"""Numbered schema migrations, one folder of SQL files per backend: NNNN_what.sql.

Each backend records the numbers it has applied in `schema_migrations` and applies the rest in
order, each in its own transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib import resources

from widget.errors import SetupError

__all__ = ["migrations", "refuse_newer_schema", "split_statements"]


@functools.cache  # the files come with the release: read once per process, not at each open
def migrations(backend: str) -> tuple[tuple[int, str, str], ...]:
    """(number, name, SQL) of every migration file of `backend`, in order."""
    found = []
    for entry in (resources.files(__name__) / backend).iterdir():
        if entry.name.endswith(".sql"):
            number, _, name = entry.name.removesuffix(".sql").partition("_")
            found.append((int(number), name, entry.read_text(encoding="utf-8")))
    return tuple(sorted(found))


def refuse_newer_schema(backend: str, applied: Iterable[int], database: str) -> None:
    """Raise SetupError when `database` carries migrations this version does not know: a newer
    widget has changed its schema, and this one would read and write it wrongly."""
    known = max(number for number, _, _ in migrations(backend))
    newest = max(applied, default=0)
    if newest > known:
        raise SetupError(
            f"{database} has been upgraded by a newer version of widget (its schema is at"
            f" migration {newest:04d}; this version knows up to {known:04d}). Run that newer"
            " version, or restore a backup made before the upgrade."
        )


def split_statements(script: str) -> list[str]:
    """The statements of a migration file (our files hold no ';' inside literals)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]
