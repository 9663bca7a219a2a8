-- Moderation: closed threads, pinned comments, why a comment was held, duplicate detection by
-- a fingerprint of the body, and bans.

ALTER TABLE threads ADD COLUMN closed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE comments ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE comments ADD COLUMN held_because TEXT NOT NULL DEFAULT '';
ALTER TABLE comments ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';
CREATE INDEX comments_by_fingerprint ON comments (fingerprint, created_at) WHERE fingerprint <> '';
CREATE INDEX comments_by_email ON comments (lower(author_email));

CREATE TABLE bans (
    id         INTEGER PRIMARY KEY,
    site_id    TEXT REFERENCES sites (id) ON DELETE CASCADE,  -- NULL: every site
    kind       TEXT NOT NULL CHECK (kind IN ('user', 'email', 'network')),
    value      TEXT NOT NULL,  -- a user id, a lower-cased email, or an IP network
    note       TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
) STRICT;
