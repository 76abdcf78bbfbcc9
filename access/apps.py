from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "access"
    verbose_name = "Access control"

    def ready(self) -> None:
        from allauth.account.decorators import secure_admin_login
        from django.contrib import admin

        from access import receivers  # noqa: F401 - connects the signal receivers

        # The admin's own sign-in form would skip the MFA step, lock-out page and session
        # record of allauth's: send it there instead (allauth's documented hook).
        admin.site.login = secure_admin_login(admin.site.login)
