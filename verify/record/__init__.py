"""The record that holds up: the case-event trail that cannot be rewritten, and the stored files that stay checked.

- `guard`: append-only case events, refused by the ORM and by database triggers.
- `chain`: each event's SHA-256 over its content and the event before it, per case.
- `fixity`: re-hashing the stored originals and derived files, and what a mismatch does.
"""
