-- Sign-in: users (one per provider identity), their sessions, single-use login codes, apps
-- registered with providers on the fly (Mastodon instances), and who wrote each comment.

CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    provider    TEXT NOT NULL,
    subject     TEXT NOT NULL,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL DEFAULT '',  -- verified addresses only; '' when none was given
    avatar_url  TEXT NOT NULL DEFAULT '',
    profile_url TEXT NOT NULL DEFAULT '',
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    UNIQUE (provider, subject)
) STRICT;

-- Tokens are stored hashed: a copy of the database opens no session.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE login_codes (
    code_hash  TEXT PRIMARY KEY,
    challenge  TEXT NOT NULL,  -- hash of the verifier the iframe made before the popup opened
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at REAL NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX login_codes_by_challenge ON login_codes (challenge);

CREATE TABLE provider_apps (
    provider      TEXT NOT NULL,
    instance      TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    client_secret TEXT NOT NULL,
    created_at    REAL NOT NULL,
    PRIMARY KEY (provider, instance)
) STRICT, WITHOUT ROWID;

ALTER TABLE comments ADD COLUMN user_id INTEGER REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE comments ADD COLUMN author_avatar TEXT NOT NULL DEFAULT '';
ALTER TABLE comments ADD COLUMN author_provider TEXT NOT NULL DEFAULT '';
CREATE INDEX comments_by_user ON comments (user_id) WHERE user_id IS NOT NULL;
