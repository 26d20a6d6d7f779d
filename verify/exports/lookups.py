"""`AnyOf`: a filter on one column against many values, sent to PostgreSQL as a single array parameter.

`field__in=ids` writes one placeholder per id, and with 500 cases (and three times as many files) a chunk,
preparing those placeholders cost an export more than PostgreSQL took to answer. Other databases get IN.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import BooleanField, Expression, F


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
        return f"{column} = ANY(%s::bigint[])", [*params, self.values]
