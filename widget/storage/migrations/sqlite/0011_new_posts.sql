-- "Notify me of new posts via email": a commenter's wish, kept on the comment (like `notify`)
-- and acted on once the comment is published; the site's subscribers to new posts, with double
-- opt-in; and what the feed poller (widget/notify/new_posts.py) knows of each site's feed.

ALTER TABLE comments ADD COLUMN notify_posts INTEGER NOT NULL DEFAULT 0;

CREATE TABLE post_subscriptions (
    id           INTEGER PRIMARY KEY,
    site_id      TEXT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    email        TEXT NOT NULL,            -- lower-cased
    created_at   REAL NOT NULL,
    confirmed_at REAL,                     -- NULL until the address owner confirms
    UNIQUE (site_id, email)
) STRICT;
CREATE INDEX post_subscriptions_by_email ON post_subscriptions (email);

-- The entries of a site's feed already seen (by a digest of their id, guid or link): only
-- entries not in here are new posts.
CREATE TABLE feed_entries (
    site_id    TEXT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    entry_key  TEXT NOT NULL,              -- SHA-256 (hex) of the entry's id, guid or link
    seen_at    REAL NOT NULL,
    PRIMARY KEY (site_id, entry_key)
) STRICT, WITHOUT ROWID;

-- One row per site with a feed: when to poll it next, who is polling it now (a lease, so that
-- instances sharing the database never poll one feed at once), and the validators of the last
-- answer for a conditional GET. `feed_url` is the address these were learnt from: a new address
-- starts over, its entries recorded without mailing.
CREATE TABLE feed_polls (
    site_id       TEXT PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
    feed_url      TEXT NOT NULL DEFAULT '',
    etag          TEXT NOT NULL DEFAULT '',
    last_modified TEXT NOT NULL DEFAULT '',
    due_at        REAL NOT NULL,
    locked_until  REAL,
    polled_at     REAL,                    -- the last poll that got an answer we could read
    last_error    TEXT NOT NULL DEFAULT ''
) STRICT, WITHOUT ROWID;
