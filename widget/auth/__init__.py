"""Signed tokens now; sessions and sign-in providers later."""
