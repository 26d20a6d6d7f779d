"""manage.py capture URL... --case ID: capture posts (media, facts, screenshot, PDF, web archive) into a case."""

import sys

from django.core.management.base import BaseCommand

from verify.capture import jobs
from verify.intake import IntakeError
from verify.management.arguments import case_and_user
from verify.models import CaptureJob
from verify.workflow import WorkflowError

BAR_WIDTH = 20
STEP_COUNT = 5


class Command(BaseCommand):
    help = "Capture posts from their links into a case, here and now (or on the workers with --queue)."

    def add_arguments(self, parser):
        parser.add_argument("urls", nargs="+", help="links to posts")
        parser.add_argument("--case", type=int, required=True, help="the case number")
        parser.add_argument("--as", dest="username", help="the desk user capturing the posts (custody)")
        parser.add_argument("--queue", action="store_true", help="send the captures to the workers instead")

    def handle(self, *args, urls, case, username, queue, **options):
        target, user = case_and_user(case, username)
        done = []
        for url in urls:
            try:
                job = jobs.queue_capture(case=target, url=url, by=user, trigger="command", send_now=queue)
            except (IntakeError, WorkflowError) as exc:
                self.stdout.write(f"{url}: refused: {exc}")
                continue
            if queue:
                self.stdout.write(f"{url}: queued as capture #{job.pk}")
                continue
            jobs.run_capture(job.pk, on_progress=self._bar(url))
            self.stdout.write("")
            job.refresh_from_db()
            done.append(job)
        self._summary(done)

    def _bar(self, url: str):
        interactive = self.stdout.isatty() if hasattr(self.stdout, "isatty") else sys.stdout.isatty()

        def show(line: str, step: int) -> None:
            filled = BAR_WIDTH * step // STEP_COUNT
            text = f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {url[:60]}: {line}"
            self.stdout.write(
                ("\r" + text[:150].ljust(150)) if interactive else text, ending="" if interactive else "\n"
            )
            self.stdout.flush()

        return show

    def _summary(self, done: list[CaptureJob]) -> None:
        if not done:
            return
        self.stdout.write("Summary:")
        for job in done:
            self.stdout.write(f"  #{job.pk} {job.url}: {job.get_status_display()}")
            for step, outcome in job.steps.items():
                self.stdout.write(f"    {step:<10} {outcome['outcome']:<11} {outcome['reason']}")
            for change in job.changes:
                self.stdout.write(f"    CHANGED    {change}")
        ok = sum(job.status == CaptureJob.Status.DONE for job in done)
        self.stdout.write(f"{ok} of {len(done)} capture(s) kept something; every step's outcome is listed above.")
