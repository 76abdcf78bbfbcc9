"""Domain errors: services raise these, views and the API turn them into responses."""


class DomainError(Exception):
    """A request that the domain refuses; the message is safe to show to the user."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidTransition(DomainError):
    """A status change that the case's workflow does not allow."""


class AttachmentRejected(DomainError):
    """An upload that breaks the size or type rules."""
