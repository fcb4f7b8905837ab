"""GET /webrtc-demo: a minimal page that talks to the agent (and that the browser test drives)."""

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["webrtc"])
PAGE = Path(__file__).resolve().parents[1] / "static" / "webrtc-demo.html"


@router.get("/webrtc-demo", response_class=HTMLResponse, summary="A demo page for the WebRTC voice agent")
async def webrtc_demo() -> HTMLResponse:
    return HTMLResponse(PAGE.read_text(encoding="utf-8"))
