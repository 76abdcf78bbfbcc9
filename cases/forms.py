"""Desk forms. They parse and validate input; services decide and write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q

from access import policy
from accounts.models import Contact, User
from cases.models import Activity, Case, Queue
from cases.selectors import READY_VIEWS, SORTS, CaseFilters, agent_choices


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented pattern)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


def _blank(label: str, choices: Any) -> list[tuple[str, str]]:
    return [("", label), *choices]


class CaseFilterForm(forms.Form):
    """The case list's query string. Unknown or bad values are dropped, never fatal."""

    view = forms.ChoiceField(choices=_blank("Any view", READY_VIEWS.items()), required=False)
    q = forms.CharField(required=False, max_length=200, label="Search")
    status_category = forms.ChoiceField(
        choices=_blank("Any category", Case.StatusCategory.choices),
        required=False,
        label="Category",
    )
    status = forms.MultipleChoiceField(choices=Case.Status.choices, required=False)
    priority = forms.MultipleChoiceField(choices=Case.Priority.choices, required=False)
    origin = forms.MultipleChoiceField(choices=Case.Origin.choices, required=False)
    queue = forms.ModelChoiceField(
        queryset=Queue.objects.all(), required=False, empty_label="Any queue"
    )
    owner = forms.ChoiceField(required=False)
    account = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    created_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    created_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(
        required=False,
        choices=[
            ("-created", "Newest"),
            ("created", "Oldest"),
            ("-updated", "Recently updated"),
            ("-priority", "Most urgent"),
            ("number", "Number"),
        ],
    )

    # The sidebar's selects, in display order; ``account`` is carried as a hidden input.
    SIDEBAR = ("status_category", "status", "priority", "queue", "owner", "origin", "sort")

    def __init__(
        self, *args: Any, agents: list[tuple[str, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if agents is None:
            agents = [(str(a.pk), str(a)) for a in agent_choices()]
        self.fields["owner"].choices = [
            ("", "Anyone"),
            ("me", "Me"),
            ("unassigned", "Unassigned"),
            *agents,
        ]

    def sidebar(self) -> list[dict[str, Any]]:
        """The filter selects as plain data: name, label, multiple, [(value, label, selected)].

        The list page renders these with a plain loop instead of Django's widget templates,
        which cost a template include per option (a fifth of the page's CPU time).
        """
        selects = []
        for name in self.SIDEBAR:
            field = self.fields.get(name)
            if field is None:  # removed by field-level security
                continue
            multiple = isinstance(field, forms.MultipleChoiceField)
            chosen = set(self.data.getlist(name)) if hasattr(self.data, "getlist") else set()
            if name == "queue":
                choices = [("", field.empty_label), *((str(q.pk), str(q)) for q in field.queryset)]
            else:
                choices = [(str(v), str(lbl)) for v, lbl in field.choices]
            selects.append(
                {
                    "name": name,
                    "label": field.label or name.replace("_", " ").capitalize(),
                    "multiple": multiple,
                    "options": [(value, label, value in chosen) for value, label in choices],
                }
            )
        return selects

    def limit_to(self, user: User) -> None:
        """Drop filters and sorts on fields hidden from ``user`` (field-level security)."""
        names = ("priority", "origin", "queue", "owner")
        readable = set(policy.readable_fields(user, "case", names))
        for name in names:
            if name not in readable:
                del self.fields[name]
        if "priority" not in readable:
            sort = self.fields["sort"]
            sort.choices = [c for c in sort.choices if "priority" not in c[0]]

    def to_filters(self) -> CaseFilters:
        data = self.cleaned_data if self.is_valid() else self._valid_part()
        return CaseFilters(
            view=data.get("view") or "",
            q=data.get("q") or "",
            status_category=data.get("status_category") or "",
            statuses=tuple(data.get("status") or ()),
            priorities=tuple(data.get("priority") or ()),
            origins=tuple(data.get("origin") or ()),
            queue_id=data["queue"].pk if data.get("queue") else None,
            owner=data.get("owner") or "",
            account_id=data.get("account"),
            created_from=data.get("created_from"),
            created_to=data.get("created_to"),
            sort=data.get("sort") if data.get("sort") in SORTS else "-created",
        )

    def _valid_part(self) -> dict[str, Any]:
        # Keep the filters that parsed; a typo in one must not empty the whole list.
        return {k: v for k, v in self.cleaned_data.items() if k not in self.errors}


class ContactChoiceField(forms.CharField):
    """A contact, typed as an email address (or picked by id from a contact page)."""

    def clean(self, value: Any) -> Contact | None:
        value = (super().clean(value) or "").strip()
        if not value:
            return None
        lookup = Q(pk=int(value)) if value.isdigit() else Q(email__iexact=value)
        contact = Contact.objects.select_related("account").filter(lookup).first()
        if contact is None:
            raise ValidationError("No contact with that email. Create the contact first.")
        return contact


class CaseCreateForm(forms.Form):
    contact = ContactChoiceField(
        label="Contact email", required=False, help_text="Who the case is for (optional)."
    )
    subject = forms.CharField(max_length=255)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), required=False)
    priority = forms.ChoiceField(choices=Case.Priority.choices, initial=Case.Priority.MEDIUM)
    type = forms.ChoiceField(choices=Case.Type.choices, initial=Case.Type.QUESTION)
    origin = forms.ChoiceField(
        choices=[
            (Case.Origin.PHONE, "Phone"),
            (Case.Origin.AGENT, "Agent"),
            (Case.Origin.EMAIL, "Email"),
            (Case.Origin.WEB, "Web"),
        ],
        initial=Case.Origin.PHONE,
    )
    queue = forms.ModelChoiceField(
        queryset=Queue.objects.all(), required=False, empty_label="No queue"
    )
    owner = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Unassigned"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = agent_choices()


class FieldSecurityFormMixin:
    """Limit a form to the fields its user may read, and disable those they may not edit.

    Disabled fields ignore posted values (Django uses the initial value), so a crafted
    POST of a read-only field cannot change it; the service checks again regardless.
    """

    obj_type: str

    def apply_field_security(self, user: User) -> None:
        names = tuple(self.fields)  # type: ignore[attr-defined]
        readable = set(policy.readable_fields(user, self.obj_type, names))
        editable = set(policy.editable_fields(user, self.obj_type, names))
        for name in names:
            if name not in readable:
                del self.fields[name]  # type: ignore[attr-defined]
            elif name not in editable:
                self.fields[name].disabled = True  # type: ignore[attr-defined]


class CaseEditForm(FieldSecurityFormMixin, forms.Form):
    obj_type = "case"

    subject = forms.CharField(max_length=255)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False)
    priority = forms.ChoiceField(choices=Case.Priority.choices)
    type = forms.ChoiceField(choices=Case.Type.choices)
    parent = forms.CharField(label="Parent case number", required=False, max_length=12)

    def __init__(self, *args: Any, user: User, case: Case, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "subject": case.subject,
                "description": case.description,
                "priority": case.priority,
                "type": case.type,
                "parent": case.parent.number if case.parent_id else "",
            },
        )
        super().__init__(*args, **kwargs)
        self.case = case
        self.user = user
        self.apply_field_security(user)

    def clean_parent(self) -> Case | None:
        number = (self.cleaned_data.get("parent") or "").strip()
        if not number:
            return None
        from cases.selectors import case_list_for_user

        parent = case_list_for_user(user=self.user).filter(number=number.zfill(8)).first()
        if parent is None:
            raise ValidationError("No case with that number.")
        if parent.pk == self.case.pk:
            raise ValidationError("A case cannot be its own parent.")
        return parent

    def changes(self) -> dict[str, Any]:
        """Only the fields the user may edit, as the service expects them."""
        return {
            name: self.cleaned_data[name]
            for name, field in self.fields.items()
            if not field.disabled and name in self.cleaned_data
        }


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Case.Status.choices)


