-- Rebuilds tables (see migrations.REBUILDS_TABLES: run with foreign keys off, checked before
-- commit).
--
-- A row's number is never given again. Without AUTOINCREMENT, SQLite numbers a new row one
-- past the largest there is: once the newest comment was deleted for good (Empty spam, an
-- erased account), the next comment took its number, and whatever still named the old row by
-- its number (an edit token, an emailed link, a job in the outbox, an export's ids, a cache)
-- named the new one. With AUTOINCREMENT, sqlite_sequence keeps the largest number each table
-- ever gave, explicit ones included (a dump loaded with its ids), and new rows go past it.
--
-- Every table whose ids are handed out is rebuilt as https://www.sqlite.org/lang_altertable.html
-- says ("Making Other Kinds Of Table Schema Changes"): the same columns, constraints, foreign
-- keys and indexes, every row with its id. The largest number before this migration is the
-- largest still there: what was given and deleted before it is not known any more (tokens and
-- links carry tokens.row_mark for that).

CREATE TABLE new_threads (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id       TEXT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    page_id       TEXT NOT NULL,
    url           TEXT NOT NULL DEFAULT '',
    title         TEXT NOT NULL DEFAULT '',
    version       INTEGER NOT NULL DEFAULT 1,  -- bumped by every change visible in the thread
    comment_count INTEGER NOT NULL DEFAULT 0,  -- approved comments, replies included
    like_count    INTEGER NOT NULL DEFAULT 0,  -- likes of the post itself
    created_at    REAL NOT NULL,
    closed        INTEGER NOT NULL DEFAULT 0,
    origin        TEXT NOT NULL DEFAULT '',
    root_count    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (site_id, page_id)
) STRICT;
INSERT INTO new_threads (id, site_id, page_id, url, title, version, comment_count, like_count,
    created_at, closed, origin, root_count)
    SELECT id, site_id, page_id, url, title, version, comment_count, like_count,
    created_at, closed, origin, root_count FROM threads;
DROP TABLE threads;
ALTER TABLE new_threads RENAME TO threads;

CREATE TABLE new_users (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO new_users (id, provider, subject, name, email, avatar_url, profile_url, created_at,
    updated_at)
    SELECT id, provider, subject, name, email, avatar_url, profile_url, created_at,
    updated_at FROM users;
DROP TABLE users;
ALTER TABLE new_users RENAME TO users;

CREATE TABLE new_comments (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id       INTEGER NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    parent_id       INTEGER REFERENCES comments (id) ON DELETE CASCADE,
    root_id         INTEGER,  -- top-level ancestor; NULL for top-level comments
    depth           INTEGER NOT NULL CHECK (depth >= 1),
    status          TEXT NOT NULL CHECK (status IN ('approved', 'pending', 'spam', 'deleted')),
    author_name     TEXT NOT NULL,
    author_email    TEXT NOT NULL,
    author_url      TEXT NOT NULL DEFAULT '',
    body_source     TEXT NOT NULL,
    body_html       TEXT NOT NULL,
    notify          INTEGER NOT NULL DEFAULT 0,
    remote_ip       TEXT NOT NULL DEFAULT '',
    like_count      INTEGER NOT NULL DEFAULT 0,
    created_at      REAL NOT NULL,
    edited_at       REAL,
    user_id         INTEGER REFERENCES users (id) ON DELETE SET NULL,
    author_avatar   TEXT NOT NULL DEFAULT '',
    author_provider TEXT NOT NULL DEFAULT '',
    pinned          INTEGER NOT NULL DEFAULT 0,
    held_because    TEXT NOT NULL DEFAULT '',
    fingerprint     TEXT NOT NULL DEFAULT '',
    import_key      TEXT NOT NULL DEFAULT '',
    notify_posts    INTEGER NOT NULL DEFAULT 0,
    lang            TEXT NOT NULL DEFAULT ''
) STRICT;
INSERT INTO new_comments (id, thread_id, parent_id, root_id, depth, status, author_name,
    author_email, author_url, body_source, body_html, notify, remote_ip, like_count,
    created_at, edited_at, user_id, author_avatar, author_provider, pinned, held_because,
    fingerprint, import_key, notify_posts, lang)
    SELECT id, thread_id, parent_id, root_id, depth, status, author_name,
    author_email, author_url, body_source, body_html, notify, remote_ip, like_count,
    created_at, edited_at, user_id, author_avatar, author_provider, pinned, held_because,
    fingerprint, import_key, notify_posts, lang FROM comments;
DROP TABLE comments;
ALTER TABLE new_comments RENAME TO comments;
-- Pages are cut by top-level comment: this index makes any page cost the same.
CREATE INDEX comments_roots ON comments (thread_id, id) WHERE parent_id IS NULL;
CREATE INDEX comments_by_root ON comments (root_id, id) WHERE root_id IS NOT NULL;
CREATE INDEX comments_by_parent ON comments (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX comments_by_user ON comments (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX comments_by_fingerprint ON comments (fingerprint, created_at) WHERE fingerprint <> '';
CREATE INDEX comments_by_email ON comments (lower(author_email));
CREATE INDEX comments_by_status ON comments (status, id);
CREATE INDEX comments_pinned ON comments (thread_id) WHERE pinned = 1;
CREATE UNIQUE INDEX comments_by_import_key ON comments (thread_id, import_key) WHERE import_key <> '';

CREATE TABLE new_bans (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id    TEXT REFERENCES sites (id) ON DELETE CASCADE,  -- NULL: every site
    kind       TEXT NOT NULL CHECK (kind IN ('user', 'email', 'network')),
    value      TEXT NOT NULL,  -- a user id, a lower-cased email, or an IP network
    note       TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
) STRICT;
INSERT INTO new_bans (id, site_id, kind, value, note, created_at)
    SELECT id, site_id, kind, value, note, created_at FROM bans;
DROP TABLE bans;
ALTER TABLE new_bans RENAME TO bans;

CREATE TABLE new_admins (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT NOT NULL UNIQUE,  -- lower-cased
    password_hash TEXT NOT NULL,         -- argon2id, in its PHC string form
    sites         TEXT,                  -- NULL: every site; else a JSON list of site ids
    created_at    REAL NOT NULL
) STRICT;
INSERT INTO new_admins (id, email, password_hash, sites, created_at)
    SELECT id, email, password_hash, sites, created_at FROM admins;
DROP TABLE admins;
ALTER TABLE new_admins RENAME TO admins;

CREATE TABLE new_outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL CHECK (kind IN ('comment', 'email', 'webhook')),
    payload      TEXT NOT NULL,            -- JSON
    attempts     INTEGER NOT NULL DEFAULT 0,
    due_at       REAL NOT NULL,
    locked_until REAL,                     -- taken by a worker until then
    last_error   TEXT NOT NULL DEFAULT '',
    created_at   REAL NOT NULL,
    failed_at    REAL                      -- given up after the last retry; kept to be seen
) STRICT;
INSERT INTO new_outbox (id, kind, payload, attempts, due_at, locked_until, last_error,
    created_at, failed_at)
    SELECT id, kind, payload, attempts, due_at, locked_until, last_error,
    created_at, failed_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE new_outbox RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (due_at) WHERE failed_at IS NULL;

CREATE TABLE new_subscriptions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id    INTEGER NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    email        TEXT NOT NULL,            -- lower-cased
    scope        TEXT NOT NULL DEFAULT 'replies' CHECK (scope IN ('thread', 'replies')),
    created_at   REAL NOT NULL,
    confirmed_at REAL,                     -- NULL until the address owner confirms
    lang         TEXT NOT NULL DEFAULT '',
    UNIQUE (thread_id, email)
) STRICT;
INSERT INTO new_subscriptions (id, thread_id, email, scope, created_at, confirmed_at, lang)
    SELECT id, thread_id, email, scope, created_at, confirmed_at, lang FROM subscriptions;
DROP TABLE subscriptions;
ALTER TABLE new_subscriptions RENAME TO subscriptions;
CREATE INDEX subscriptions_by_email ON subscriptions (email);

CREATE TABLE new_post_subscriptions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id      TEXT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    email        TEXT NOT NULL,            -- lower-cased
    created_at   REAL NOT NULL,
    confirmed_at REAL,                     -- NULL until the address owner confirms
    UNIQUE (site_id, email)
) STRICT;
INSERT INTO new_post_subscriptions (id, site_id, email, created_at, confirmed_at)
    SELECT id, site_id, email, created_at, confirmed_at FROM post_subscriptions;
DROP TABLE post_subscriptions;
ALTER TABLE new_post_subscriptions RENAME TO post_subscriptions;
CREATE INDEX post_subscriptions_by_email ON post_subscriptions (email);

CREATE TABLE new_passkeys (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    public_key    BLOB NOT NULL,
    sign_count    INTEGER NOT NULL,
    transports    TEXT NOT NULL DEFAULT '[]',  -- JSON array: "internal", "usb", "hybrid", …
    name          TEXT NOT NULL,
    created_at    REAL NOT NULL,
    last_used_at  REAL
) STRICT;
INSERT INTO new_passkeys (id, user_id, credential_id, public_key, sign_count, transports, name,
    created_at, last_used_at)
    SELECT id, user_id, credential_id, public_key, sign_count, transports, name,
    created_at, last_used_at FROM passkeys;
DROP TABLE passkeys;
ALTER TABLE new_passkeys RENAME TO passkeys;
CREATE INDEX passkeys_by_user ON passkeys (user_id);
