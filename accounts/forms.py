"""Desk forms for Accounts and Contacts."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import Account, Contact, User
from accounts.services import ACCOUNT_FIELDS, CONTACT_FIELDS


class AccountForm(forms.ModelForm):
    website = forms.URLField(required=False, assume_scheme="https")
    domains = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Email domains of this company, one per line (mail from them maps here).",
    )

    class Meta:
        model = Account
        fields = ACCOUNT_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = User.objects.filter(is_staff=True, is_active=True)
        if self.instance.pk:
            self.fields["domains"].initial = "\n".join(
                self.instance.domains.values_list("domain", flat=True)
            )

    def values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in ACCOUNT_FIELDS}


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = CONTACT_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = Account.objects.filter(is_active=True)

    def validate_unique(self) -> None:
        # The service reports a duplicate email with its own message.
        pass

    def values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in CONTACT_FIELDS}
