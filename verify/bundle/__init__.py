"""Evidence bundles: one case's whole record as a BagIt bag that anyone can check without the desk.

- `export`: writes the bag (originals or their hashes, readings, flags, checklist, verdict versions,
  sightings, publications, the chain of events, timestamp tokens and the reports), as a folder or a zip.
- `verify`: checks a bag offline, from its own files alone (no database): the bag manifests, each
  original against the SHA-256 in its name, every event's hash and link, and the timestamp tokens.
- `stamps`: the one seam to the desk's RFC 3161 time-stamping, which a desk may not have.
- `views`: the editors' "Download evidence bundle" button.

`python manage.py export_bundle` and `python manage.py verify_bundle` are the commands.
"""

FORMAT_NAME = "verify-desk/evidence-bundle"
FORMAT_VERSION = 1
