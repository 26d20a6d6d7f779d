"""App configuration for the desk."""

from django.apps import AppConfig


class VerifyConfig(AppConfig):
    name = "verify"
    verbose_name = "Verification desk"
    default_auto_field = "django.db.models.BigAutoField"
