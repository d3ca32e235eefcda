"""The FastAPI application: routers, error rendering, and the fault/counting middleware."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from .errors import ApiError, envelope
from .fault_middleware import FaultMiddleware
from .http import error_response, json_response
from .routes_files import router as files_router
from .routes_misc import router as misc_router
from .runtime import Runtime


def create_app(rt: Runtime) -> FastAPI:
    """An ASGI app serving the Mathpix contract from ``rt`` (no docs pages: the paths are the API's)."""
    app = FastAPI(title="Mathpix API emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.rt = rt
    app.include_router(misc_router)
    app.include_router(files_router)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "bad_request")
        message = f"{request.method} {request.url.path}: {exc.detail}"
        return json_response(envelope(code, message), exc.status_code)

    app.add_middleware(FaultMiddleware, injector=rt.faults, stats=rt.stats)
    return app
