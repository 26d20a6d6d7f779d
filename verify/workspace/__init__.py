"""The case page as a workspace: header and next moves, flag summary, media gallery, live refresh, work panel."""
