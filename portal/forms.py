"""Portal forms. Case fields come from field-level security (``access.policy``).

A field the customer may not edit is not on the form, and if a crafted POST sends it
anyway the whole form is refused with a clear error: nothing is saved (issue 3's one
behaviour for hidden and read-only fields).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from access import policy
from accounts.models import Contact, language_choices
from cases.models import Case
from lib.files import sniff_content_type
from lib.timezones import timezone_choices

# Case fields a customer could conceivably send; the form offers only the editable ones.
CASE_INPUT_FIELDS = ("subject", "description", "type", "priority")
# Fields a customer never sets, whatever the profile says (the desk's job).
CASE_FORBIDDEN_FIELDS = (
    "status",
    "owner",
    "queue",
    "account",
    "contact",
    "origin",
    "number",
    "parent",
)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        if not data:
            return []
        items = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in items]


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def validate_files(files: list[UploadedFile]) -> list[str]:
    """Every problem with the uploads, one message per file, in plain words."""
    errors: list[str] = []
    limit = settings.PORTAL_MAX_FILES
    if len(files) > limit:
        errors.append(f"Attach at most {limit} files at a time (you chose {len(files)}).")
    for upload in files:
        name = upload.name or "file"
        if upload.size == 0:
            errors.append(f"{name} is empty.")
            continue
        if upload.size > settings.ATTACHMENT_MAX_BYTES:
            errors.append(
                f"{name} is {_megabytes(upload.size)}; the limit is "
                f"{_megabytes(settings.ATTACHMENT_MAX_BYTES)}."
            )
            continue
        upload.seek(0)
        kind = sniff_content_type(upload.read(8192))
        upload.seek(0)
        if kind not in settings.PORTAL_UPLOAD_TYPES:
            errors.append(f"{name}: files of this type ({kind}) cannot be attached.")
    return errors


class _FilesMixin:
    def clean_files(self) -> list[UploadedFile]:
        files = self.cleaned_data.get("files") or []
        problems = validate_files(files)
        if problems:
            raise forms.ValidationError(problems)
        return files


class CaseCreateForm(_FilesMixin, forms.Form):
    subject = forms.CharField(max_length=255)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Plain text or Markdown (**bold**, lists, links).",
    )
    type = forms.ChoiceField(choices=Case.Type.choices, initial=Case.Type.QUESTION)
    priority = forms.ChoiceField(choices=Case.Priority.choices, initial=Case.Priority.MEDIUM)
    files = MultipleFileField(required=False, label="Attachments")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        editable = set(policy.editable_fields(user, "case", CASE_INPUT_FIELDS))
        # Subject and description are what filing a case means; the rest follows FLS.
        self.offered = {"subject", "description"} | (editable & {"type", "priority"})
        for name in ("type", "priority"):
            if name not in self.offered:
                del self.fields[name]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        # The access app's one behaviour (policy.forbidden_changes): a field the user may not
        # set, sent with the value it would have anyway, is ignored; sent with another
        # value, the whole form is refused and nothing is saved.
        defaults = {
            "type": Case.Type.QUESTION,
            "priority": Case.Priority.MEDIUM,
            "status": Case.Status.NEW,
            "origin": Case.Origin.PORTAL,
        }
        optional = {n: self.data[n] for n in ("type", "priority") if n in self.data}
        refused = set(policy.forbidden_changes(self.user, "case", optional, defaults))
        # Fields a customer never sets on a new case, whatever the profile says.
        refused |= {
            n
            for n in CASE_FORBIDDEN_FIELDS
            if n in self.data and self.data[n] != defaults.get(n, "")
        }
        refused = sorted(refused)
        if refused:
            raise forms.ValidationError(
                f"You may not set: {', '.join(refused)}. Nothing was saved.", code="fls"
            )
        return cleaned


class ReplyForm(_FilesMixin, forms.Form):
    body = forms.CharField(
        label="Your reply",
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Plain text or Markdown.",
    )
    files = MultipleFileField(required=False, label="Attachments")


class RateForm(forms.Form):
    rating = forms.TypedChoiceField(
        choices=[(i, str(i)) for i in range(1, 6)],
        coerce=int,
        widget=forms.RadioSelect,
        label="How did we do? (1 = poor, 5 = excellent)",
    )
    comment = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Anything to add?",
    )


class ProfileForm(forms.Form):
    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)
    phone = forms.CharField(max_length=40, required=False)
    timezone = forms.ChoiceField(choices=timezone_choices, label="Time zone")
    language = forms.ChoiceField(
        choices=lambda: [("", "Site default"), *language_choices()], required=False
    )

    @classmethod
    def for_contact(cls, contact: Contact, data: Any = None) -> ProfileForm:
        initial = {
            f: getattr(contact, f)
            for f in ("first_name", "last_name", "phone", "timezone", "language")
        }
        return cls(data, initial=initial)


class SetPasswordForm(forms.Form):
    password1 = forms.CharField(
        label="New password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="New password (again)",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return cleaned


class RegisterForm(forms.Form):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))


class RegisterCompleteForm(SetPasswordForm):
    first_name = forms.CharField(max_length=100)
    last_name = forms.CharField(max_length=100)

    field_order = ["first_name", "last_name", "password1", "password2"]


class EmailChangeForm(forms.Form):
    email = forms.EmailField(
        label="New email address", widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
