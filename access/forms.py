"""Field-level security for any Django form: one behaviour on every surface.

``secure_form`` withholds hidden fields (rendered as nothing, value kept server-side)
and disables read-only ones; ``forbidden_changes_in`` names the withheld or read-only
fields a POST tries to change. The rule (README, Security model): such a request is
refused as a whole with a clear error and nothing is saved; the same field sent with its
current value is harmless.
"""

from __future__ import annotations

import copy
from typing import Any

from django import forms

from access import policy


class Withheld(forms.HiddenInput):
    """The widget of a field the user may not read: it renders nothing at all."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        return ""


def secure_form(form: forms.BaseForm, user: Any, obj_type: str) -> forms.BaseForm:
    names = tuple(form.fields)
    readable = set(policy.readable_fields(user, obj_type, names))
    editable = set(policy.editable_fields(user, obj_type, names))
    for name in names:
        field = form.fields[name]
        if name not in readable:
            field.disabled = True
            field.required = False
            field.widget = Withheld()
        elif name not in editable:
            field.disabled = True
    return form


def forbidden_changes_in(form: forms.BaseForm, data: Any, files: Any = None) -> list[str]:
    """Labels of disabled (hidden or read-only) fields whose posted value differs."""
    refused = []
    for name, field in form.fields.items():
        if not field.disabled or name not in data:
            continue
        probe = copy.copy(field)
        probe.disabled = False  # has_changed() says "no" for disabled fields
        posted = field.widget.value_from_datadict(data, files, form.add_prefix(name))
        if probe.has_changed(form.get_initial_for_field(field, name), posted):
            refused.append(str(field.label or name.replace("_", " ").capitalize()))
    return refused
