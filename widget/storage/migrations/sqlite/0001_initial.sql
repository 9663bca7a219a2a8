-- The first schema: sites with their origins, threads, comments, likes, rate-limit state.
-- Times are unix seconds (REAL, UTC).

CREATE TABLE sites (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    settings   TEXT NOT NULL DEFAULT '{}',  -- JSON object: per-site overrides of the defaults
    revision   INTEGER NOT NULL DEFAULT 1,  -- bumped on every change; part of fragment ETags
    created_at REAL NOT NULL
) STRICT;

CREATE TABLE site_origins (
    site_id TEXT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    origin  TEXT NOT NULL,
    PRIMARY KEY (site_id, origin)
) STRICT, WITHOUT ROWID;

CREATE TABLE threads (
    id            INTEGER PRIMARY KEY,
    site_id       TEXT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    page_id       TEXT NOT NULL,
    url           TEXT NOT NULL DEFAULT '',
    title         TEXT NOT NULL DEFAULT '',
    version       INTEGER NOT NULL DEFAULT 1,  -- bumped by every change visible in the thread
    comment_count INTEGER NOT NULL DEFAULT 0,  -- approved comments, replies included
    like_count    INTEGER NOT NULL DEFAULT 0,  -- likes of the post itself
    created_at    REAL NOT NULL,
    UNIQUE (site_id, page_id)
) STRICT;

CREATE TABLE comments (
    id           INTEGER PRIMARY KEY,
    thread_id    INTEGER NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    parent_id    INTEGER REFERENCES comments (id) ON DELETE CASCADE,
    root_id      INTEGER,  -- top-level ancestor; NULL for top-level comments
    depth        INTEGER NOT NULL CHECK (depth >= 1),
    status       TEXT NOT NULL CHECK (status IN ('approved', 'pending', 'spam', 'deleted')),
    author_name  TEXT NOT NULL,
    author_email TEXT NOT NULL,
    author_url   TEXT NOT NULL DEFAULT '',
    body_source  TEXT NOT NULL,
    body_html    TEXT NOT NULL,
    notify       INTEGER NOT NULL DEFAULT 0,
    remote_ip    TEXT NOT NULL DEFAULT '',
    like_count   INTEGER NOT NULL DEFAULT 0,
    created_at   REAL NOT NULL,
    edited_at    REAL
) STRICT;

-- Pages are cut by top-level comment: this index makes any page cost the same.
CREATE INDEX comments_roots ON comments (thread_id, id) WHERE parent_id IS NULL;
CREATE INDEX comments_by_root ON comments (root_id, id) WHERE root_id IS NOT NULL;
CREATE INDEX comments_by_parent ON comments (parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE likes (
    thread_id  INTEGER NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    voter      TEXT NOT NULL,
    comment_id INTEGER NOT NULL,  -- 0 for a like of the post itself
    created_at REAL NOT NULL,
    PRIMARY KEY (thread_id, voter, comment_id)
) STRICT, WITHOUT ROWID;

-- Generic cell rate algorithm: one row per key, the earliest time the next event is due.
CREATE TABLE rate_limits (
    key      TEXT PRIMARY KEY,
    due_at   REAL NOT NULL
) STRICT, WITHOUT ROWID;
