-- The first schema: sites with their origins, threads, comments, likes, rate-limit state.

CREATE TABLE sites (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    settings   jsonb NOT NULL DEFAULT '{}',  -- per-site overrides of the defaults
    revision   integer NOT NULL DEFAULT 1,   -- bumped on every change; part of fragment ETags
    created_at timestamptz NOT NULL
);

CREATE TABLE site_origins (
    site_id text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    origin  text NOT NULL,
    PRIMARY KEY (site_id, origin)
);

CREATE TABLE threads (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id       text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    page_id       text NOT NULL,
    url           text NOT NULL DEFAULT '',
    title         text NOT NULL DEFAULT '',
    version       bigint NOT NULL DEFAULT 1,   -- bumped by every change visible in the thread
    comment_count integer NOT NULL DEFAULT 0,  -- approved comments, replies included
    like_count    integer NOT NULL DEFAULT 0,  -- likes of the post itself
    created_at    timestamptz NOT NULL,
    UNIQUE (site_id, page_id)
);

CREATE TABLE comments (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    thread_id    bigint NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    parent_id    bigint REFERENCES comments (id) ON DELETE CASCADE,
    root_id      bigint,  -- top-level ancestor; NULL for top-level comments
    depth        integer NOT NULL CHECK (depth >= 1),
    status       text NOT NULL CHECK (status IN ('approved', 'pending', 'spam', 'deleted')),
    author_name  text NOT NULL,
    author_email text NOT NULL,
    author_url   text NOT NULL DEFAULT '',
    body_source  text NOT NULL,
    body_html    text NOT NULL,
    notify       boolean NOT NULL DEFAULT false,
    remote_ip    text NOT NULL DEFAULT '',
    like_count   integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL,
    edited_at    timestamptz
);

-- Pages are cut by top-level comment: this index makes any page cost the same.
CREATE INDEX comments_roots ON comments (thread_id, id) WHERE parent_id IS NULL;
CREATE INDEX comments_by_root ON comments (root_id, id) WHERE root_id IS NOT NULL;
CREATE INDEX comments_by_parent ON comments (parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE likes (
    thread_id  bigint NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    voter      text NOT NULL,
    comment_id bigint NOT NULL,  -- 0 for a like of the post itself
    created_at timestamptz NOT NULL,
    PRIMARY KEY (thread_id, voter, comment_id)
);

-- Generic cell rate algorithm: one row per key, the earliest time the next event is due
-- (unix seconds), shared by every instance.
CREATE TABLE rate_limits (
    key    text PRIMARY KEY,
    due_at double precision NOT NULL
);
