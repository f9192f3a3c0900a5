-- Who created and who last changed a record: "protocol:name" of the actor
-- (a token name, a bind DN, a login), served as creatorsName/modifiersName.
ALTER TABLE users ADD COLUMN created_by TEXT;
ALTER TABLE users ADD COLUMN modified_by TEXT;
ALTER TABLE groups ADD COLUMN created_by TEXT;
ALTER TABLE groups ADD COLUMN modified_by TEXT;
