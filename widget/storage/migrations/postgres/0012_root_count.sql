-- How many top-level comments a thread's readers see (approved ones, and removed ones kept for
-- their approved replies: the rows its pages are cut by), so that page numbers cost no count
-- per request. Kept by every write that changes it, in the same transaction; see
-- widget/storage/threads.py (shown_roots_delta).

ALTER TABLE threads ADD COLUMN root_count integer NOT NULL DEFAULT 0;

UPDATE threads SET root_count = (
    SELECT count(*) FROM comments c WHERE c.thread_id = threads.id AND c.parent_id IS NULL
    AND (c.status = 'approved' OR EXISTS (SELECT 1 FROM comments r WHERE r.root_id = c.id
    AND r.status = 'approved'))
);
