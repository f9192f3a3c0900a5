-- What the server keeps about an account's logins (directory::policy):
-- failures counted atomically, the lock, the last login (to the configured
-- precision) and the last re-validation by an administrator.
ALTER TABLE users ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN last_failure_at INTEGER;
ALTER TABLE users ADD COLUMN locked_at INTEGER;
ALTER TABLE users ADD COLUMN last_login_at INTEGER;
ALTER TABLE users ADD COLUMN revalidated_at INTEGER;
CREATE INDEX users_status ON users (status);
