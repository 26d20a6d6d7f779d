"""Two people moving one case at once, on two real database connections: one wins, one is told."""

import threading

import pytest
from django.db import connection, transaction

from tests.factories import make_case, make_user
from verify import services
from verify.models import Case, CaseEvent
from verify.workflow import StaleCase

# serialized_rollback restores the role groups and checklist that migrations create.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def run_in_thread(target, results, name):
    def body():
        try:
            results[name] = target()
        except Exception as exc:  # noqa: BLE001 - the test inspects whatever the thread raised
            results[name] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=body, name=name)
    thread.start()
    return thread


def test_it_lets_exactly_one_of_two_simultaneous_moves_win():
    desk = make_user("desk")
    case = make_case(by=desk, stage="triage")
    seen_by_a, seen_by_b = Case.objects.get(pk=case.pk), Case.objects.get(pk=case.pk)
    start = threading.Barrier(2)
    results = {}

    def move(seen, to, note):
        start.wait(timeout=10)
        return services.transition_case(case=seen, to=to, by=desk, note=note)

    threads = [
        run_in_thread(lambda: move(seen_by_a, "on_hold", "waiting for source"), results, "a"),
        run_in_thread(lambda: move(seen_by_b, "dismissed", "spam"), results, "b"),
    ]
    for thread in threads:
        thread.join(timeout=30)

    outcomes = sorted(type(r).__name__ for r in results.values())
    assert outcomes == ["Case", "StaleCase"]
    winner = next(r for r in results.values() if isinstance(r, Case))
    assert Case.objects.get(pk=case.pk).stage == winner.stage
    assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.STAGE_CHANGED).count() == 2  # new→triage + winner


def test_it_makes_the_second_mover_wait_for_the_first_and_then_refuses_it():
    desk = make_user("desk")
    case = make_case(by=desk, stage="triage")
    stale = Case.objects.get(pk=case.pk)
    first_moved, results = threading.Event(), {}

    def first():
        with transaction.atomic():
            moved = services.transition_case(case=Case.objects.get(pk=case.pk), to="on_hold", by=desk, note="hold")
            first_moved.set()
            # Keep the transaction open while the second mover tries.
            threading.Event().wait(0.5)
        return moved

    def second():
        first_moved.wait(timeout=10)
        return services.transition_case(case=stale, to="dismissed", by=desk, note="spam")

    threads = [run_in_thread(first, results, "first"), run_in_thread(second, results, "second")]
    for thread in threads:
        thread.join(timeout=30)

    assert isinstance(results["first"], Case)
    assert isinstance(results["second"], StaleCase)
    assert "it is now in On hold, you saw Triage" in str(results["second"])
    case.refresh_from_db()
    assert case.stage == "on_hold"
    assert not CaseEvent.objects.filter(case=case, note="spam").exists()
