"""Moderation: what keeps a comment section worth reading.

- `screening`: a new comment's verdict (published, held, spam) from the site's rules, bans, the
  form's timing and single use, and Akismet;
- `akismet`: the Akismet client, through the guarded outbound client;
- `actions`: what moderators do afterwards (approve, spam, delete, edit, pin, close, ban).
"""
