"""manage.py unlock_signin: forget the failed sign-ins of accounts or addresses, so they can sign in again."""

from django.core.management.base import BaseCommand, CommandError

from verify.signin.services import unlock_signin
from verify.signin.throttle import counted


class Command(BaseCommand):
    help = "Unlock sign-in for accounts (by username) and/or network addresses after too many failed sign-ins."

    def add_arguments(self, parser):
        parser.add_argument("usernames", nargs="*", metavar="USERNAME")
        parser.add_argument("--address", action="append", default=[], metavar="IP", help="may be repeated")

    def handle(self, *args, usernames: list[str], address: list[str], **options):
        if not usernames and not address:
            raise CommandError("Name at least one username or --address to unlock.")
        for username in usernames:
            forgotten = unlock_signin(by=None, username=username)
            self.stdout.write(f"{username}: unlocked ({counted(forgotten)} forgotten)")
        for ip in address:
            forgotten = unlock_signin(by=None, address=ip)
            self.stdout.write(f"{ip}: unlocked ({counted(forgotten)} forgotten)")
