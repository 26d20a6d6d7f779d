"""App configuration for signing in."""

from django.apps import AppConfig


class SignInConfig(AppConfig):
    name = "verify.signin"
    label = "signin"
    verbose_name = "Signing in"
