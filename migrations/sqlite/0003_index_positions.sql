-- Which element of a multi-valued attribute an index row came from, so that
-- value filters such as emails[type eq "work" and value co "@x"] match
-- sub-attributes of the same element.
ALTER TABLE user_index ADD COLUMN pos INTEGER;
