from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import models

from accounts.models import Account, AccountDomain, Contact, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "name", "is_staff", "is_active", "last_login")
    list_filter = ("is_staff", "is_superuser", "is_active")
    search_fields = ("email", "name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("name", "timezone")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "name", "password1", "password2", "is_staff"),
            },
        ),
    )


class AccountDomainInline(admin.TabularInline):
    model = AccountDomain
    extra = 1


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("name", "tier", "owner", "is_active", "created_at")
    list_filter = ("tier", "is_active")
    search_fields = ("name", "domains__domain", "phone")
    raw_id_fields = ("owner",)
    inlines = [AccountDomainInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("email", "first_name", "last_name", "account", "portal_role", "user")
    list_filter = ("portal_role", "account__tier")
    search_fields = ("email", "first_name", "last_name", "account__name")
    raw_id_fields = ("account", "user")
    list_select_related = ("account", "user")
