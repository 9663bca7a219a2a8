-- Admin accounts and their sessions; indexes for the moderation queue and pinned comments.

CREATE TABLE admins (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,  -- lower-cased
    password_hash TEXT NOT NULL,         -- argon2id, in its PHC string form
    sites         TEXT,                  -- NULL: every site; else a JSON list of site ids
    created_at    REAL NOT NULL
) STRICT;

CREATE TABLE admin_sessions (
    token_hash TEXT PRIMARY KEY,
    admin_id   INTEGER NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
) STRICT;

CREATE INDEX comments_by_status ON comments (status, id);
CREATE INDEX comments_pinned ON comments (thread_id) WHERE pinned = 1;
