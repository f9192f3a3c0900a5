-- Users: the writable attributes as one JSON document, plus the columns
-- that identify, order and constrain them.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    user_name     TEXT NOT NULL,
    user_name_lc  TEXT NOT NULL,
    display_name  TEXT,
    external_id   TEXT,
    status        TEXT NOT NULL,
    doc           TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    modified_at   INTEGER NOT NULL,
    version       INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_user_name_lc ON users (user_name_lc);
CREATE INDEX users_external_id ON users (external_id);
CREATE INDEX users_modified_at ON users (modified_at);

-- Searchable attribute values of users (see src/directory/attributes.rs).
CREATE TABLE user_index (
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    attr     TEXT NOT NULL,
    value    TEXT NOT NULL
);
CREATE INDEX user_index_attr_value ON user_index (attr, value);
CREATE INDEX user_index_user ON user_index (user_id);

-- Secrets live apart from the records that are served.
CREATE TABLE credentials (
    user_id        TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    password_hash  TEXT NOT NULL,
    changed_at     INTEGER NOT NULL
);

CREATE TABLE groups (
    id               TEXT PRIMARY KEY,
    display_name     TEXT NOT NULL,
    display_name_lc  TEXT NOT NULL,
    external_id      TEXT,
    doc              TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    modified_at      INTEGER NOT NULL,
    version          INTEGER NOT NULL
);
CREATE UNIQUE INDEX groups_display_name_lc ON groups (display_name_lc);
CREATE INDEX groups_external_id ON groups (external_id);

-- A member is a user or a group; rows are removed with either side.
CREATE TABLE group_members (
    group_id     TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    member_id    TEXT NOT NULL,
    member_kind  TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX group_members_member ON group_members (member_id);

CREATE TABLE scim_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE TABLE audit_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    protocol     TEXT NOT NULL,
    client       TEXT,
    action       TEXT NOT NULL,
    target_kind  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    target_name  TEXT NOT NULL,
    attributes   TEXT NOT NULL
);
CREATE INDEX audit_events_target ON audit_events (target_id);
CREATE INDEX audit_events_at ON audit_events (at);
