"""Speakers and collections from the catalog service over HTTP, cached for a short while."""

import time
from typing import Any

import httpx

from services.common.errors import ServiceBusy
from services.tts.engines.base import Voice


class CatalogUnavailable(ServiceBusy):
    """The catalog could not be asked: 503 + Retry-After over HTTP, an `error` event on /ws/tts."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after_s=5)


class UnknownReference(LookupError):
    """The request names a speaker or collection the catalog does not have."""


class CatalogClient:
    def __init__(self, base_url: str, cache_s: float) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=5.0)
        self._cache_s = cache_s
        self._cache: dict[str, tuple[float, Any]] = {}

    async def close(self) -> None:
        await self._http.aclose()

    async def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        key = f"{path}?{sorted((params or {}).items())}"
        cached = self._cache.get(key)
        if cached and time.monotonic() - cached[0] < self._cache_s:
            return cached[1]
        try:
            response = await self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise CatalogUnavailable(f"the speaker catalog is unreachable ({type(exc).__name__})") from exc
        if response.status_code == 404:
            body = None
        elif response.status_code == 200:
            body = response.json()
        else:
            raise CatalogUnavailable(f"the speaker catalog answered {response.status_code}")
        self._cache[key] = (time.monotonic(), body)
        return body

    async def speaker(self, speaker_id: str) -> dict[str, Any]:
        body = await self._get(f"/api/speakers/{speaker_id}")
        if body is None:
            raise UnknownReference(f"unknown speaker_id {speaker_id}")
        return body

    async def collection_speaker_id(self, collection_id: str, language: str) -> str | None:
        body = await self._get(f"/internal/collections/{collection_id}")
        if body is None:
            raise UnknownReference(f"unknown collection_id {collection_id}")
        entry = body["langs"].get(language)
        return entry["id"] if entry else None

    async def default_speaker(self, language: str) -> dict[str, Any]:
        body = await self._get("/api/speakers", {"language": language})
        defaults = [s for s in body["speakers"] if s["default"]] if body else []
        if not defaults:
            raise UnknownReference(f"no default speaker for language {language}")
        return defaults[0]


def voice_of(speaker: dict[str, Any]) -> Voice:
    return Voice(
        engine=speaker["engine"],
        voice=speaker["voice"],
        language=speaker["language"],
        reference_audio=speaker.get("reference_audio"),
        reference_text=speaker.get("reference_text"),
    )
