-- Groups are banned rather than deleted, as users are: kept with their
-- history, no longer served, their name free.
ALTER TABLE groups ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
