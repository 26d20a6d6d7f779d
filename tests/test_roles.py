"""The desk's roles: each group's exact permissions, and every model readable by some role."""

import pytest
from django.apps import apps
from django.contrib.auth.models import Group

READ_ALL = {
    "view_assignment",
    "view_case",
    "view_caseevent",
    "view_casemedia",
    "view_checklistitem",
    "view_extraction",
    "view_fixitycheck",
    "view_flag",
    "view_linkdownload",
    "view_capturejob",
    "view_mediahash",
    "view_mediaitem",
    "view_mediarating",
    "view_publication",
    "view_sighting",
    "view_storedfile",
    "view_tag",
    "view_timestamptoken",
    "view_verdict",
}
OPEN_AND_COLLECT = {
    "add_case",
    "change_case",
    "transition_case",
    "assign_case",
    "add_sighting",
    "change_sighting",
    "add_mediaitem",
    "add_casemedia",
    "add_tag",
}
# The cookie files for capturing posts behind a login: given by the desk and editors, never shown back.
COOKIE_FILES = {"view_platformcookies", "add_platformcookies", "change_platformcookies"}
EXPECTED = {
    "desk": READ_ALL | OPEN_AND_COLLECT | COOKIE_FILES,
    "reviewer": READ_ALL
    | {
        "add_sighting",
        "change_sighting",
        "change_checklistitem",
        "add_verdict",
        "add_mediarating",
        "propose_verdict",
    },
    "editor": READ_ALL
    | OPEN_AND_COLLECT
    | COOKIE_FILES
    | {
        "change_checklistitem",
        "approve_verdict",
        "export_report",
        "view_checklistquestion",
        "add_checklistquestion",
        "change_checklistquestion",
    },
}


def codenames(group: Group) -> set[str]:
    return set(group.permissions.values_list("codename", flat=True))


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_it_gives_each_role_exactly_its_permissions(db, role):
    assert codenames(Group.objects.get(name=role)) == EXPECTED[role]


def test_it_lets_some_role_view_every_model_of_the_desk(db):
    granted = set().union(*(codenames(group) for group in Group.objects.filter(name__in=EXPECTED)))
    models = apps.get_app_config("verify").get_models()
    # A model without a view permission (a person's own notices) is shown to its owner alone.
    viewable = [model for model in models if "view" in model._meta.default_permissions]
    unreadable = sorted({f"view_{model._meta.model_name}" for model in viewable} - granted)
    assert not unreadable, f"No role may view: {unreadable}"
