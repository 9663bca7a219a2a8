-- Admin accounts and their sessions; indexes for the moderation queue and pinned comments.

CREATE TABLE admins (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text NOT NULL UNIQUE,  -- lower-cased
    password_hash text NOT NULL,         -- argon2id, in its PHC string form
    sites         text,                  -- NULL: every site; else a JSON list of site ids
    created_at    timestamptz NOT NULL
);

CREATE TABLE admin_sessions (
    token_hash text PRIMARY KEY,
    admin_id   bigint NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE INDEX comments_by_status ON comments (status, id);
CREATE INDEX comments_pinned ON comments (thread_id) WHERE pinned;
