"""Typed API errors: every error response carries a message, a code and the request id."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.logging import request_id_var

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with an HTTP status; `retryable` tells the client whether trying again can help."""

    status_code = 400
    code = "bad_request"
    retryable = False

    def __init__(self, message: str, *, headers: dict[str, str] | None = None, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}
        if retryable is not None:
            self.retryable = retryable


class InvalidInput(ApiError):
    status_code, code = 422, "invalid_input"


class NotFound(ApiError):
    status_code, code = 404, "not_found"


class Unauthorized(ApiError):
    """No API key, or one that is not valid (unknown, revoked, malformed)."""

    status_code, code = 401, "unauthorized"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    """A valid key that may not do this (a scope it lacks, another user's data)."""

    status_code, code = 403, "forbidden"


class Conflict(ApiError):
    """The item exists but is not in a state that allows this (a voice print that must be made again)."""

    status_code, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status_code, code = 413, "payload_too_large"


class ServiceBusy(ApiError):
    status_code, code, retryable = 503, "busy", True

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after_s)})


class ModelUnavailable(ApiError):
    status_code, code, retryable = 503, "model_unavailable", True


def error_body(code: str, message: str, **extra: object) -> dict[str, object]:
    return {"detail": message, "code": code, "request_id": request_id_var.get(), **extra}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        if exc.status_code >= 500:
            logger.warning("request failed: %s", exc.message, extra={"code": exc.code})
        return JSONResponse(
            error_body(exc.code, exc.message, retryable=exc.retryable),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
        ]
        message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        return JSONResponse(error_body("invalid_input", message, errors=errors), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body("http_error", str(exc.detail)), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error")
        return JSONResponse(error_body("internal_error", "internal server error"), status_code=500)
