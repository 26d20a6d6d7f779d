"""The case list's rows: what the desk sees stays as Django's admin draws it, at less cost."""

from django.contrib import admin
from django.contrib.admin import ModelAdmin

from tests.factories import make_case
from verify.models import Case, Tag


def test_it_writes_each_rows_checkbox_as_djangos_widget_does(db):
    case_admin = admin.site._registry[Case]
    case = Case(pk=7, title='He said "<b>staged</b>" & \u202eabc')

    assert case_admin.action_checkbox(case) == ModelAdmin.action_checkbox(case_admin, case)


def test_it_lists_cases_with_a_checkbox_per_row(client, desk, case):
    client.force_login(desk)

    page = client.get("/admin/verify/case/").content.decode()

    assert f'<input type="checkbox" name="_selected_action" value="{case.pk}" class="action-select"' in page


def test_it_offers_the_tags_cases_carry_in_the_tag_filter(client, desk):
    make_case(by=desk, tags=["kursk", "flood"])
    Tag.objects.create(name="never-used")
    client.force_login(desk)

    page = client.get("/admin/verify/case/").content.decode()

    assert "?tags__id__exact=" in page
    assert ">flood</a>" in page and ">kursk</a>" in page
    assert "never-used" not in page
