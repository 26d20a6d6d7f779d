"""A published case for the sign-in and header tests, as the report tests build it."""

from tests.reports.conftest import make_published, published, staff  # noqa: F401 - fixtures
