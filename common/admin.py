from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """For evidence (receipts, audit events, attempts): staff may look, never change."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
