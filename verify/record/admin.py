"""The record in the desk: fixity passes, stored files and time-stamp tokens, read-only."""

from django.contrib import admin

from verify.record import timestamps
from verify.record.models import FixityCheck, StoredFile, TimestampToken


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


@admin.register(TimestampToken)
class TimestampTokenAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "subject", "short_digest", "what", "status", "gen_time", "authority", "attempts"]
    list_filter = ["subject", "status"]
    search_fields = ["digest", "media_item__original_name", "tsa_url"]
    list_select_related = ["media_item"]
    date_hierarchy = "created_at"
    exclude = ["token"]
    readonly_fields = ["verification"]

    @admin.display(description="digest")
    def short_digest(self, row):
        return f"{row.digest[:12]}…"

    @admin.display(description="stamped")
    def what(self, row):
        if row.media_item_id:
            return row.media_item.original_name
        return "chain heads of every case"

    @admin.display(description="authority")
    def authority(self, row):
        return timestamps.authority_name(row.tsa_url) if row.tsa_url else "—"

    @admin.display(description="check now")
    def verification(self, row):
        if row.status != TimestampToken.Status.STAMPED:
            return row.reason
        return timestamps.check_now(row)[1]
