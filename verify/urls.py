"""URL routes: the desk lives in the admin; a health check for load balancers."""

from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from verify import views

admin.site.site_header = "Verify Desk"
admin.site.site_title = "Verify Desk"
admin.site.index_title = "Verification desk"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
