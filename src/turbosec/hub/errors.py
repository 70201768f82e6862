"""Errors the hub answers with: an HTTP status, a short code and a human explanation.

They are raised by the HTTP-free parts (ingestion, auth, service) as well as the API, and
turned into the JSON body ``{"error": "<code>", "detail": "<text>"}`` by the handlers
installed in :func:`turbosec.hub.api.app.create_app`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

BEARER_CHALLENGE = 'Bearer realm="turbosec-hub"'


class HubError(Exception):
    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        problems: Sequence[str] = (),
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.headers = dict(headers or {})
        self.problems = list(problems)


class BadRequest(HubError):
    status = 400
    code = "bad_request"


class InvalidReport(HubError):
    """The upload is not a readable turbosec report or SARIF 2.1.0 log."""

    status = 400
    code = "invalid_report"


class Unauthorized(HubError):
    status = 401
    code = "unauthorized"

    def __init__(
        self, detail: str = "a valid bearer token is required", *, invalid_token: bool = False
    ) -> None:
        error = ', error="invalid_token"' if invalid_token else ""
        super().__init__(detail, headers={"WWW-Authenticate": BEARER_CHALLENGE + error})


class Forbidden(HubError):
    status = 403
    code = "forbidden"


class NotFound(HubError):
    status = 404
    code = "not_found"


class Conflict(HubError):
    status = 409
    code = "conflict"


class TooLarge(HubError):
    status = 413
    code = "too_large"


class UnsupportedMediaType(HubError):
    status = 415
    code = "unsupported_media_type"


# Short codes for statuses raised without a HubError (FastAPI, Starlette, other modules).
STATUS_CODES: Mapping[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    411: "length_required",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    423: "locked",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


def code_for(status: int) -> str:
    return STATUS_CODES.get(status, "client_error" if status < 500 else "server_error")
