"""HeyGen's error objects, in the two dialects a client may be speaking.

v3 answers `{"error": {"code", "message", "param"?, "doc_url"}}`; the v1/v2 endpoints answer
`{"error": {"code", "message"}, "data": null}`. The dialect follows the request path, so
every layer (auth, faults, idempotency, routes) can raise one `ApiError` and get it right.
"""

from __future__ import annotations

from typing import Any, Literal

from starlette.responses import JSONResponse

Dialect = Literal["v2", "v3"]

DOC_URL = "https://docs.heygen.com/reference/errors"

DEFAULT_CODES: dict[int, tuple[str, str]] = {
    400: ("invalid_parameter", "The request is invalid"),
    401: ("unauthorized", "Invalid or missing API key"),
    402: ("insufficient_credit", "Not enough credit to complete this request"),
    403: ("forbidden", "You do not have access to this resource"),
    404: ("not_found", "The requested resource was not found"),
    405: ("method_not_allowed", "This method is not allowed on this path"),
    409: ("request_in_progress", "A request with this Idempotency-Key is still being processed"),
    413: ("payload_too_large", "The request body is too large"),
    429: ("rate_limit_exceeded", "Too many requests; retry after the Retry-After interval"),
}


class ApiError(Exception):
    """One HeyGen error answer: HTTP status, stable code, message, and the offending param."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.headers = headers or {}


def invalid(param: str, message: str) -> ApiError:
    """The 400 every validation failure becomes, naming the parameter."""
    return ApiError(400, "invalid_parameter", message, param=param)


def for_status(status: int, retry_after: int | None = None) -> ApiError:
    """A plausible HeyGen error for a bare HTTP status (used by injected faults)."""
    code, message = DEFAULT_CODES.get(status, ("internal_error", "An internal error occurred"))
    headers = {"Retry-After": str(retry_after)} if status == 429 and retry_after else None
    return ApiError(status, code, message, headers=headers)


def dialect_for(path: str) -> Dialect:
    return "v3" if path.startswith("/v3/") else "v2"


def error_body(dialect: Dialect, error: ApiError) -> dict[str, Any]:
    if dialect == "v2":
        return {"error": {"code": error.code, "message": error.message}, "data": None}
    detail: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.param is not None:
        detail["param"] = error.param
    detail["doc_url"] = f"{DOC_URL}#{error.code}"
    return {"error": detail}


def error_response(path: str, error: ApiError) -> JSONResponse:
    body = error_body(dialect_for(path), error)
    return JSONResponse(body, status_code=error.status, headers=error.headers)
