-- The display text a client sent with a member, returned as stored.
ALTER TABLE group_members ADD COLUMN display TEXT;
