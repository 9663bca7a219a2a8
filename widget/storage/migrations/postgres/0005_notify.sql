-- Notifications: an outbox of work to do after a commit (a comment to tell people about, an
-- email, a webhook call), and follow-up subscriptions with double opt-in.

CREATE TABLE outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('comment', 'email', 'webhook')),
    payload      text NOT NULL,            -- JSON
    attempts     integer NOT NULL DEFAULT 0,
    due_at       timestamptz NOT NULL,
    locked_until timestamptz,              -- taken by a worker until then
    last_error   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    failed_at    timestamptz               -- given up after the last retry; kept to be seen
);
CREATE INDEX outbox_due ON outbox (due_at) WHERE failed_at IS NULL;

CREATE TABLE subscriptions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    thread_id    bigint NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    email        text NOT NULL,            -- lower-cased
    scope        text NOT NULL DEFAULT 'replies' CHECK (scope IN ('thread', 'replies')),
    created_at   timestamptz NOT NULL,
    confirmed_at timestamptz,              -- NULL until the address owner confirms
    UNIQUE (thread_id, email)
);
CREATE INDEX subscriptions_by_email ON subscriptions (email);
