-- Binary values of declared attributes (profile pictures), kept apart from
-- the records, which hold only their digest. Content-addressed: a value
-- stored twice is stored once.
CREATE TABLE blobs (
    digest     TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    data       BLOB NOT NULL
);
