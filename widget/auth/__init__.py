"""Signed tokens, admin accounts, and commenters' sign-in: providers, the popup flow, sessions."""
