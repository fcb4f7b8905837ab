"""A real HTTP server speaking the OpenAI streaming chat-completions protocol with scripted replies:
the LLM a user would bring, made deterministic for the voice-chat tests and benchmark."""

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

Script = Callable[[str], str]


def default_script(user_text: str) -> str:
    if "still there" in user_text:
        return "Are you still there?"
    if "fail" in user_text.lower():
        raise RuntimeError("scripted failure")
    if "japanese" in user_text.lower():
        return "[ja] こんにちは。元気ですか。"
    if "story" in user_text.lower():
        return " ".join(f"This is sentence number {i} of a long story about the sea." for i in range(1, 30))
    return f"You said: {user_text.strip().rstrip('.')}. Thanks."


class ScriptedLlm:
    def __init__(self, script: Script = default_script, token_delay_s: float = 0.0) -> None:
        self.script = script
        self.token_delay_s = token_delay_s
        self.requests: list[list[dict[str, str]]] = []
        self.app = FastAPI()
        self.app.post("/v1/chat/completions", response_model=None)(self._complete)

    async def _complete(self, request: Request) -> StreamingResponse | JSONResponse:
        body = await request.json()
        self.requests.append(body["messages"])
        try:
            reply = self.script(body["messages"][-1]["content"])
        except RuntimeError as exc:
            return JSONResponse({"error": {"message": str(exc), "type": "server_error"}}, status_code=500)
        return StreamingResponse(self._chunks(reply, body.get("model", "scripted")), media_type="text/event-stream")

    async def _chunks(self, reply: str, model: str) -> AsyncIterator[str]:
        created = int(time.time())
        pieces = [reply[i : i + 4] for i in range(0, len(reply), 4)]
        for piece in pieces:
            chunk = {
                "id": "chatcmpl-scripted",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
            }
            yield f"data: {json.dumps(chunk)}\n\n"
            if self.token_delay_s:
                await asyncio.sleep(self.token_delay_s)
        done = {
            "id": "chatcmpl-scripted",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        }
        yield f"data: {json.dumps(done)}\n\n"
        yield "data: [DONE]\n\n"


@contextmanager
def scripted_llm_server(port: int = 8299, **kwargs: object) -> Iterator[ScriptedLlm]:
    llm = ScriptedLlm(**kwargs)
    server = uvicorn.Server(uvicorn.Config(llm.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the scripted LLM did not start")
        time.sleep(0.05)
    try:
        yield llm
    finally:
        server.should_exit = True
        thread.join(5)
