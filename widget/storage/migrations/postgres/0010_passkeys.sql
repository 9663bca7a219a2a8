-- Passkeys (WebAuthn credentials) a signed-in commenter added to their account, to sign in
-- with later (widget/auth/passkeys.py). The credential id is base64url, as browsers send it;
-- the public key is COSE, as the authenticator made it. The signature counter goes up with
-- each use: one that goes back means a copied credential.

CREATE TABLE passkeys (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id text NOT NULL UNIQUE,
    public_key    bytea NOT NULL,
    sign_count    bigint NOT NULL,
    transports    text NOT NULL DEFAULT '[]',  -- JSON array: "internal", "usb", "hybrid", …
    name          text NOT NULL,
    created_at    timestamptz NOT NULL,
    last_used_at  timestamptz
);
CREATE INDEX passkeys_by_user ON passkeys (user_id);
