-- A sign-in that failed in the popup (provider unreachable, consent refused, a bad answer):
-- kept for a few minutes under the frame's challenge, so that a frame polling with its verifier
-- (the provider cut the popup off from it) stops with the reason instead of waiting on.

CREATE TABLE sign_in_failures (
    challenge  text PRIMARY KEY,
    message    text NOT NULL,
    expires_at timestamptz NOT NULL
);
