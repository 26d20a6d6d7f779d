"""Case events are append-only: the ORM refuses to change or delete one, and so does the database.

The triggers are the guard that holds when someone bypasses Django (a shell, a script, a raw
cursor). On PostgreSQL they refuse UPDATE and DELETE row by row and TRUNCATE of the table; on
SQLite they refuse UPDATE and DELETE (SQLite has no TRUNCATE).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import models, transaction

TABLE = "verify_caseevent"
REFUSAL = "Case events are append-only: {op} on verify_caseevent is refused; record a new event instead"

_POSTGRES_FUNCTION = f"""
CREATE OR REPLACE FUNCTION verify_caseevent_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = 'restrict_violation',
        MESSAGE = format('{REFUSAL.format(op="%s")}', TG_OP);
END
$$;
"""
_POSTGRES_TRIGGERS = {
    "verify_caseevent_append_only": f"CREATE TRIGGER verify_caseevent_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION verify_caseevent_append_only()",
    "verify_caseevent_no_truncate": f"CREATE TRIGGER verify_caseevent_no_truncate BEFORE TRUNCATE ON {TABLE} "
    "FOR EACH STATEMENT EXECUTE FUNCTION verify_caseevent_append_only()",
}
_SQLITE_TRIGGERS = {
    f"verify_caseevent_no_{op.lower()}": f"CREATE TRIGGER verify_caseevent_no_{op.lower()} BEFORE {op} ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSAL.format(op=op)}'); END"
    for op in ("UPDATE", "DELETE")
}


class AppendOnlyError(ValueError):
    """Someone tried to change or delete a case event."""


class CaseEventQuerySet(models.QuerySet):
    """Queries over case events: they read and append, never rewrite."""

    def update(self, **kwargs):
        raise AppendOnlyError(
            f"Case events are append-only: update() of {', '.join(sorted(kwargs)) or 'nothing'} would rewrite "
            "history; record a new event instead"
        )

    def delete(self):
        raise AppendOnlyError("Case events are append-only: delete() would erase history; cases are dismissed instead")

    def _raw_delete(self, using):
        raise AppendOnlyError("Case events are append-only: they are never deleted, not even by a cascade")

    def bulk_create(self, objs, *args, **kwargs):
        from verify.record import chain

        objs = list(objs)
        with transaction.atomic(using=self.db):
            chain.seal(objs, using=self.db)
            return super().bulk_create(objs, *args, **kwargs)


def _triggers(connection) -> dict[str, str]:
    if connection.vendor == "postgresql":
        return _POSTGRES_TRIGGERS
    if connection.vendor == "sqlite":
        return _SQLITE_TRIGGERS
    return {}


def install(connection) -> None:
    """Create the triggers that refuse UPDATE and DELETE (and on PostgreSQL TRUNCATE) of case events."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_POSTGRES_FUNCTION)
        for sql in _triggers(connection).values():
            cursor.execute(sql)


def remove(connection) -> None:
    with connection.cursor() as cursor:
        for name in _triggers(connection):
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {TABLE}")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        if connection.vendor == "postgresql":
            cursor.execute("DROP FUNCTION IF EXISTS verify_caseevent_append_only()")


def installed(connection) -> list[str]:
    """Names of the guard's triggers present in the database."""
    names = list(_triggers(connection))
    if not names:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgname = ANY(%s)", [names])
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [TABLE])
        return sorted(row[0] for row in cursor.fetchall() if row[0] in names)


@contextmanager
def lifted(connection) -> Iterator[None]:
    """Drop the triggers for the block and put them back, in one transaction.

    Only for emptying a throwaway test database (the test suite's flush between transactional
    tests, see tests/conftest.py): a live database never needs it, and `manage.py flush` there
    is refused while the record holds events.
    """
    with transaction.atomic(using=connection.alias):
        present = installed(connection)
        if present:
            remove(connection)
        yield
        if present:
            install(connection)
