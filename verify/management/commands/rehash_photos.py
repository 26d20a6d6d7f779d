"""Re-read photos hashed by an older perceptual extractor, so that copies of them can be matched by region."""

from django.core.management.base import BaseCommand

from verify import pipeline
from verify.matching import rehash
from verify.models import Extraction


class Command(BaseCommand):
    help = (
        "Make the perceptual readings of photos read by an older extractor version pending again and send them "
        "to the workers (or, with --here, read them in this process). Their region hashes and seen-before flags "
        "follow as after any reading."
    )

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=None, help="at most this many photos")
        parser.add_argument("--here", action="store_true", help="read them in this process instead of sending them")

    def handle(self, *args, limit=None, here=False, **options):
        ids = rehash.queue_rehash(limit=limit)
        if here:
            for extraction_id in ids:
                pipeline.run_extraction(extraction_id)
            self.stdout.write(f"Re-read {len(ids)} photo(s) here.")
            return
        sent = pipeline.send_extractions(Extraction.objects.filter(pk__in=ids))
        self.stdout.write(
            f"{len(ids)} photo(s) to re-read; {sent} sent to the workers (the stalled-extraction sweep sends the rest)."
        )
