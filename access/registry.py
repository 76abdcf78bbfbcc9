"""What access can be granted to: object types, their actions, system permissions.

Later apps register their own objects and system permissions from ``AppConfig.ready()``
(``register_object("payment", "billing.Payment")``, ``register_system_permission(...)``),
so profiles, the field matrix and the effective-access page pick them up without code here.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db import models

# Actions on an object type. "view_all" widens what records may be read, "modify_all"
# what records may be changed or deleted; neither needs the records to be one's own.
ACTIONS: tuple[str, ...] = ("read", "create", "edit", "delete", "view_all", "modify_all")
ACTION_LABELS = {
    "read": "Read",
    "create": "Create",
    "edit": "Edit",
    "delete": "Delete",
    "view_all": "View all",
    "modify_all": "Modify all",
}


@dataclass(frozen=True)
class ObjectType:
    name: str
    model_label: str  # "app_label.Model"
    label: str

    @property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.model_label)

    def field_names(self) -> tuple[str, ...]:
        """Fields a person could read or edit: concrete, not the primary key."""
        return tuple(
            f.name
            for f in self.model._meta.get_fields()
            if getattr(f, "concrete", False) and not f.primary_key and not f.auto_created
        )

    def field_label(self, name: str) -> str:
        return str(self.model._meta.get_field(name).verbose_name).capitalize()


OBJECTS: dict[str, ObjectType] = {}
SYSTEM_PERMISSIONS: dict[str, str] = {}


def register_object(name: str, model_label: str, label: str = "") -> None:
    OBJECTS[name] = ObjectType(name, model_label, label or name.replace("_", " ").capitalize())


def register_system_permission(code: str, label: str) -> None:
    SYSTEM_PERMISSIONS[code] = label


for _name, _label, _title in (
    ("case", "cases.Case", "Case"),
    ("account", "accounts.Account", "Account"),
    ("contact", "accounts.Contact", "Contact"),
    ("comment", "cases.CaseComment", "Comment"),
    ("attachment", "cases.Attachment", "Attachment"),
    ("activity", "cases.Activity", "Activity"),
):
    register_object(_name, _label, _title)

for _code, _title in (
    ("manage_users", "Manage users"),
    ("manage_configuration", "Manage configuration"),
    ("view_dashboards", "View dashboards"),
    ("export_data", "Export data"),
    ("bulk_actions", "Bulk actions"),
    ("issue_refunds", "Issue refunds"),
):
    register_system_permission(_code, _title)
