"""URL routes: the desk lives in the admin; evidence files behind a login; a health check."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from verify import views
from verify.reports.public import public_verdict
from verify.signin.forms import SignInForm
from verify.signin.views import two_factor

admin.site.site_header = "Verify Desk"
admin.site.site_title = "Verify Desk"
admin.site.index_title = "Verification desk"
admin.site.login_form = SignInForm
admin.site.login_template = "signin/login.html"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("healthz", views.healthz, name="healthz"),
    path("desk/media/<str:sha256>/original", views.media_original, name="media-original"),
    path("desk/media/<str:sha256>/<str:extractor>/<str:name>", views.media_artifact, name="media-artifact"),
    path("verdicts/<int:case_id>/", public_verdict, name="public-verdict"),
    path("admin/two-factor/", two_factor, name="signin-two-factor"),
    path("admin/notices/", include("verify.notices.urls")),
    path("admin/", admin.site.urls),
]
