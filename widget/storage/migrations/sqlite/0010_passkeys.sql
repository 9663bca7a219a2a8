-- Passkeys (WebAuthn credentials) a signed-in commenter added to their account, to sign in
-- with later (widget/auth/passkeys.py). The credential id is base64url, as browsers send it;
-- the public key is COSE, as the authenticator made it. The signature counter goes up with
-- each use: one that goes back means a copied credential.

CREATE TABLE passkeys (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    public_key    BLOB NOT NULL,
    sign_count    INTEGER NOT NULL,
    transports    TEXT NOT NULL DEFAULT '[]',  -- JSON array: "internal", "usb", "hybrid", …
    name          TEXT NOT NULL,
    created_at    REAL NOT NULL,
    last_used_at  REAL
) STRICT;
CREATE INDEX passkeys_by_user ON passkeys (user_id);
