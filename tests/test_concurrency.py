"""Two people moving one case at once, on two real database connections: one wins, one is told."""

import threading

import pytest
from django.contrib.messages import get_messages
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from tests.factories import make_case, make_user
from verify import services
from verify.models import Case, CaseEvent, ChecklistItem, Verdict
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


def case_two_reviewers_can_propose_on():
    desk = make_user("desk")
    lead, second = make_user("reviewer", username="rafa"), make_user("reviewer", username="rina")
    case = make_case(by=desk, stage="triage")
    services.assign_reviewer(case=case, user=lead, by=desk)
    services.assign_reviewer(case=case, user=second, by=desk, role="second")
    case = services.transition_case(case=case, to="in_review", by=desk)
    for item in case.checklist.all():
        services.answer_checklist_item(item=item, by=lead, status=ChecklistItem.Status.UNKNOWN)
    return case, lead, second


def propose(case, by, summary):
    return services.propose_verdict(
        case=case, by=by, rating="false", confidence="low", summary=summary, rationale="Checked the first upload."
    )


def test_it_tells_the_second_of_two_simultaneous_proposals_that_a_verdict_came_first():
    case, lead, second = case_two_reviewers_can_propose_on()
    seen_by_lead, seen_by_second = Case.objects.get(pk=case.pk), Case.objects.get(pk=case.pk)
    start = threading.Barrier(2)
    results = {}

    def propose_at_once(seen, by):
        start.wait(timeout=10)
        return propose(seen, by, f"by {by.username}")

    threads = [
        run_in_thread(lambda: propose_at_once(seen_by_lead, lead), results, "rafa"),
        run_in_thread(lambda: propose_at_once(seen_by_second, second), results, "rina"),
    ]
    for thread in threads:
        thread.join(timeout=30)

    outcomes = sorted(type(r).__name__ for r in results.values())
    assert outcomes == ["StaleCase", "Verdict"], results
    winner = next(r for r in results.values() if isinstance(r, Verdict))
    loser = next(name for name, r in results.items() if isinstance(r, StaleCase))
    assert str(results[loser]) == (
        f"{winner.author.username} proposed verdict v1 on case #{case.pk} while you were writing yours; "
        "it now awaits an editor. Yours was not saved: reload the case to read theirs."
    )
    assert list(Verdict.objects.filter(case=case).values_list("number", "summary")) == [(1, winner.summary)]
    assert Case.objects.get(pk=case.pk).stage == "awaiting_approval"
    assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.VERDICT_PROPOSED).count() == 1


def test_it_answers_the_second_of_two_simultaneous_proposal_forms_with_a_message_not_an_error():
    case, lead, second = case_two_reviewers_can_propose_on()
    form = {
        "rating": "false",
        "confidence": "low",
        "summary": "Old footage.",
        "rationale": "Found the 2022 upload.",
        "media-TOTAL_FORMS": 0,
        "media-INITIAL_FORMS": 0,
    }
    url = reverse("admin:verify_case_propose_verdict", args=[case.pk])
    start = threading.Barrier(2)
    results = {}

    def post_as(user):
        client = Client(raise_request_exception=False)
        client.force_login(user)
        start.wait(timeout=10)
        response = client.post(url, form)
        return response.status_code, [str(m) for m in get_messages(response.wsgi_request)]

    threads = [
        run_in_thread(lambda: post_as(lead), results, "rafa"),
        run_in_thread(lambda: post_as(second), results, "rina"),
    ]
    for thread in threads:
        thread.join(timeout=30)

    statuses = sorted(status for status, _ in results.values())
    assert statuses == [200, 302], results
    refused = next(messages for status, messages in results.values() if status == 200)
    assert any("while you were writing yours" in m or "already awaits an editor" in m for m in refused), refused
    assert Verdict.objects.filter(case=case).count() == 1
