"""Unlocking sign-in from the admin's list of users (axes' own "Access attempts" list shows who is locked)."""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from verify.signin.services import unlock_signin
from verify.signin.throttle import counted

User = get_user_model()


@admin.action(description="Unlock sign-in (forget failed sign-ins)", permissions=["change"])
def unlock_selected(modeladmin, request, queryset):
    for user in queryset:
        forgotten = unlock_signin(by=request.user, username=user.get_username())
        modeladmin.message_user(
            request,
            f"Sign-in unlocked for {user.get_username()}: {counted(forgotten)} forgotten.",
            messages.SUCCESS,
        )


class DeskUserAdmin(UserAdmin):
    actions = [*UserAdmin.actions, unlock_selected]


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, DeskUserAdmin)
