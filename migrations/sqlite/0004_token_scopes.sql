-- What a SCIM token may do: admin (everything), read-only, or users (the
-- /Users endpoints only).
ALTER TABLE scim_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin';
