"""The data migration chains the events written before the chain existed."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from verify.record import chain, guard

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

BEFORE = [("verify", "0008_link_downloads")]  # the migration before the record's first


def migrate(targets=None):
    """Migrate to `targets`, or to the newest migration of every app when None."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    targets = targets or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_it_chains_existing_events_case_by_case_and_then_guards_them():
    old_apps = migrate(BEFORE)
    try:
        assert guard.installed(connection) == []
        Case, CaseEvent = old_apps.get_model("verify", "Case"), old_apps.get_model("verify", "CaseEvent")
        first, second = Case.objects.create(title="A", claim="a"), Case.objects.create(title="B", claim="b")
        for n, case in enumerate([first, second, first, first, second]):
            CaseEvent.objects.create(case=case, kind="updated", at=timezone.now(), new={"n": n, "x": 1.0})
    finally:
        migrate()
    checked, cases, breaks = chain.verify()
    assert (checked, cases, breaks) == (5, 2, [])
    assert guard.installed(connection)
