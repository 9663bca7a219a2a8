"""What migration 0014 (every numbered table rebuilt with AUTOINCREMENT) costs at start: a
SQLite database as 0013 left it, with `--comments` comments (a few hundred bytes of text each,
a third of them replies, 1,000 threads, 5,000 accounts, 20,000 likes), opened by the server.

    .venv/bin/python bench/migration_0014.py [--comments 100000]

Prints the file's size, the wall time of the start that applies 0014, and of a start with
nothing to apply (the same database after it), in seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from widget.storage.migrations import migrations
from widget.storage.sqlite import SQLiteStorage

THREADS = 1_000
USERS = 5_000
LIKES = 20_000
TEXT = "Words about the post, and a reply to what someone said before. " * 4


def database_before_0014(path: Path, comments: int) -> None:
    rng = random.Random(14)
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE schema_migrations"
        " (number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    for number, name, sql in migrations("sqlite"):
        if number < 14:
            conn.executescript(sql)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (number, name))
    conn.execute("INSERT INTO sites (id, name, created_at) VALUES ('blog', 'Blog', 0)")
    conn.executemany(
        "INSERT INTO threads (id, site_id, page_id, created_at) VALUES (?, 'blog', ?, 0)",
        [(n, f"/post/{n}/") for n in range(1, THREADS + 1)],
    )
    conn.executemany(
        "INSERT INTO users (id, provider, subject, name, created_at, updated_at)"
        " VALUES (?, 'github', ?, 'Reader', 0, 0)",
        [(n, str(n)) for n in range(1, USERS + 1)],
    )
    rows: list[tuple[Any, ...]] = []
    for n in range(1, comments + 1):
        thread = rng.randrange(1, THREADS + 1)
        parent = n - rng.randrange(1, 50) if n > 50 and rng.random() < 1 / 3 else None
        rows.append((
            n, thread if parent is None else rows[parent - 1][1], parent, parent,
            1 if parent is None else 2, "Reader", f"reader{n % 997}@example.com", TEXT,
            f"<p>{TEXT}</p>", n, rng.choice([None, rng.randrange(1, USERS + 1)]),
        ))  # fmt: skip
    conn.executemany(
        "INSERT INTO comments (id, thread_id, parent_id, root_id, depth, status, author_name,"
        " author_email, body_source, body_html, created_at, user_id)"
        " VALUES (?, ?, ?, ?, ?, 'approved', ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.executemany(
        "INSERT OR IGNORE INTO likes (thread_id, voter, comment_id, created_at)"
        " VALUES (?, ?, ?, 0)",
        [(rows[c][1], f"v{n}", c + 1, ) for n, c in
         ((n, rng.randrange(comments)) for n in range(LIKES))],
    )  # fmt: skip
    conn.commit()
    conn.close()


async def timed_open(path: Path) -> float:
    start = time.perf_counter()
    storage = SQLiteStorage(path)
    await storage.open()
    elapsed = time.perf_counter() - start
    await storage.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "widget.db"
        database_before_0014(path, args.comments)
        print(f"{args.comments:,} comments, {path.stat().st_size / 2**20:.1f} MiB")
        print(f"start applying 0014: {asyncio.run(timed_open(path)):.3f} s")
        print(f"start after it:      {asyncio.run(timed_open(path)):.3f} s")
        conn = sqlite3.connect(path)
        assert conn.execute("SELECT count(*) FROM comments").fetchone()[0] == args.comments
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        conn.close()


if __name__ == "__main__":
    main()
