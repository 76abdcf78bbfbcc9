"""allauth adapter: nobody signs themselves up to the desk."""

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        user = request.user
        if getattr(user, "is_staff", False):
            return "/desk/"
        return super().get_login_redirect_url(request)
