"""The case list's rows: what the desk sees stays as Django's admin draws it, at less cost."""

from django.contrib import admin
from django.contrib.admin import ModelAdmin

from verify.models import Case


def test_it_writes_each_rows_checkbox_as_djangos_widget_does(db):
    case_admin = admin.site._registry[Case]
    case = Case(pk=7, title='He said "<b>staged</b>" & \u202eabc')

    assert case_admin.action_checkbox(case) == ModelAdmin.action_checkbox(case_admin, case)


def test_it_lists_cases_with_a_checkbox_per_row(client, desk, case):
    client.force_login(desk)

    page = client.get("/admin/verify/case/").content.decode()

    assert f'<input type="checkbox" name="_selected_action" value="{case.pk}" class="action-select"' in page
