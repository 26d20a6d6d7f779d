"""manage.py create_demo_users: one login per desk role for trying the desk locally."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

# username, role, full name. Every demo user's password is DEMO_PASSWORD.
DEMO_USERS = [
    ("desk", "desk", "Dana Desk"),
    ("reviewer", "reviewer", "Rafa Reviewer"),
    ("reviewer2", "reviewer", "Rina Reviewer"),
    ("editor", "editor", "Eli Editor"),
    ("editor2", "editor", "Emma Editor"),
]
DEMO_PASSWORD = "verify-demo"


class Command(BaseCommand):
    help = "Create (or reset) demo users for the desk, reviewer and editor roles and print their logins."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="allow this even with DEBUG off")

    @transaction.atomic
    def handle(self, *args, force: bool, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Demo users have a published password; with DEBUG off, pass --force if you mean it.")
        User = get_user_model()
        groups = {g.name: g for g in Group.objects.filter(name__in={role for _, role, _ in DEMO_USERS})}
        missing = {role for _, role, _ in DEMO_USERS} - set(groups)
        if missing:
            raise CommandError(f"Role group(s) {', '.join(sorted(missing))} missing; run 'manage.py migrate' first.")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, role, full_name in DEMO_USERS:
            first, last = full_name.split(" ", 1)
            user, _ = User.objects.update_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@verify-desk.localhost",
                    "is_staff": True,
                    "is_active": True,
                },
            )
            user.set_password(DEMO_PASSWORD)
            user.save()
            user.groups.set([groups[role]])
            self.stdout.write(f"  {username:<10} role {role:<8} ({full_name})")
