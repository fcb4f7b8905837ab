"""Errors on the OpenAI-compatible routes (/v1/...) in OpenAI's shape, where an OpenAI client reads them:
`{"error": {"message", "type", "param", "code", "request_id"}}`, and a request the fleet finds invalid
(its 422) is OpenAI's 400, the client's BadRequestError. Every other route keeps the fleet's shape
(services/common/errors.py): the middleware rewrites only JSON error responses under /v1/, whoever
made them (a route, the error handlers, API keys, per-client limits, an unknown path)."""

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX = "/v1/"
TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error", 429: "rate_limit_error"}


def openai_error(status: int, body: dict) -> tuple[int, dict]:
    """The fleet's error body (`detail`, `code`, `request_id`, maybe `errors`) as OpenAI's, and its status."""
    if status == 422:
        status = 400
    kind = TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    errors = body.get("errors") or []
    location = [str(part) for part in errors[0].get("loc", [])[1:]] if errors else []
    error = {
        "message": str(body.get("detail", "")),
        "type": kind,
        "param": ".".join(location) or None,
        "code": body.get("code"),
        "request_id": body.get("request_id"),
    }
    return status, {"error": error}


class OpenAIErrorMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        parts: list[bytes] = []

        async def send_rewritten(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and message["status"] >= 400 and _is_json(message):
                held = message
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            parts.append(message.get("body", b""))
            if message.get("more_body"):
                return
            await _send_error(send, held, b"".join(parts))

        await self.app(scope, receive, send_rewritten)


def _is_json(start: Message) -> bool:
    return any(name.lower() == b"content-type" and b"json" in value for name, value in start.get("headers", []))


async def _send_error(send: Send, start: Message, payload: bytes) -> None:
    try:
        body = json.loads(payload)
    except ValueError:
        body = None
    if not isinstance(body, dict) or "detail" not in body:  # not the fleet's error: as it was
        await send(start)
        await send({"type": "http.response.body", "body": payload})
        return
    status, rewritten = openai_error(start["status"], body)
    data = json.dumps(rewritten).encode()
    headers = [(name, value) for name, value in start.get("headers", []) if name.lower() != b"content-length"]
    headers.append((b"content-length", str(len(data)).encode()))
    await send({**start, "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
