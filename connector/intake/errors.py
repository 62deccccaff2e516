"""Errors an intake request can end in; each maps to one HTTP status and a JSON reason."""


class IntakeError(Exception):
    """Base: `status` is the HTTP status, the message is what the sender is told."""

    status = 400


class Unauthorized(IntakeError):
    status = 401


class NotFound(IntakeError):
    status = 404


class Gone(IntakeError):
    """The admin disabled a source whose sender documents 410 as 'stop sending'."""

    status = 410


class PayloadTooLarge(IntakeError):
    status = 413


class RequestTimeout(IntakeError):
    """The body did not arrive within the intake's body timeout (a slow or endless sender)."""

    status = 408


class BadPayload(IntakeError):
    status = 400


class UnsupportedMediaType(IntakeError):
    status = 415


class Ignored(IntakeError):
    """A well-formed notification we do not act on (a ping, an unsubscribed event type): 200, not stored,
    so the sender neither retries nor disables the subscription."""

    status = 200


class Acknowledged(Ignored):
    """A check the sender makes on purpose (a plugin's "Test connection"): 200 with `answer`, not stored."""

    def __init__(self, message: str, answer: dict[str, str]):
        super().__init__(message)
        self.answer = answer


class Forbidden(IntakeError):
    status = 403


class TooManyRequests(IntakeError):
    """The sender went over its rate; `retry_after` says when it may send again (seconds)."""

    status = 429

    def __init__(self, message: str, retry_after: int = 60):
        super().__init__(message)
        self.retry_after = retry_after
