-- Abuse controls.

-- A reply form's token posts one comment: the id of a token that did is kept until the token
-- would have expired anyway, in the comment's own transaction.
CREATE TABLE spent_form_tokens (
    token_id   text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX spent_form_tokens_by_expiry ON spent_form_tokens (expires_at);

-- A guest's like keeps the network it came from (a keyed digest of the IPv4 address or IPv6
-- /64, never the address), so that one network counts a bounded number of guest likes per
-- comment. '' for signed-in and imported likes: they are not counted against any network.
ALTER TABLE likes ADD COLUMN network text NOT NULL DEFAULT '';
CREATE INDEX likes_by_network ON likes (thread_id, comment_id, network) WHERE network <> '';

-- Admin sessions and API tokens are now stored under their purpose (widget.auth.admins), so
-- the ones stored before match no lookup: they go. Admins sign in again; API tokens are made
-- again with: widget admin token EMAIL
DELETE FROM admin_sessions;
