"""One way to show a time, a duration, a size and a person on every page of the desk.

Times are shown in the desk's time zone (settings.TIME_ZONE, set from DESK_TIME_ZONE) with the
zone named: "4 Dec 2026, 14:02 UTC". Templates use the `moment`, `duration`, `size` and `person`
filters (verify.templatetags.desk), Python code these functions.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.utils import timezone

SYSTEM = "system"


def moment(value: datetime | date | None, *, default: str = "—") -> str:
    """A point in time in the desk's zone, with the zone: "4 Dec 2026, 14:02 UTC"."""
    if value is None or value == "":
        return default
    if not isinstance(value, datetime):
        return f"{value.day} {value:%b %Y}"
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    local = timezone.localtime(value)
    seconds = f":{local:%S}" if local.second else ""
    return f"{local.day} {local:%b %Y}, {local:%H:%M}{seconds} {local.tzname()}"


def duration(value: timedelta | float | int | None, *, default: str = "—") -> str:
    """A length of time: "0.4 s", "42 s", "3 min 20 s", "2 h 5 min", "3 d 4 h"."""
    if value is None or value == "":
        return default
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    seconds = abs(seconds)
    if 0 < seconds < 0.05:
        return "under 0.1 s"
    if seconds < 10:
        return f"{seconds:.1f} s".replace(".0 s", " s")
    if seconds < 60:
        return f"{round(seconds)} s"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        parts = [(days, "d"), (hours, "h"), (minutes, "min")]
    elif hours:
        parts = [(hours, "h"), (minutes, "min")]
    else:
        parts = [(minutes, "min"), (secs, "s")]
    return " ".join(f"{number} {unit}" for number, unit in parts if number)


def size(value: int | None, *, default: str = "—") -> str:
    """A file size in decimal units, as people read them: "512 bytes", "48.2 kB", "2.4 MB"."""
    if value is None or value == "":
        return default
    number = float(value)
    if number < 1000:
        return f"{int(number):,} byte{'' if int(number) == 1 else 's'}"
    for unit in ("kB", "MB", "GB", "TB"):
        number /= 1000
        if number < 1000 or unit == "TB":
            return f"{number:,.1f} {unit}".replace(".0 ", " ")
    return f"{value} bytes"  # not reached


def person(user, *, default: str = SYSTEM) -> str:
    """Who someone is, as the desk names them: their full name, or their username without one.

    None (the pipeline, a seed load) is "system".
    """
    if user is None:
        return default
    full = user.get_full_name().strip() if hasattr(user, "get_full_name") else ""
    return full or user.get_username()
