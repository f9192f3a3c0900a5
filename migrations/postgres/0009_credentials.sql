-- Earlier passwords of each user, for password.history (the store keeps
-- the newest 24; the policy decides how many count).
CREATE TABLE password_history (
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password_hash  TEXT NOT NULL,
    replaced_at    BIGINT NOT NULL
);
CREATE INDEX password_history_user ON password_history (user_id, replaced_at);

-- Binds made with an expired password (password.grace_logins); a new
-- password starts again from 0.
ALTER TABLE credentials ADD COLUMN grace_used BIGINT NOT NULL DEFAULT 0;

-- TOTP second factor: the confirmed secret, a secret awaiting confirmation
-- at enrolment, and the last time step accepted (a step is used once).
CREATE TABLE totp (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret     TEXT,
    pending    TEXT,
    last_step  BIGINT
);
-- When TOTP was confirmed, on the served record (the MFA state shows it).
ALTER TABLE users ADD COLUMN totp_enrolled_at BIGINT;

-- One-time set-password links (roster user invite): the token is stored
-- hashed (SHA-256); a link is used once, before it expires.
CREATE TABLE invites (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX invites_user ON invites (user_id);
