"""Re-hash every stored original and derived file, verify every case's event chain and every time-stamp token."""

from django.core.management.base import BaseCommand, CommandError

from verify.intake import human_bytes
from verify.record import fixity, timestamps


class Command(BaseCommand):
    help = (
        "Re-hash every stored original and derived file against its recorded SHA-256 and verify each case's "
        "chain of events and every stored time-stamp token. Prints what it checked; exits 1 naming each mismatch, "
        "broken link or bad token."
    )

    def handle(self, *args, **options):
        check = fixity.check_everything()
        rate = check.bytes_checked / 1e6 / check.seconds if check.seconds else 0.0
        self.stdout.write(
            f"Checked {check.originals_checked:,} originals and {check.derived_checked:,} derived files "
            f"({human_bytes(check.bytes_checked)}) and {check.events_checked:,} events in {check.cases_checked:,} "
            f"case chains in {check.seconds:.2f} s ({rate:.1f} MB/s)."
        )
        for finding in check.findings:
            self.stdout.write(fixity.describe(finding))
        if not check.findings:
            self.stdout.write("Every file and every chain is intact.")
        bad_tokens = self._check_tokens()
        if check.findings or bad_tokens:
            raise CommandError(
                f"{len(check.findings) + bad_tokens} problem(s) found; damaged files are flagged on their cases "
                "and not served, bad time-stamp tokens are named above",
                returncode=1,
            )

    def _check_tokens(self) -> int:
        """Re-verify the stored time-stamp tokens; how many are bad."""
        try:
            checked, problems = timestamps.check_stored()
        except timestamps.NotStamped as exc:
            self.stdout.write(f"Note: {exc}.")
            return 0
        self.stdout.write(f"Re-verified {checked:,} time-stamp token(s).")
        for problem in problems:
            self.stdout.write(problem)
        return len(problems)
