"""The record that holds up: frozen publications, reopening for corrections, no edit overwritten unseen.

- `frozen`: what may change once a case is published, and which publication the public sees.
- `snapshot`: the document taken at each approval, and the public page's view of it.
- `publishing`: approving into a publication, reopening for a correction or an update,
  and sending a verdict back when a file arrives after it was proposed.
- `versions`: the version token every edit form carries, and the message for a stale save.
- `views`: the editor's "reopen" page.
"""
