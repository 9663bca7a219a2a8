"""Files shaped as other comment systems write them, made for the porting tests."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

T0 = 1_577_934_245.5  # 2020-01-02T03:04:05.5Z

ISSO_SCHEMA = """
    CREATE TABLE preferences (key VARCHAR PRIMARY KEY, value VARCHAR);
    CREATE TABLE threads (id INTEGER PRIMARY KEY, uri VARCHAR(256) UNIQUE, title VARCHAR(256));
    CREATE TABLE comments (
        tid REFERENCES threads(id), id INTEGER PRIMARY KEY, parent INTEGER,
        created FLOAT NOT NULL, modified FLOAT, mode INTEGER, remote_addr VARCHAR,
        text VARCHAR, author VARCHAR, email VARCHAR, website VARCHAR,
        likes INTEGER DEFAULT 0, dislikes INTEGER DEFAULT 0, voters BLOB NOT NULL,
        notification INTEGER DEFAULT 0);
"""


# (tid, id, parent, created, modified, mode, remote_addr, text, author, email, website, likes)
ISSO_ROWS: list[tuple[object, ...]] = [
    (1, 1, 3, T0, None, 1, "192.168.1.0", "A reply, listed before its parent.", "Grace",
     "grace@example.com", "https://grace.example.com/", 2),
    (1, 2, None, T0 + 60, T0 + 3600, 1, "10.0.0.0", "First! Grüße 👋 — **日本語**",
     "Zoë 🦊 Ångström", None, "javascript://grace.example.com/%0Aalert(1)", 5),
    (1, 3, None, T0 + 120, None, 2, "10.0.1.0",
     "Raw <script>alert('x')</script> and <b onclick=\"steal()\">bold</b>", None, None, None,
     0),
    (1, 4, 3, T0 + 180, None, 4, "10.0.2.0", "", None, None, None, 0),
    (1, 5, 999, T0 + 240, None, 1, "10.0.3.0", "My parent is not in this file.", "Ola",
     "ola@example.com", "", 0),
    (1, 6, None, T0 + 300, None, 3, "10.0.4.0", "A mode Isso does not use.", "Odd", "", "", 0),
    (7, 7, None, T0 + 360, None, 1, "10.0.5.0", "My thread is gone.", "Lost", "", "", 0),
    (1, 8, None, "yesterday", None, 1, "10.0.6.0", "Not a time.", "Clock", "", "", 0),
    (2, 10, None, T0 + 600, None, 1, "", "Level 1", "One", "", "", 0),
    (2, 11, 10, T0 + 601, None, 1, "", "Level 2", "Two", "", "", 0),
    (2, 12, 11, T0 + 602, None, 1, "", "Level 3", "Three", "", "", 0),
    (2, 13, 12, T0 + 603, None, 1, "", "Level 4", "Four", "", "", 0),
    (2, 14, 13, T0 + 604, None, 1, "", "Level 5", "Five", "", "", 0),
]  # fmt: skip


def make_isso_db(path: Path) -> Path:
    """An Isso database as Isso lays it out, built here rather than kept as a binary file."""
    with sqlite3.connect(path) as db:
        db.executescript(ISSO_SCHEMA)
        db.executemany(
            "INSERT INTO threads (id, uri, title) VALUES (?, ?, ?)",
            [(1, "/blog/hello/", "Hello &amp; welcome"), (2, "/blog/deep/", None)],
        )
        db.executemany(
            "INSERT INTO comments (tid, id, parent, created, modified, mode, remote_addr, text,"
            " author, email, website, likes, voters) VALUES (?,?,?,?,?,?,?,?,?,?,?,?, x'00')",
            ISSO_ROWS,
        )
    db.close()
    return path


def many_comments_file(path: Path, count: int) -> Path:
    """widget's own JSON Lines export of the site "blog" holding `count` comments of about a
    kilobyte each on one page: a file that takes a while to import or export again."""
    lines: list[Any] = [
        {"format": "widget-export", "version": 1},
        {"type": "site", "id": "blog", "name": "blog", "origins": ["https://blog.example"],
         "settings": {}},
        {"type": "thread", "site": "blog", "page": "/p/", "url": "https://blog.example/p/",
         "title": "P", "closed": False, "created_at": "2024-05-06T07:08:09Z"},
        *({"type": "comment", "site": "blog", "page": "/p/", "key": str(n), "parent": None,
           "status": "approved", "created_at": "2024-05-06T07:08:09Z", "name": "Ann",
           "text": f"{n} " + "words " * 150} for n in range(count)),
    ]  # fmt: skip
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path
