"""The record that holds up: a trail that cannot be rewritten, stored files that stay checked,
publications that stay frozen, and no edit overwritten unseen.

- `guard`: append-only case events, refused by the ORM and by database triggers.
- `chain`: each event's SHA-256 over its content and the event before it, per case.
- `canonical`: the hashed form of an event and the chain walk, without Django (for checking bundles offline).
- `fixity`: re-hashing the stored originals and derived files, and what a mismatch does.
- `timestamps`: the time-stamping authority's adapter: RFC 3161 tokens for each original and for
  every case's chain head, checked, kept, retried, shown and exported.
- `frozen`: what may change once a case is published, and which publication the public sees.
- `snapshot`: the document taken at each approval, and the public page's view of it.
- `publishing`: approving into a publication, reopening for a correction or an update,
  and sending a verdict back when a file arrives after it was proposed.
- `versions`: the version token every edit form carries, and the message for a stale save.
- `views`: the editor's "reopen" page.
"""
