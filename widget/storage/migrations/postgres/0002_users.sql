-- Sign-in: users (one per provider identity), their sessions, single-use login codes, apps
-- registered with providers on the fly (Mastodon instances), and who wrote each comment.

CREATE TABLE users (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider    text NOT NULL,
    subject     text NOT NULL,
    name        text NOT NULL,
    email       text NOT NULL DEFAULT '',  -- verified addresses only; '' when none was given
    avatar_url  text NOT NULL DEFAULT '',
    profile_url text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    UNIQUE (provider, subject)
);

-- Tokens are stored hashed: a copy of the database opens no session.
CREATE TABLE sessions (
    token_hash text PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE TABLE login_codes (
    code_hash  text PRIMARY KEY,
    challenge  text NOT NULL,  -- hash of the verifier the iframe made before the popup opened
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL
);
CREATE INDEX login_codes_by_challenge ON login_codes (challenge);

CREATE TABLE provider_apps (
    provider      text NOT NULL,
    instance      text NOT NULL,
    client_id     text NOT NULL,
    client_secret text NOT NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (provider, instance)
);

ALTER TABLE comments ADD COLUMN user_id bigint REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE comments ADD COLUMN author_avatar text NOT NULL DEFAULT '';
ALTER TABLE comments ADD COLUMN author_provider text NOT NULL DEFAULT '';
CREATE INDEX comments_by_user ON comments (user_id) WHERE user_id IS NOT NULL;
