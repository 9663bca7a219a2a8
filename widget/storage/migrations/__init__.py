"""Numbered schema migrations, one folder of SQL files per backend: NNNN_what.sql.

Each backend records the numbers it has applied in `schema_migrations` and applies the rest in
order, each in its own transaction.
"""

from __future__ import annotations

from importlib import resources

__all__ = ["migrations", "split_statements"]


def migrations(backend: str) -> list[tuple[int, str, str]]:
    """(number, name, SQL) of every migration file of `backend`, in order."""
    found = []
    for entry in (resources.files(__name__) / backend).iterdir():
        if entry.name.endswith(".sql"):
            number, _, name = entry.name.removesuffix(".sql").partition("_")
            found.append((int(number), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def split_statements(script: str) -> list[str]:
    """The statements of a migration file (our files hold no ';' inside literals)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]
