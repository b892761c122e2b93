"""What the services refuse, each with the HTTP status an API maps it to."""

from __future__ import annotations


class ServiceError(Exception):
    """A request the service refuses; `status` is the HTTP status the API answers with."""

    status = 400

    def __init__(self, message: str, errors: list[dict] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or []


class NotFound(ServiceError):
    """The object does not exist."""

    status = 404


class Conflict(ServiceError):
    """The object exists already, or is in a state that does not allow the operation."""

    status = 409


class FourEyesViolation(ServiceError):
    """An officer tried to approve their own entry."""

    status = 403


class Invalid(ServiceError):
    """The data is not acceptable; `errors` lists [{'field': ..., 'message': ...}]."""

    status = 422


class PhotoRejected(ServiceError):
    """The uploaded photo is not a usable JPEG or PNG."""

    status = 422


class PhotoTooLarge(PhotoRejected):
    """The upload is larger than allowed."""

    status = 413


class UnsupportedMediaType(PhotoRejected):
    """The upload is not a JPEG or PNG."""

    status = 415
