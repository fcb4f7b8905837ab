"""The OpenAI-compatible chat model, streamed token by token with the `openai` package.

Credentials: the configured LLM_API_KEY goes only to the configured LLM_BASE_URL. A client's own
`llm_base_url` gets no key at all (and none of the openai package's environment fallbacks: OPENAI_API_KEY,
OPENAI_ORG_ID, OPENAI_PROJECT_ID): the protocol has no field for a client's key, so such an LLM must be one
that needs none."""

from collections.abc import AsyncIterator

from openai import APIConnectionError, APIError, APIStatusError, AsyncOpenAI, Omit

from services.voicechat.addresses import OutboundRefused
from services.voicechat.outbound import llm_http_client
from services.voicechat.urls import Endpoint

# Per request, so that nothing the openai package finds in the server's environment reaches a client's URL.
NO_CREDENTIALS = {"Authorization": Omit(), "OpenAI-Organization": Omit(), "OpenAI-Project": Omit()}


class LlmError(RuntimeError):
    pass


class Llm:
    def __init__(self, endpoint: Endpoint, model: str, api_key: str | None, timeout_s: float, max_tokens: int) -> None:
        """`api_key` None: send no credentials (a client's own URL)."""
        self.model = model
        self.max_tokens = max_tokens
        self._headers = NO_CREDENTIALS if api_key is None else {}
        self._client = AsyncOpenAI(
            base_url=endpoint.url,
            api_key=api_key or "none",  # without a key the package would read OPENAI_API_KEY
            timeout=timeout_s,
            max_retries=0,
            http_client=llm_http_client(endpoint, timeout_s),
        )

    async def stream(self, messages: list[dict[str, str]]) -> AsyncIterator[str]:
        try:
            stream = await self._client.chat.completions.create(
                model=self.model,
                messages=messages,
                stream=True,
                max_tokens=self.max_tokens,
                extra_headers=self._headers,
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except APIStatusError as exc:
            if 300 <= exc.status_code < 400:
                raise LlmError(f"the LLM answered HTTP {exc.status_code}; redirects are not followed") from exc
            raise LlmError(f"the LLM failed: {type(exc).__name__}: {exc}") from exc
        except APIConnectionError as exc:
            if isinstance(exc.__cause__, OutboundRefused):
                raise LlmError(f"llm_base_url refused: {exc.__cause__}") from exc
            raise LlmError(f"the LLM is unreachable: {exc}") from exc
        except APIError as exc:
            raise LlmError(f"the LLM failed: {type(exc).__name__}: {exc}") from exc
        except OSError as exc:
            raise LlmError(f"the LLM is unreachable: {exc}") from exc

    async def close(self) -> None:
        await self._client.close()
