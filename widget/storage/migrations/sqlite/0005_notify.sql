-- Notifications: an outbox of work to do after a commit (a comment to tell people about, an
-- email, a webhook call), and follow-up subscriptions with double opt-in.

CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('comment', 'email', 'webhook')),
    payload      TEXT NOT NULL,            -- JSON
    attempts     INTEGER NOT NULL DEFAULT 0,
    due_at       REAL NOT NULL,
    locked_until REAL,                     -- taken by a worker until then
    last_error   TEXT NOT NULL DEFAULT '',
    created_at   REAL NOT NULL,
    failed_at    REAL                      -- given up after the last retry; kept to be seen
) STRICT;
CREATE INDEX outbox_due ON outbox (due_at) WHERE failed_at IS NULL;

CREATE TABLE subscriptions (
    id           INTEGER PRIMARY KEY,
    thread_id    INTEGER NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    email        TEXT NOT NULL,            -- lower-cased
    scope        TEXT NOT NULL DEFAULT 'replies' CHECK (scope IN ('thread', 'replies')),
    created_at   REAL NOT NULL,
    confirmed_at REAL,                     -- NULL until the address owner confirms
    UNIQUE (thread_id, email)
) STRICT;
CREATE INDEX subscriptions_by_email ON subscriptions (email);
