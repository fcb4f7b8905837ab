"""GET /console: the web console, static files (ES modules, one stylesheet) served with a strict
Content-Security-Policy: everything from the page's own origin, nothing inline (docs/CONSOLE.md); and
/console/config.json, what the page needs to know before its first API call (whether keys are required)."""

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse

from services.common.errors import NotFound
from services.webrtc.dependencies import WebrtcDep

router = APIRouter(tags=["console"], include_in_schema=False)
ROOT = Path(__file__).resolve().parents[1] / "static" / "console"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; media-src 'self' blob:; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def console_files() -> dict[str, Path]:
    """The console's files by their path under /console/: only these are served (no path is resolved)."""
    return {p.relative_to(ROOT).as_posix(): p for p in ROOT.rglob("*") if p.suffix in MEDIA_TYPES}


FILES = console_files()


@router.get("/console")
async def console_root() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=308)


@router.get("/console/config.json")
async def console_config(webrtc: WebrtcDep) -> JSONResponse:
    """With keys on the page asks for one before it calls the API (so no request of its is refused)."""
    return JSONResponse({"auth_required": webrtc.settings.auth_required}, headers=HEADERS)


@router.get("/console/{name:path}")
async def console_file(name: str) -> FileResponse:
    path = FILES.get(name or "index.html")
    if path is None:
        raise NotFound(f"no console file {name[:100]!r}")
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=HEADERS)
