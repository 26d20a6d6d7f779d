"""Case events are append-only: raw SQL is refused by the database's triggers, the ORM by the model."""

import pytest
from django.db import IntegrityError, connection, transaction

from tests.factories import make_case
from verify.models import CaseEvent
from verify.record import guard
from verify.record.guard import AppendOnlyError

on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")


@pytest.fixture
def event(desk):
    return CaseEvent.objects.filter(case=make_case(by=desk)).get()


def raw_sql(sql, params=()):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_it_installs_the_triggers_with_the_migrations(db):
    expected = {
        "postgresql": ["verify_caseevent_append_only", "verify_caseevent_no_truncate"],
        "sqlite": ["verify_caseevent_no_delete", "verify_caseevent_no_update"],
    }[connection.vendor]
    assert guard.installed(connection) == expected


def test_it_refuses_a_raw_sql_update_of_an_event(event):
    with pytest.raises(IntegrityError, match="append-only: UPDATE on verify_caseevent is refused"):
        raw_sql("UPDATE verify_caseevent SET note = %s WHERE id = %s", ["rewritten", event.pk])
    assert CaseEvent.objects.get(pk=event.pk).note == ""


def test_it_refuses_a_raw_sql_delete_of_an_event(event):
    with pytest.raises(IntegrityError, match="append-only: DELETE on verify_caseevent is refused"):
        raw_sql("DELETE FROM verify_caseevent WHERE id = %s", [event.pk])
    assert CaseEvent.objects.filter(pk=event.pk).exists()


def test_it_refuses_a_raw_sql_update_of_every_event_at_once(event):
    with pytest.raises(IntegrityError, match="append-only"):
        raw_sql("UPDATE verify_caseevent SET actor_id = NULL")


@on_postgresql
def test_it_refuses_truncating_the_events_on_postgresql(event):
    # The test's own transaction holds deferred foreign-key checks, which TRUNCATE would wait for.
    raw_sql("SET CONSTRAINTS ALL IMMEDIATE")
    with pytest.raises(IntegrityError, match="append-only: TRUNCATE on verify_caseevent is refused"):
        raw_sql("TRUNCATE verify_caseevent CASCADE")
    assert CaseEvent.objects.filter(pk=event.pk).exists()


def test_it_still_accepts_new_events_through_raw_sql_free_paths(event, desk):
    from verify import services

    later = services.record_event(case=event.case, kind=CaseEvent.Kind.UPDATED, by=desk, new={"title": "x"})
    assert later.previous_digest == event.digest


def test_it_refuses_saving_an_existing_event(event):
    event.note = "rewritten"
    with pytest.raises(AppendOnlyError, match=f"event #{event.pk} cannot be changed"):
        event.save()


def test_it_refuses_deleting_an_event(event):
    with pytest.raises(AppendOnlyError, match=f"event #{event.pk} cannot be deleted"):
        event.delete()


def test_it_refuses_a_queryset_update(event):
    with pytest.raises(AppendOnlyError, match="update\\(\\) of note would rewrite history"):
        CaseEvent.objects.filter(pk=event.pk).update(note="rewritten")


def test_it_refuses_a_queryset_delete(event):
    with pytest.raises(AppendOnlyError, match="delete\\(\\) would erase history"):
        CaseEvent.objects.filter(pk=event.pk).delete()


def test_it_refuses_a_bulk_update(event):
    event.note = "rewritten"
    with pytest.raises(AppendOnlyError, match="append-only"):
        CaseEvent.objects.bulk_update([event], ["note"])


def test_it_refuses_deleting_a_case_with_history(event):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        event.case.delete()


def test_lifting_the_guard_puts_the_triggers_back(event):
    before = guard.installed(connection)
    with guard.lifted(connection):
        assert guard.installed(connection) == []
    assert guard.installed(connection) == before
