-- Imports: each imported comment keeps the key it had in the file it came from, so importing
-- the same file again adds nothing and replies find their parents.

ALTER TABLE comments ADD COLUMN import_key TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX comments_by_import_key ON comments (thread_id, import_key) WHERE import_key <> '';
