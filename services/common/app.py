"""The one skeleton every service is built on: settings, logging, middleware, health and metrics."""

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.common.auth import AuthMiddleware, KeyVerifier
from services.common.auth_client import HttpKeyVerifier
from services.common.errors import install_error_handlers
from services.common.limits import ClientLimits, ClientLimitsMiddleware
from services.common.logging import configure_logging
from services.common.middleware import MetricsMiddleware, RequestIdMiddleware
from services.common.openai_errors import OpenAIErrorMiddleware
from services.common.settings import ServiceSettings

logger = logging.getLogger(__name__)
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
ReadinessCheck = Callable[[], tuple[bool, dict[str, object]]]


@asynccontextmanager
async def _no_lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield


def create_app(
    *,
    service: str,
    scope: str,
    settings: ServiceSettings,
    routers: list[APIRouter],
    readiness: ReadinessCheck,
    lifespan: Lifespan = _no_lifespan,
    description: str = "",
    verifier: KeyVerifier | None = None,
) -> FastAPI:
    """Build a service app with `/healthz`, `/readyz`, `/metrics`, request ids, typed errors and API keys.

    `readiness` reports whether the service's models are loaded (and details for `/readyz`). `scope` is the
    API-key scope the service's routes need (services.common.auth.SCOPES); keys are checked by `verifier`,
    by default over HTTP at AUTH_VERIFY_URL (the catalog passes its own, in process).
    """
    configure_logging(service, settings.log_level, settings.log_json, settings.log_health_probes)
    limits = None
    if settings.rate_limit_per_minute or settings.max_client_sessions:
        limits = ClientLimits(service, settings.rate_limit_per_minute, settings.max_client_sessions, settings.redis_url)
    if verifier is None and settings.auth_required:
        verifier = HttpKeyVerifier.connect(settings.auth_verify_url, settings.auth_cache_s)
    if settings.auth_required and settings.service_token is None:
        logger.warning("AUTH_REQUIRED without SERVICE_TOKEN: a call between services needs the callee's scope")

    @asynccontextmanager
    async def lifespan_then_close_clients(app: FastAPI) -> AsyncIterator[None]:
        async with lifespan(app):
            yield
        if limits is not None:
            await limits.counters.close()
        if verifier is not None:
            await verifier.close()

    app = FastAPI(
        title=f"voicefleet {service}",
        description=description,
        lifespan=lifespan_then_close_clients,
        max_body_size=settings.max_upload_mb * 1024 * 1024,
    )
    app.state.settings = settings
    # Outermost last: OpenAI's error shape on /v1/, request id, metrics, per-client limits (before any key is
    # checked), API keys.
    app.add_middleware(AuthMiddleware, service_scope=scope, settings=settings, verifier=verifier)
    if limits is not None:
        app.add_middleware(ClientLimitsMiddleware, limits=limits)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(OpenAIErrorMiddleware)
    install_error_handlers(app)

    _add_ops_routes(app, service, readiness)
    for router in routers:
        app.include_router(router)
    if settings.auth_required:
        _document_bearer_keys(app)
    return app


def _add_ops_routes(app: FastAPI, service: str, readiness: ReadinessCheck) -> None:
    @app.get("/healthz", tags=["ops"], summary="Liveness: the process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get("/readyz", tags=["ops"], summary="Readiness: models are loaded and requests can be served")
    async def readyz() -> JSONResponse:
        ready, details = readiness()
        body = {"status": "ready" if ready else "not_ready", "service": service, **details}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _document_bearer_keys(app: FastAPI) -> None:
    """With keys on, the OpenAPI document says so (and /docs gets its Authorize button)."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = generate()
            schema.setdefault("components", {})["securitySchemes"] = {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "An API key (docs/SECURITY.md)."}
            }
            schema["security"] = [{"apiKey": []}]
        return app.openapi_schema

    app.openapi = openapi
