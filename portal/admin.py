from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from portal.models import PortalSettings


@admin.register(PortalSettings)
class PortalSettingsAdmin(admin.ModelAdmin):
    """A singleton: the list page goes straight to the one row."""

    fields = ("name", "logo", "accent_color", "agent_names", "self_registration")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not PortalSettings.objects.exists()

    def has_delete_permission(
        self, request: HttpRequest, obj: PortalSettings | None = None
    ) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        obj, _ = PortalSettings.objects.get_or_create(pk=1)
        return HttpResponseRedirect(reverse("admin:portal_portalsettings_change", args=[obj.pk]))

    def save_model(self, request, obj, form, change) -> None:
        obj.pk = 1
        super().save_model(request, obj, form, change)
        PortalSettings.forget()
