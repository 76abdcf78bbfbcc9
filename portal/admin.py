from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from accounts import invitations
from accounts.models import PortalInvitation
from lib.errors import DomainError
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


@admin.register(PortalInvitation)
class PortalInvitationAdmin(admin.ModelAdmin):
    """Invitation state for admins; resend and revoke go through the same services as the desk."""

    list_display = (
        "contact",
        "state_now",
        "sent_count",
        "last_sent_at",
        "expires_at",
        "invited_by",
    )
    list_filter = ("state",)
    search_fields = ("contact__email", "contact__first_name", "contact__last_name")
    list_select_related = ("contact", "invited_by")
    # The token hash is never shown or edited; invitations are made by the service.
    fields = (
        "contact",
        "state",
        "invited_by",
        "created_at",
        "expires_at",
        "sent_count",
        "last_sent_at",
        "accepted_at",
        "revoked_at",
    )
    readonly_fields = fields
    actions = ("resend", "revoke")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="state")
    def state_now(self, obj: PortalInvitation) -> str:
        return PortalInvitation.State(obj.current_state).label

    @admin.action(description="Resend the invitation (new link, new 72 h)")
    def resend(self, request: HttpRequest, queryset) -> None:
        for invitation in queryset.select_related("contact", "contact__user"):
            try:
                invitations.invitation_send(actor=request.user, contact=invitation.contact)
            except (DomainError, PermissionDenied) as exc:
                self.message_user(request, f"{invitation.contact}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"Sent to {invitation.contact.email}.")

    @admin.action(description="Revoke the invitation")
    def revoke(self, request: HttpRequest, queryset) -> None:
        for invitation in queryset.select_related("contact"):
            invitations.invitation_revoke(actor=request.user, invitation=invitation)
        self.message_user(request, "Revoked the pending ones.")
