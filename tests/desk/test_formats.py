"""One style for times, durations, sizes and people (verify.desk.formats), and its template filters."""

from datetime import UTC, date, datetime, timedelta

from django.template import Context, Template
from django.utils import timezone

from tests.factories import make_user
from verify.desk.formats import duration, moment, person, size

WINTER = datetime(2026, 12, 4, 14, 2, tzinfo=UTC)
SUMMER = datetime(2026, 7, 4, 14, 2, 30, tzinfo=UTC)


def test_it_shows_a_time_in_the_desks_zone_with_the_zone_named():
    assert moment(WINTER) == "4 Dec 2026, 14:02 UTC"
    assert moment(SUMMER) == "4 Jul 2026, 14:02:30 UTC"


def test_it_shows_times_in_the_zone_the_desk_is_set_to(settings):
    settings.TIME_ZONE = "Europe/Kyiv"

    assert moment(WINTER) == "4 Dec 2026, 16:02 EET"
    assert moment(SUMMER) == "4 Jul 2026, 17:02:30 EEST"


def test_it_follows_the_desk_time_zone_variable(monkeypatch):
    import importlib

    from verify import settings as desk_settings

    monkeypatch.setenv("DESK_TIME_ZONE", "America/New_York")
    try:
        assert importlib.reload(desk_settings).TIME_ZONE == "America/New_York"
    finally:
        monkeypatch.delenv("DESK_TIME_ZONE")
        importlib.reload(desk_settings)
    assert desk_settings.TIME_ZONE == "UTC"


def test_it_shows_a_naive_time_as_the_desks_and_nothing_as_a_dash():
    assert moment(datetime(2026, 12, 4, 14, 2)) == "4 Dec 2026, 14:02 UTC"
    assert moment(date(2026, 12, 4)) == "4 Dec 2026"
    assert moment(None) == "—"
    assert moment(None, default="date unknown") == "date unknown"


def test_it_shows_durations_in_one_style():
    assert duration(0.005) == "under 0.1 s"
    assert [duration(s) for s in (0.42, 3, 42.4, 200, 7500, 3 * 86400 + 4 * 3600 + 59)] == [
        "0.4 s",
        "3 s",
        "42 s",
        "3 min 20 s",
        "2 h 5 min",
        "3 d 4 h",
    ]
    assert duration(timedelta(hours=23, minutes=30)) == "23 h 30 min"
    assert duration(None) == "—"


def test_it_shows_sizes_in_decimal_units():
    assert [size(n) for n in (1, 512, 48_213, 2_400_000, 3_500_000_000)] == [
        "1 byte",
        "512 bytes",
        "48.2 kB",
        "2.4 MB",
        "3.5 GB",
    ]


def test_it_names_a_person_by_full_name_and_falls_back_to_the_username(db):
    named = make_user("reviewer", username="rafa", first_name="Rafael", last_name="Ortiz")
    unnamed = make_user("reviewer", username="rina")

    assert person(named) == "Rafael Ortiz"
    assert person(unnamed) == "rina"
    assert person(None) == "system"


def test_it_offers_the_same_styles_as_template_filters(db):
    named = make_user("editor", username="eli", first_name="Eli", last_name="Katz")
    template = Template(
        "{{ at|moment }} · {{ seconds|duration }} · {{ bytes|size }} · {{ who|person }} · {{ nobody|person }}"
    )

    text = template.render(Context({"at": WINTER, "seconds": 200, "bytes": 2_400_000, "who": named, "nobody": None}))

    assert text == "4 Dec 2026, 14:02 UTC · 3 min 20 s · 2.4 MB · Eli Katz · system"


def test_it_isolates_a_name_with_bidi_controls(db):
    tricky = make_user("reviewer", username="x", first_name="abc\u202eexe.gpj")

    assert Template("{{ who|person }}").render(Context({"who": tricky})).startswith("<bdi>")
    assert timezone.is_aware(WINTER)
