"""Exceptions raised by the odeserve client."""

from __future__ import annotations

from typing import Any, Optional


class OdeserveError(Exception):
    """Base class of every error this package raises."""


class ApiError(OdeserveError):
    """The daemon answered with an error body (docs/api.md, "Errors").

    ``status`` is the HTTP status, ``code`` the API's error code
    (``invalid_argument``, ``not_found``, ...), ``field`` the path of the
    offending value in the request (``y0[1]``, ``solver.rtol``) or None,
    ``retry_after`` the seconds of a ``Retry-After`` header or None, and
    ``body`` the whole decoded error object.
    """

    def __init__(self, status: int, code: str, message: str, field: Optional[str] = None,
                 retry_after: Optional[float] = None, body: Optional[dict] = None):
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.retry_after = retry_after
        self.body = body if body is not None else {}
        where = f" (field {field})" if field else ""
        super().__init__(f"{status} {code}: {message}{where}")

    def __reduce__(self) -> Any:
        return (ApiError, (self.status, self.code, self.message, self.field,
                           self.retry_after, self.body))


class ConnectionFailed(OdeserveError):
    """The daemon could not be reached, or closed the connection mid-answer."""


class JobFailed(OdeserveError):
    """A training job that was waited for ended as failed or cancelled."""

    def __init__(self, job: dict):
        self.job = job
        status = job.get("status")
        why = job.get("error") or status
        super().__init__(f"job {job.get('id')} {status}: {why}")
