"""Signing in: failed sign-ins throttled per account and per address, optional TOTP, security headers."""
