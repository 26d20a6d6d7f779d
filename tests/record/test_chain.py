"""Each case's events form a hash chain: a digest over each event's content and the digest before it."""

import threading
from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, models, transaction

from tests.factories import make_case, make_user
from tests.test_concurrency import run_in_thread
from verify import services
from verify.models import CaseEvent
from verify.record import chain, guard


def events_of(case):
    return list(CaseEvent.objects.filter(case=case).order_by("pk"))


def test_it_chains_a_case_from_the_genesis_digest(desk):
    case = make_case(by=desk, stage="triage")
    services.update_case(case=case, by=desk, changes={"title": "A new title"})
    events = events_of(case)
    assert len(events) == 3
    assert events[0].previous_digest == chain.GENESIS
    assert [e.previous_digest for e in events[1:]] == [e.digest for e in events[:-1]]
    assert chain.verify([case.pk]) == (3, 1, [])


def test_it_keeps_one_chain_per_case(desk):
    first, second = make_case(by=desk), make_case(by=desk)
    assert events_of(first)[0].previous_digest == events_of(second)[0].previous_digest == chain.GENESIS
    assert chain.verify() == (2, 2, [])


def test_the_digest_covers_every_field_and_the_previous_digest(desk):
    event = events_of(make_case(by=desk))[0]
    content = chain.content_of(event)
    assert content["previous_digest"] == chain.GENESIS
    assert chain.digest_of(**content) == event.digest
    for name, other in [("note", "x"), ("actor_id", 999), ("kind", "updated"), ("previous_digest", "1" * 64)]:
        assert chain.digest_of(**{**content, name: other}) != event.digest


def test_the_digest_survives_the_database_round_trip(desk):
    case = make_case(by=desk)
    values = {"float": 2.0, "ratio": 0.1, "tiny": 1.5e-7, "big": 10**20, "when": datetime(2024, 5, 1, tzinfo=UTC)}
    services.record_event(
        case=case, kind=CaseEvent.Kind.UPDATED, by=desk, old={"ünïcode": "Курск ☂", "nested": [values]}, new=values
    )
    assert chain.verify([case.pk]) == (2, 1, [])


def test_bulk_created_events_are_chained(desk):
    case = make_case(by=desk)
    CaseEvent.objects.bulk_create([CaseEvent(case=case, kind=CaseEvent.Kind.UPDATED, note=str(n)) for n in range(3)])
    events = events_of(case)
    assert [e.previous_digest for e in events[1:]] == [e.digest for e in events[:-1]]
    assert chain.verify([case.pk])[2] == []


def test_the_database_refuses_a_fork_even_without_the_lock(desk):
    case = make_case(by=desk)
    fork = CaseEvent(case=case, kind=CaseEvent.Kind.UPDATED, previous_digest=chain.GENESIS, digest="f" * 64)
    with pytest.raises(IntegrityError), transaction.atomic():
        models.QuerySet.bulk_create(CaseEvent.objects.all(), [fork])  # past the sealing


def test_it_finds_an_event_changed_behind_the_guard(desk):
    case = make_case(by=desk, stage="triage")
    changed = events_of(case)[1]
    with guard.lifted(connection), connection.cursor() as cursor:
        cursor.execute("UPDATE verify_caseevent SET note = %s WHERE id = %s", ["nothing happened", changed.pk])
    _, _, breaks = chain.verify([case.pk])
    assert [(b.event_id, "was changed after it was written" in b.problem) for b in breaks] == [(changed.pk, True)]


def test_it_finds_an_event_removed_behind_the_guard(desk):
    case = make_case(by=desk, stage="in_review")
    events = events_of(case)
    removed, after = events[2], events[3]
    with guard.lifted(connection), connection.cursor() as cursor:
        cursor.execute("DELETE FROM verify_caseevent WHERE id = %s", [removed.pk])
    _, _, breaks = chain.verify([case.pk])
    assert len(breaks) == 1
    assert breaks[0].event_id == after.pk
    assert "an event was removed, inserted or reordered" in breaks[0].problem


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_connections_writing_to_one_case_at_once_never_fork_its_chain():
    desk = make_user("desk")
    case = make_case(by=desk)
    start, results, per_writer = threading.Barrier(2), {}, 15

    def write(name):
        start.wait(timeout=10)
        for n in range(per_writer):
            with transaction.atomic():
                services.record_event(case=case, kind=CaseEvent.Kind.UPDATED, by=desk, note=f"{name} {n}")
                # Hold the transaction a moment so that the other writer really has to wait.
                threading.Event().wait(0.002)
        return per_writer

    threads = [run_in_thread(lambda: write("a"), results, "a"), run_in_thread(lambda: write("b"), results, "b")]
    for thread in threads:
        thread.join(timeout=60)

    assert results == {"a": per_writer, "b": per_writer}
    events = events_of(case)
    assert len(events) == 1 + 2 * per_writer
    assert {e.note.split()[0] for e in events[1:]} == {"a", "b"}
    assert [e.previous_digest for e in events[1:]] == [e.digest for e in events[:-1]]
    assert chain.verify([case.pk]) == (len(events), 1, [])