class AssignForm(forms.Form):
    owner = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Unassigned"
    )
    queue = forms.ModelChoiceField(
        queryset=Queue.objects.all(), required=False, empty_label="No queue"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = agent_choices()


class CommentForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), label="Message")
    visibility = forms.ChoiceField(
        choices=[("public", "Reply to customer"), ("internal", "Internal note")],
        initial="public",
        widget=forms.RadioSelect,
    )
    files = MultipleFileField(label="Attach files")

    @property
    def is_public(self) -> bool:
        return self.cleaned_data["visibility"] == "public"


class AttachmentForm(forms.Form):
    files = MultipleFileField(label="Files")
    internal = forms.BooleanField(required=False, label="Agents only")


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(choices=Activity.Kind.choices, initial=Activity.Kind.FOLLOW_UP)
    subject = forms.CharField(max_length=255)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    starts_at = forms.DateTimeField(
        required=False, label="Starts", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    ends_at = forms.DateTimeField(
        required=False, label="Ends", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    due_at = forms.DateTimeField(
        required=False, label="Due", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False, empty_label="Me")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = agent_choices()


class BulkForm(forms.Form):
    ACTIONS = [("assign", "Assign"), ("status", "Change status")]

    action = forms.ChoiceField(choices=ACTIONS)
    numbers = forms.MultipleChoiceField(required=True)  # choices filled from the posted values
    owner = forms.ChoiceField(required=False)
    status = forms.ChoiceField(choices=_blank("Status…", Case.Status.choices), required=False)

    def __init__(
        self, *args: Any, agents: list[tuple[str, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        posted = self.data.getlist("numbers") if hasattr(self.data, "getlist") else []
        self.fields["numbers"].choices = [(n, n) for n in posted]
        if agents is None:
            agents = [(str(a.pk), str(a)) for a in agent_choices()]
        self.fields["owner"].choices = [("", "Owner…"), ("none", "Unassigned"), *agents]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("action") == "status" and not data.get("status"):
            self.add_error("status", "Pick a status.")
        if data.get("action") == "assign" and not data.get("owner"):
            self.add_error("owner", "Pick an owner.")
        return data

    def owner_user(self) -> User | None:
        owner = self.cleaned_data.get("owner")
        if owner in ("", "none", None):
            return None
        return agent_choices().filter(pk=int(owner)).first()
