-- Moderation: closed threads, pinned comments, why a comment was held, duplicate detection by
-- a fingerprint of the body, and bans.

ALTER TABLE threads ADD COLUMN closed boolean NOT NULL DEFAULT false;
ALTER TABLE comments ADD COLUMN pinned boolean NOT NULL DEFAULT false;
ALTER TABLE comments ADD COLUMN held_because text NOT NULL DEFAULT '';
ALTER TABLE comments ADD COLUMN fingerprint text NOT NULL DEFAULT '';
CREATE INDEX comments_by_fingerprint ON comments (fingerprint, created_at) WHERE fingerprint <> '';
CREATE INDEX comments_by_email ON comments (lower(author_email));

CREATE TABLE bans (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id    text REFERENCES sites (id) ON DELETE CASCADE,  -- NULL: every site
    kind       text NOT NULL CHECK (kind IN ('user', 'email', 'network')),
    value      text NOT NULL,  -- a user id, a lower-cased email, or an IP network
    note       text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL
);
