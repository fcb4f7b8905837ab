"""The speaker catalog over HTTP, for the services that pick a voice (tts, webrtc): typed speakers and
collections, answers cached for a short while, speakers' reference recordings, and one error for "the
catalog cannot be asked" (503 + Retry-After over HTTP, an `error` event on a WebSocket).

Every lookup is made on behalf of a caller: `on_behalf` is `forward_headers(identity, settings)`, so that
with API keys the catalog answers what that caller may see (another user's speaker is not found). Cached
answers are kept per caller's key, never served to another one."""

import hashlib
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

import httpx
from pydantic import BaseModel, ConfigDict

from services.common.errors import ServiceBusy

Headers = Mapping[str, str]
CATALOG_TIMEOUT_S = 5.0
MAX_CACHED_ANSWERS = 1024  # the oldest answer goes first past this (ids are the client's choice)


class CatalogUnavailable(ServiceBusy):
    """The catalog could not be asked (unreachable, or an answer other than found / not found)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after_s=5)


class UnknownReference(LookupError):
    """The request names a speaker or collection the catalog does not have; the message is for the client."""


class CatalogSpeaker(BaseModel):
    """A speaker as `GET /internal/speakers/{id}` returns it (fields the catalog adds later are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    name: str
    language: str
    user_id: str
    engine: str
    voice: str
    reference_audio: str | None = None
    reference_text: str | None = None
    default: bool = False
    updated_at: datetime | None = None


class CollectionSpeaker(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    name: str


class CatalogCollection(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    name: str
    langs: dict[str, CollectionSpeaker]

    def speaker_id(self, language: str) -> str | None:
        entry = self.langs.get(language)
        return entry.id if entry else None


@dataclass(frozen=True)
class ReferenceRecording:
    """A speaker's reference recording (24 kHz mono WAV) and the catalog's ETag for it."""

    wav: bytes
    etag: str


def canonical_id(value: str, what: str) -> str:
    """The UUID in its canonical form; anything else is unknown (and never becomes part of a URL)."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise UnknownReference(f"unknown {what} {value[:64]}") from None


class CatalogClient:
    """Reads the catalog through `http` (its base URL is the catalog's); answers are reused for `cache_s`."""

    def __init__(self, http: httpx.AsyncClient, cache_s: float = 0.0) -> None:
        self._http = http
        self._cache_s = cache_s
        self._cache: dict[str, tuple[float, Any]] = {}

    @classmethod
    def connect(cls, base_url: str, cache_s: float) -> Self:
        return cls(httpx.AsyncClient(base_url=base_url, timeout=CATALOG_TIMEOUT_S), cache_s)

    async def close(self) -> None:
        await self._http.aclose()

    async def speaker(self, speaker_id: str, on_behalf: Headers) -> CatalogSpeaker:
        path = f"/internal/speakers/{canonical_id(speaker_id, 'speaker_id')}"
        body = await self._get_json(path, on_behalf)
        if body is None:
            raise UnknownReference(f"unknown speaker_id {speaker_id}")
        return CatalogSpeaker.model_validate(body)

    async def collection(self, collection_id: str, on_behalf: Headers) -> CatalogCollection:
        path = f"/internal/collections/{canonical_id(collection_id, 'collection_id')}"
        body = await self._get_json(path, on_behalf)
        if body is None:
            raise UnknownReference(f"unknown collection_id {collection_id}")
        return CatalogCollection.model_validate(body)

    async def default_speaker(self, language: str, on_behalf: Headers) -> CatalogSpeaker:
        body = await self._get_json("/internal/speakers", on_behalf, {"language": language})
        defaults = [s for s in body["speakers"] if s["default"]] if body else []
        if not defaults:
            raise UnknownReference(f"no default speaker for language {language}")
        return CatalogSpeaker.model_validate(defaults[0])

    async def reference_recording(
        self, speaker_id: str, on_behalf: Headers, etag: str | None = None
    ) -> ReferenceRecording | None:
        """The speaker's recording, or None when it still has `etag` (never cached here: the caller keeps it)."""
        path = f"/internal/speakers/{canonical_id(speaker_id, 'speaker_id')}/reference-audio"
        response = await self._request(path, headers={**on_behalf, **({"If-None-Match": etag} if etag else {})})
        if response.status_code == 304 and etag:
            return None
        if response.status_code in (404, 422):
            raise UnknownReference(f"speaker {speaker_id} has no reference recording")
        if response.status_code != 200:
            raise CatalogUnavailable(f"the speaker catalog answered {response.status_code}")
        return ReferenceRecording(response.content, response.headers.get("ETag", ""))

    async def _get_json(self, path: str, on_behalf: Headers, params: dict[str, str] | None = None) -> Any:
        """The JSON body, or None for not found (404, or 422 for an id the catalog refuses); both cached, by
        the caller's key too."""
        caller = hashlib.sha256(on_behalf.get("Authorization", "").encode()).hexdigest()
        key = f"{caller} {path}?{sorted((params or {}).items())}"
        cached = self._cache.get(key)
        if cached and time.monotonic() - cached[0] < self._cache_s:
            return cached[1]
        response = await self._request(path, params=params, headers=on_behalf)
        if response.status_code in (404, 422):
            body = None
        elif response.status_code == 200:
            body = response.json()
        else:
            raise CatalogUnavailable(f"the speaker catalog answered {response.status_code}")
        if self._cache_s > 0:
            self._remember(key, body)
        return body

    def _remember(self, key: str, body: Any) -> None:
        self._cache.pop(key, None)
        if len(self._cache) >= MAX_CACHED_ANSWERS:
            del self._cache[next(iter(self._cache))]
        self._cache[key] = (time.monotonic(), body)

    async def _request(
        self, path: str, params: dict[str, str] | None = None, headers: Headers | None = None
    ) -> httpx.Response:
        try:
            return await self._http.get(path, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise CatalogUnavailable(f"the speaker catalog is unreachable ({type(exc).__name__})") from exc
