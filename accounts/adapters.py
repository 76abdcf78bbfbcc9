"""allauth adapter: nobody signs themselves up to the desk."""

from urllib.parse import quote

from allauth.account.adapter import DefaultAccountAdapter
from allauth.utils import build_absolute_uri
from django.http import HttpRequest
from django.urls import reverse


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        user = request.user
        if getattr(user, "is_staff", False):
            return "/desk/"
        # Customers (portal users) never land on the desk.
        return "/portal/"

    def get_reset_password_from_key_url(self, key: str) -> str:
        # A reset asked for from the portal sends the customer back to portal-styled pages.
        request = self.request
        if request is not None and request.path.startswith("/portal/"):
            path = reverse("portal:password-reset-key", kwargs={"uidb36": "UID", "key": "KEY"})
            return build_absolute_uri(request, path.replace("UID-KEY", quote(key)))
        return super().get_reset_password_from_key_url(key)
