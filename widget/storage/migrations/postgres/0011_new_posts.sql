-- "Notify me of new posts via email": a commenter's wish, kept on the comment (like `notify`)
-- and acted on once the comment is published; the site's subscribers to new posts, with double
-- opt-in; and what the feed poller (widget/notify/new_posts.py) knows of each site's feed.

ALTER TABLE comments ADD COLUMN notify_posts boolean NOT NULL DEFAULT false;

CREATE TABLE post_subscriptions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id      text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    email        text NOT NULL,            -- lower-cased
    created_at   timestamptz NOT NULL,
    confirmed_at timestamptz,              -- NULL until the address owner confirms
    UNIQUE (site_id, email)
);
CREATE INDEX post_subscriptions_by_email ON post_subscriptions (email);

-- The entries of a site's feed already seen (by a digest of their id, guid or link): only
-- entries not in here are new posts.
CREATE TABLE feed_entries (
    site_id    text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    entry_key  text NOT NULL,              -- SHA-256 (hex) of the entry's id, guid or link
    seen_at    timestamptz NOT NULL,
    PRIMARY KEY (site_id, entry_key)
);

-- One row per site with a feed: when to poll it next, who is polling it now (a lease, so that
-- instances sharing the database never poll one feed at once), and the validators of the last
-- answer for a conditional GET. `feed_url` is the address these were learnt from: a new address
-- starts over, its entries recorded without mailing.
CREATE TABLE feed_polls (
    site_id       text PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
    feed_url      text NOT NULL DEFAULT '',
    etag          text NOT NULL DEFAULT '',
    last_modified text NOT NULL DEFAULT '',
    due_at        timestamptz NOT NULL,
    locked_until  timestamptz,
    polled_at     timestamptz,             -- the last poll that got an answer we could read
    last_error    text NOT NULL DEFAULT ''
);
