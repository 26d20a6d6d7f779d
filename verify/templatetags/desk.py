"""Template filters for the desk's one style of times, durations, sizes and names (verify.desk.formats).

A builtin of the desk's templates: `{{ event.at|moment }}`, `{{ seconds|duration }}`,
`{{ item.size|size }}`, `{{ verdict.author|person }}`. Names are people's own text: `person`
returns them isolated (verify.bidi).
"""

from django import template

from verify import bidi
from verify.desk import formats

register = template.Library()


@register.filter
def moment(value, default: str = "—") -> str:
    return formats.moment(value, default=default)


@register.filter
def duration(value, default: str = "—") -> str:
    return formats.duration(value, default=default)


@register.filter
def size(value, default: str = "—") -> str:
    return formats.size(value, default=default)


@register.filter
def person(user, default: str = formats.SYSTEM):
    return bidi.bdi(formats.person(user, default=default))
