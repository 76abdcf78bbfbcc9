"""Admin screens: profiles, permission sets, field matrix, user access, sessions, audit.

Every save goes through ``access.services`` so it is audited and bumps the permission
cache version. The audit log is read-only here, for everyone.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from access import policy, registry, services
from access.admin_forms import FieldMatrixForm, PermissionSetForm, ProfileForm
from access.defaults import PROFILES as DEFAULT_PROFILES
from access.models import (
    AuditLog,
    LoginIpRange,
    ObjectPermission,
    PermissionSet,
    Profile,
    UserAccess,
    UserSession,
)
from accounts.models import User
from lib.http import client_ip

DEFAULT_PROFILE_KEYS = frozenset(p["key"] for p in DEFAULT_PROFILES)


class ObjectPermissionInline(admin.TabularInline):
    model = ObjectPermission
    extra = 0
    fields = (
        "obj_type",
        "can_read",
        "can_create",
        "can_edit",
        "can_delete",
        "can_view_all",
        "can_modify_all",
    )

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "obj_type":
            return forms.ChoiceField(
                choices=[(o.name, o.label) for o in registry.OBJECTS.values()], label="Object"
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class LoginIpRangeInline(admin.TabularInline):
    model = LoginIpRange
    extra = 0


class _AuditedGranteeAdmin(admin.ModelAdmin):
    """Snapshot before the save, audit after the inlines are saved too."""

    change_form_template = "admin/access/grantee_change_form.html"
    matrix_url_name = ""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        request._access_before = (  # type: ignore[attr-defined]
            services.grantee_snapshot(type(obj).objects.get(pk=obj.pk)) if change else None
        )
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        obj = form.instance
        before = getattr(request, "_access_before", None)
        after = services.grantee_snapshot(obj)
        if before != after:
            services.access_config_changed(
                actor=request.user,
                ip=client_ip(request),
                target=obj,
                action=AuditLog.Action.CONFIG_CHANGED if change else AuditLog.Action.CONFIG_CREATED,
                before=before,
                after=after,
            )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        before = services.grantee_snapshot(obj)
        services.access_config_changed(
            actor=request.user,
            ip=client_ip(request),
            target=obj,
            action=AuditLog.Action.CONFIG_DELETED,
            before=before,
            after=None,
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset:
            self.delete_model(request, obj)

    def get_urls(self) -> list[Any]:
        info = self.model._meta.app_label, self.model._meta.model_name
        return [
            path(
                "<int:pk>/fields/",
                self.admin_site.admin_view(self.field_matrix_view),
                name=f"{info[0]}_{info[1]}_fields",
            ),
            *super().get_urls(),
        ]

    def field_matrix_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        grantee = get_object_or_404(self.model, pk=pk)
        if not self.has_change_permission(request, grantee):
            raise PermissionDenied
        current = {(r.obj_type, r.field): r.access for r in grantee.field_permissions.all()}
        is_profile = isinstance(grantee, Profile)
        form = FieldMatrixForm(request.POST or None, current=current, for_profile=is_profile)
        if request.method == "POST" and form.is_valid():
            changed = services.field_permissions_set(
                actor=request.user, grantee=grantee, levels=form.levels(), ip=client_ip(request)
            )
            messages.success(request, f"Field-level security saved ({changed} fields changed).")
            return HttpResponseRedirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": grantee,
            "title": f"Field-level security: {grantee}",
            "form": form,
            "is_profile": is_profile,
            "default_level": (
                policy.LEVEL_NAMES[
                    policy.READ_ONLY if grantee.user_type == "portal" else policy.EDITABLE
                ]
                if is_profile
                else ""
            ),
        }
        return TemplateResponse(request, "admin/access/field_matrix.html", context)


@admin.register(Profile)
class ProfileAdmin(_AuditedGranteeAdmin):
    form = ProfileForm
    list_display = (
        "name",
        "user_type",
        "mfa_required",
        "idle_timeout_minutes",
        "session_lifetime_hours",
        "lock_session_to_ip",
        "field_matrix_link",
    )
    list_filter = ("user_type", "mfa_required")
    search_fields = ("name", "key")
    prepopulated_fields = {"key": ("name",)}
    inlines = [ObjectPermissionInline, LoginIpRangeInline]
    fieldsets = (
        (None, {"fields": ("name", "key", "description", "user_type")}),
        ("System permissions", {"fields": ("system_permissions",)}),
        (
            "Sign-in and sessions",
            {
                "fields": (
                    "mfa_required",
                    "idle_timeout_minutes",
                    "session_lifetime_hours",
                    "lock_session_to_ip",
                    "ip_check",
                    "login_hours",
                    "login_hours_timezone",
                )
            },
        ),
    )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The defaults are what unassigned users fall back to: change them, never delete.
        if obj is not None and obj.key in DEFAULT_PROFILE_KEYS:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description="Field-level security")
    def field_matrix_link(self, obj: Profile) -> str:
        return format_html(
            '<a href="{}">Fields</a>', reverse("admin:access_profile_fields", args=[obj.pk])
        )


@admin.register(PermissionSet)
class PermissionSetAdmin(_AuditedGranteeAdmin):
    form = PermissionSetForm
    list_display = ("name", "key", "field_matrix_link")
    search_fields = ("name", "key")
    prepopulated_fields = {"key": ("name",)}
    inlines = [ObjectPermissionInline]

    @admin.display(description="Field-level security")
    def field_matrix_link(self, obj: PermissionSet) -> str:
        return format_html(
            '<a href="{}">Fields</a>', reverse("admin:access_permissionset_fields", args=[obj.pk])
        )


class UserAccessForm(forms.ModelForm):
    class Meta:
        model = UserAccess
        fields = ("user", "profile", "permission_sets")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("user") and data.get("profile"):
            problem = services.profile_mismatch(data["user"], data["profile"])
            if problem:
                self.add_error("profile", problem)
        return data


@admin.register(UserAccess)
class UserAccessAdmin(admin.ModelAdmin):
    form = UserAccessForm
    list_display = ("user", "profile", "sets", "effective_link")
    list_filter = ("profile", "permission_sets")
    search_fields = ("user__email", "user__name")
    autocomplete_fields = ("user",)
    filter_horizontal = ("permission_sets",)
    actions = ["end_all_sessions"]

    @admin.display(description="Permission sets")
    def sets(self, obj: UserAccess) -> str:
        return ", ".join(ps.name for ps in obj.permission_sets.all()) or "-"

    @admin.display(description="Effective access")
    def effective_link(self, obj: UserAccess) -> str:
        return format_html(
            '<a href="{}">View</a>', reverse("admin:access_effective", args=[obj.user_id])
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .select_related("user", "profile")
            .prefetch_related("permission_sets")
        )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # The assignment is written by the service (audit + cache version), in save_related.
        pass

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        form.instance = services.user_access_assign(
            actor=request.user,
            user=form.cleaned_data["user"],
            profile=form.cleaned_data["profile"],
            permission_sets=form.cleaned_data["permission_sets"],
            ip=client_ip(request),
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Removing a row silently changes a user to the default profile: assign one instead.
        return False

    @admin.action(description="End all sessions of the selected users")
    def end_all_sessions(self, request: HttpRequest, queryset: QuerySet) -> None:
        ended = sum(
            services.sessions_end_all(
                actor=request.user, user=row.user, reason="ended by admin", ip=client_ip(request)
            )
            for row in queryset.select_related("user")
        )
        messages.success(request, f"{ended} sessions ended.")

    def get_urls(self) -> list[Any]:
        return [
            path(
                "effective/<int:user_id>/",
                self.admin_site.admin_view(self.effective_view),
                name="access_effective",
            ),
            path(
                "effective/",
                self.admin_site.admin_view(self.effective_lookup_view),
                name="access_effective_lookup",
            ),
            path(
                "end-sessions/<int:user_id>/",
                self.admin_site.admin_view(self.end_sessions_view),
                name="access_end_sessions",
            ),
            *super().get_urls(),
        ]

    def effective_view(self, request: HttpRequest, user_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        user = get_object_or_404(User, pk=user_id)
        eff = policy.effective(user)
        objects = []
        for obj in registry.OBJECTS.values():
            grants = eff.objects.get(obj.name, {})
            fields = [
                (obj.field_label(name), name, *_level(eff, obj.name, name))
                for name in obj.field_names()
            ]
            objects.append(
                {
                    "label": obj.label,
                    "actions": [
                        (registry.ACTION_LABELS[a], grants.get(a, [])) for a in registry.ACTIONS
                    ],
                    "fields": fields,
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Effective access: {user}",
            "subject": user,
            "eff": eff,
            "objects": objects,
            "system": [
                (label, eff.system.get(code, []))
                for code, label in registry.SYSTEM_PERMISSIONS.items()
            ],
            "sessions": services.user_sessions_active(user=user),
            "records": _records_description(user, eff),
        }
        return TemplateResponse(request, "admin/access/effective.html", context)

    def effective_lookup_view(self, request: HttpRequest) -> HttpResponse:
        """Find anyone by email, assigned or on a default profile."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        email = request.GET.get("email", "").strip().lower()
        user = User.objects.filter(email=email).first() if email else None
        if user is not None:
            return HttpResponseRedirect(reverse("admin:access_effective", args=[user.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Effective access",
            "email": email,
        }
        return TemplateResponse(request, "admin/access/effective_lookup.html", context)

    def end_sessions_view(self, request: HttpRequest, user_id: int) -> HttpResponse:
        if request.method != "POST" or not self.has_change_permission(request):
            raise PermissionDenied
        user = get_object_or_404(User, pk=user_id)
        ended = services.sessions_end_all(
            actor=request.user, user=user, reason="ended by admin", ip=client_ip(request)
        )
        messages.success(request, f"{ended} sessions of {user} ended.")
        return HttpResponseRedirect(reverse("admin:access_effective", args=[user.pk]))


def _level(eff: policy.Effective, obj_type: str, name: str) -> tuple[str, str]:
    level, source = eff.field_level(obj_type, name)
    if not eff.allows(obj_type, "read"):
        return "hidden", "no read permission on the object"
    if level == policy.EDITABLE and not (
        eff.allows(obj_type, "edit") or eff.allows(obj_type, "create")
    ):
        return "read-only", "no edit permission on the object"
    return policy.LEVEL_NAMES[level], source


def _records_description(user: User, eff: policy.Effective) -> str:
    if policy.is_agent(user):
        if eff.allows("case", "modify_all"):
            return "Reads and changes every case (modify all)."
        if eff.allows("case", "view_all"):
            return (
                "Reads every case (view all); changes the cases they own, of their queues "
                "and the unassigned pool."
            )
        return "Cases they own, of the queues they belong to, and the unassigned pool."
    if policy.is_account_manager(user):
        return "All cases of their account (account manager)."
    if policy.portal_contact(user) is not None:
        return "The cases whose contact they are."
    return "No cases."


@admin.register(UserSession)
class UserSessionAdmin(admin.ModelAdmin):
    list_display = ("user", "ip", "browser", "created_at", "last_seen_at", "ended_at", "end_reason")
    list_filter = ("ended_at",)
    search_fields = ("user__email", "ip")
    actions = ["end_sessions"]
    readonly_fields = [f.name for f in UserSession._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="End the selected sessions", permissions=["view"])
    def end_sessions(self, request: HttpRequest, queryset: QuerySet) -> None:
        ended = services.sessions_end(
            actor=request.user,
            sessions=list(queryset),
            reason="ended by admin",
            ip=client_ip(request),
        )
        messages.success(request, f"{ended} sessions ended.")


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ("at", "action", "actor_email", "ip", "target_type", "target_label", "detail")
    list_filter = ("action", "target_type", "at")
    search_fields = ("actor_email", "target_label", "detail", "ip")
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuditLog._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
