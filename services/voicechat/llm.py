"""The OpenAI-compatible chat model, streamed token by token with the `openai` package."""

from collections.abc import AsyncIterator

from openai import APIError, AsyncOpenAI


class LlmError(RuntimeError):
    pass


class Llm:
    def __init__(self, base_url: str, model: str, api_key: str, timeout_s: float, max_tokens: int) -> None:
        self.model = model
        self.max_tokens = max_tokens
        self._client = AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=0)

    async def stream(self, messages: list[dict[str, str]]) -> AsyncIterator[str]:
        try:
            stream = await self._client.chat.completions.create(
                model=self.model, messages=messages, stream=True, max_tokens=self.max_tokens
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except APIError as exc:
            raise LlmError(f"the LLM failed: {type(exc).__name__}: {exc}") from exc
        except OSError as exc:
            raise LlmError(f"the LLM is unreachable: {exc}") from exc

    async def close(self) -> None:
        await self._client.close()
