"""The stored timeline of a video: its frame hashes, SAMPLES_PER_SECOND a second, for placing clips."""

from __future__ import annotations

import numpy as np
from django.db import models
from django.utils import timezone


class VideoTimeline(models.Model):
    """A video's perceptual hashes, one pair (as is, mirrored) per sample, from its video_timeline reading."""

    media_item = models.OneToOneField("verify.MediaItem", on_delete=models.CASCADE, related_name="timeline")
    samples_per_second = models.PositiveSmallIntegerField()
    # Little-endian uint64 pairs, as the extractor's timeline.bin holds them: 16 bytes a sample.
    hashes = models.BinaryField()
    unusable_samples = models.JSONField(default=list, blank=True, help_text="Samples too plain to match.")
    unplaceable_reason = models.TextField(
        blank=True, help_text="Why a clip of this video cannot be placed in another (it hardly changes)."
    )
    stored_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "verify"
        # The workers' index of a video's frames, read through the clip flags it raises, never on its own.
        default_permissions = ()

    def __str__(self) -> str:
        return f"Timeline of {self.media_item_id}: {self.sample_count} samples"

    @property
    def sample_count(self) -> int:
        return len(self.hashes) // 16

    @property
    def duration(self) -> float:
        return self.sample_count / self.samples_per_second

    def as_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(as is, mirrored, usable), one entry per sample."""
        pairs = np.frombuffer(bytes(self.hashes), dtype="<u8").reshape(-1, 2).astype(np.uint64)
        usable = np.ones(len(pairs), dtype=bool)
        usable[[i for i in self.unusable_samples if i < len(pairs)]] = False
        return pairs[:, 0], pairs[:, 1], usable
