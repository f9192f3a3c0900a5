-- POSIX numbers (RFC 2307): a user's uidNumber and a group's gidNumber are
-- unique; the values themselves live in the records' documents too.
ALTER TABLE users ADD COLUMN uid_number BIGINT;
CREATE UNIQUE INDEX users_uid_number ON users (uid_number);
ALTER TABLE groups ADD COLUMN gid_number BIGINT;
CREATE UNIQUE INDEX groups_gid_number ON groups (gid_number);

-- The next number to hand out per kind ('uid', 'gid'); numbers are
-- reserved in blocks and never handed out twice.
CREATE TABLE posix_counters (
    kind  TEXT PRIMARY KEY,
    next  BIGINT NOT NULL
);
