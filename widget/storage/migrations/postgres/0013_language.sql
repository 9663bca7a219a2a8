-- The language a commenter wrote in (the frame's, a code such as 'fr'; '' before it was kept),
-- and the one a subscriber asked in: their emails (confirmation, follow-ups) are written in it.

ALTER TABLE comments ADD COLUMN lang text NOT NULL DEFAULT '';
ALTER TABLE subscriptions ADD COLUMN lang text NOT NULL DEFAULT '';
