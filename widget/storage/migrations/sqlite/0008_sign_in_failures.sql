-- A sign-in that failed in the popup (provider unreachable, consent refused, a bad answer):
-- kept for a few minutes under the frame's challenge, so that a frame polling with its verifier
-- (the provider cut the popup off from it) stops with the reason instead of waiting on.

CREATE TABLE sign_in_failures (
    challenge  TEXT PRIMARY KEY,
    message    TEXT NOT NULL,
    expires_at REAL NOT NULL
) STRICT, WITHOUT ROWID;
