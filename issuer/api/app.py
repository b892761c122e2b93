"""The FastAPI application: routers, error mapping, request size limit.

Errors are answered as ``{"detail": "...", "errors": [{"field": ..., "message": ...}]}``:
422 for data that is not valid (field by field), 401 without valid credentials, 403 for a
missing role or a four-eyes violation, 404, 409 for a state conflict, 413/415 for a bad
upload, 429 when logins are throttled. An unexpected failure is a 500 that says nothing
about the inside (it is logged without request data).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from crypto import SscError
from issuer import auth
from issuer.api.deps import Forbidden, Unauthenticated
from issuer.api.routers import admin, applications, cards, public, registry, station
from issuer.api.routers import auth as auth_routes
from issuer.api.routers import ecard as ecard_routes
from issuer.api.routers import terminal_events as terminal_event_routes
from issuer.services.errors import ServiceError
from issuer.services.runtime import Runtime

log = logging.getLogger("issuer.api")
MAX_BODY = 4 * 1024 * 1024


def _problem(status: int, detail: str, errors: list[dict] | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "errors": errors or []}, status_code=status, headers=headers)


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "form"):
        parts = parts[1:] if len(parts) > 1 else parts
    return ".".join(parts)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field(e["loc"]), "message": str(e["msg"]).removeprefix("Value error, ")}
                  for e in exc.errors()]
        return _problem(422, "the request is not valid: " + "; ".join(f"{e['field']}: {e['message']}"
                                                                      for e in errors[:5]), errors)

    @app.exception_handler(ServiceError)
    async def refused(_request: Request, exc: ServiceError) -> JSONResponse:
        return _problem(exc.status, exc.message, exc.errors)

    @app.exception_handler(SscError)
    async def crypto_refused(_request: Request, exc: SscError) -> JSONResponse:
        return _problem(422, f"{exc.reason.value}: {exc.message}", getattr(exc, "errors", []))

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(_request: Request, exc: Unauthenticated) -> JSONResponse:
        return _problem(401, str(exc), headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(auth.LoginThrottled)
    async def throttled(_request: Request, exc: auth.LoginThrottled) -> JSONResponse:
        return _problem(429, str(exc), headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(Forbidden)
    async def forbidden(_request: Request, exc: Forbidden) -> JSONResponse:
        return _problem(403, str(exc))

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
        return _problem(500, "internal error; the operation was not completed")


class BodyLimit:
    """Refuse request bodies larger than `limit` before they are read into memory (413)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            response = _problem(413, f"the request body is larger than {self.limit} bytes")
            return await response(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge()
            return message
        try:
            return await self.app(scope, limited, send)
        except _TooLarge:
            return await _problem(413, f"the request body is larger than {self.limit} bytes")(scope, receive, send)


class _TooLarge(Exception):
    pass


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="sscard issuer", version="1",
                  description="Enrolment, four-eyes approval, the card lifecycle and trust-list publication "
                              "for the social security card that carries the Foreigner's Work Permit.")
    app.state.runtime = runtime
    for module in (auth_routes, registry, applications, cards, station, admin, public):
        app.include_router(module.router)
    app.include_router(ecard_routes.router)
    app.include_router(terminal_event_routes.router)
    _install_handlers(app)
    app.add_middleware(BodyLimit, limit=max(MAX_BODY, runtime.settings.photo_max_upload_bytes + 64 * 1024))
    return app
