"""Near-duplicate matching at archive scale: the multi-index hash table the lookups search, and the
decision that turns hash candidates into matches (a close hash, or a keypoint check of the pictures)."""
