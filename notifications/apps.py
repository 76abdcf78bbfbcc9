from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications and flows"

    def ready(self) -> None:
        # Subscribes the flow engine to domain events (in the publishing transaction).
        from notifications import engine  # noqa: F401
