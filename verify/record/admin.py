"""The record in the desk: fixity passes and stored files, read-only."""

from django.contrib import admin

from verify.record.models import FixityCheck, StoredFile


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(FixityCheck)
class FixityCheckAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at",
        "scope",
        "originals_checked",
        "derived_checked",
        "bytes_checked",
        "problems",
        "seconds",
    ]
    list_filter = ["scope"]
    date_hierarchy = "started_at"

    @admin.display(description="problems")
    def problems(self, check):
        return len(check.findings)


@admin.register(StoredFile)
class StoredFileAdmin(ReadOnlyAdmin):
    list_display = ["path", "role", "sha256", "size", "last_checked_at", "damaged_at"]
    list_filter = ["role", ("damaged_at", admin.EmptyFieldListFilter)]
    search_fields = ["path", "sha256", "media_item__original_name"]
    list_select_related = ["media_item"]
