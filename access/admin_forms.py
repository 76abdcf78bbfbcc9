"""Admin forms: system permission checkboxes and the field-permission matrix."""

from __future__ import annotations

from typing import Any

from django import forms

from access import registry
from access.models import FieldAccess, PermissionSet, Profile


class SystemPermissionsField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(choices=list(registry.SYSTEM_PERMISSIONS.items()), **kwargs)


class ProfileForm(forms.ModelForm):
    system_permissions = SystemPermissionsField()

    class Meta:
        model = Profile
        fields = (
            "name",
            "key",
            "description",
            "user_type",
            "system_permissions",
            "mfa_required",
            "idle_timeout_minutes",
            "session_lifetime_hours",
            "lock_session_to_ip",
            "ip_check",
            "login_hours",
            "login_hours_timezone",
        )
        widgets = {"login_hours": forms.Textarea(attrs={"rows": 3, "cols": 60})}


class PermissionSetForm(forms.ModelForm):
    system_permissions = SystemPermissionsField()

    class Meta:
        model = PermissionSet
        fields = ("name", "key", "description", "system_permissions")


NO_GRANT = ""


class FieldMatrixForm(forms.Form):
    """One radio row per object field: hidden / read-only / editable.

    For a profile the choice is the level; "default" keeps the user type's default. For a
    permission set "no grant" adds nothing; a level there is granted on top of the profile.
    """

    def __init__(
        self, *args: Any, current: dict[tuple[str, str], int], for_profile: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        empty_label = "Default" if for_profile else "No grant"
        choices = [(NO_GRANT, empty_label), *((str(v), label) for v, label in FieldAccess.choices)]
        self.rows: list[tuple[str, list[tuple[str, str]]]] = []
        for obj in registry.OBJECTS.values():
            names = []
            for name in obj.field_names():
                key = f"{obj.name}__{name}"
                level = current.get((obj.name, name))
                self.fields[key] = forms.ChoiceField(
                    label=obj.field_label(name),
                    choices=choices,
                    required=False,
                    widget=forms.RadioSelect,
                    initial=NO_GRANT if level is None else str(level),
                )
                names.append((key, name))
            self.rows.append((obj.label, names))

    def levels(self) -> dict[tuple[str, str], int | None]:
        result: dict[tuple[str, str], int | None] = {}
        for key, value in self.cleaned_data.items():
            obj_type, name = key.split("__", 1)
            result[(obj_type, name)] = None if value == NO_GRANT else int(value)
        return result

    def grouped(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(label, [self[key] for key, _ in names]) for label, names in self.rows]
