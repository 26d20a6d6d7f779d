"""SQL pieces the exports read with: `AnyOf`, a filter against many ids, and `IsoTime`, a time as export text.

`field__in=ids` writes one placeholder per id, and with 500 cases (and three times as many files) a chunk,
preparing those placeholders cost an export more than PostgreSQL took to answer. Other databases get IN.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import BooleanField, DateTimeField, Expression, F, Func


class AnyOf(Expression):
    """True where the column `field` holds one of `values` (integers): `.filter(AnyOf("case_id", ids))`."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, field: str, values: Iterable[int]) -> None:
        super().__init__()
        self.column = F(field)
        self.values = [int(value) for value in values]

    def get_source_expressions(self) -> list:
        return [self.column]

    def set_source_expressions(self, expressions: list) -> None:
        (self.column,) = expressions

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False):
        resolved = self.copy()
        resolved.column = self.column.resolve_expression(query, allow_joins, reuse, summarize, for_save)
        return resolved

    def as_sql(self, compiler, connection):
        column, params = compiler.compile(self.column)
        if not self.values:
            return "1 = 0", []
        return f"{column} IN ({', '.join(['%s'] * len(self.values))})", [*params, *self.values]

    def as_postgresql(self, compiler, connection):
        column, params = compiler.compile(self.column)
        # Sent as the array's text: the driver's own list adapter costs more than the query's answer.
        return f"{column} = ANY(%s::bigint[])", [*params, "{" + ",".join(map(str, self.values)) + "}"]


class IsoTime(Func):
    """The time in `field` as `datetime.isoformat()` writes it (`iso_text` turns what a row holds into that text).

    PostgreSQL writes the text itself: a timestamp parsed into a datetime by the driver and written out
    again by Python cost the JSON export a fifth of its time. Elsewhere the row holds the datetime.
    """

    output_field = DateTimeField()
    # As isoformat(): the microseconds only when there are some, and the offset as +00:00.
    UTC_TEXT = (
        "to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        " || CASE WHEN to_char({column}, 'US') = '000000' THEN ''"
        " ELSE to_char({column} AT TIME ZONE 'UTC', '.US') END || '+00:00'"
    )

    def __init__(self, field: str) -> None:
        super().__init__(F(field))

    def as_sql(self, compiler, connection, **extra_context):
        return compiler.compile(self.source_expressions[0])

    def as_postgresql(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.source_expressions[0])
        if connection.timezone_name != "UTC":
            # The driver gives datetimes in the connection's zone, and so does isoformat(): leave it to them.
            return column, params
        return self.UTC_TEXT.format(column=column), params * 3

    def get_db_converters(self, connection):
        return []


def iso_text(value: str | datetime | None) -> str | None:
    """What a report shows for a value read through `IsoTime`: the text, or None where the time is empty."""
    if value is None or value.__class__ is str:
        return value
    return value.isoformat()
