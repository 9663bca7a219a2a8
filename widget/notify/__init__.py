"""Telling people: follow-up emails, moderators' notifications and webhooks, all through an
outbox in the database so that a dead mail server never loses or delays a comment."""
