"""The notices pages, behind the desk's sign-in (admin.site.admin_view)."""

from django.contrib import admin
from django.urls import path

from verify.notices import views

urlpatterns = [
    path("", admin.site.admin_view(views.notices_view), name="notices"),
    path("<int:notice_id>/", admin.site.admin_view(views.open_notice_view), name="notice-open"),
    path("read/", admin.site.admin_view(views.mark_read_view), name="notices-read"),
]
