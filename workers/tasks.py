"""Thin Celery tasks: load by id, call a service or selector, record the outcome."""

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="workers.tasks.report_overdue_cases")
def report_overdue_cases() -> list[int]:
    """Log the open cases past their deadline, most urgent first; returns their ids."""
    from verify.selectors import overdue_cases

    overdue = list(overdue_cases().values_list("pk", "title", "deadline"))
    for pk, title, deadline in overdue:
        log.warning("Case #%s is past its deadline (%s): %s", pk, deadline.isoformat(), title)
    return [pk for pk, _, _ in overdue]
