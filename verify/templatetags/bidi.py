"""Template filters that show user text isolated (see verify.bidi); a builtin of the desk's templates.

`{{ case.title|bdi }}` for text shown among other text; `{{ text|isolate }}` where an element
cannot be used (attributes, <title>) or before `linebreaks`, which escapes and wraps it itself.
"""

from django import template

from verify import bidi

register = template.Library()


@register.filter(is_safe=False)
def isolate(value) -> str:
    return bidi.isolate(str(value)) if value not in (None, "") else value


@register.filter
def bdi(value):
    return bidi.bdi(value)
