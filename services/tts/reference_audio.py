"""Voice-cloning speakers' reference recordings, asked of the catalog over HTTP and kept in memory.

An entry is used as long as the speaker's `updated_at` (from the catalog's speaker answer) is the one it
was fetched under; otherwise it is revalidated with `If-None-Match` (304: kept) or replaced. The cache holds
at most `max_bytes` of recordings, the least recently used dropped first; a recording larger than that is
used without being kept.

Entries are by speaker, not by caller: `wav` is only called with a speaker the catalog has just answered
for this caller (`CatalogClient.speaker` on its behalf, cached per caller's key), so a recording is never
used for a caller who may not see its speaker; a revalidation or fetch goes on that caller's behalf too."""

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import Counter, Gauge

from services.common.catalog_client import CatalogClient, CatalogSpeaker, Headers

LOOKUPS = Counter(
    "tts_reference_audio_lookups_total",
    "Reference recordings asked of the cache: hit (no request), revalidated (304), fetched (from the catalog)",
    ["result"],
)
CACHED_BYTES = Gauge("tts_reference_audio_cached_bytes", "Bytes of reference recordings kept in memory")


@dataclass(frozen=True)
class Entry:
    wav: bytes
    etag: str
    updated_at: datetime | None


class ReferenceAudioCache:
    def __init__(self, catalog: CatalogClient, max_bytes: int) -> None:
        self._catalog = catalog
        self._max_bytes = max_bytes
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._bytes = 0

    async def wav(self, speaker: CatalogSpeaker, on_behalf: Headers) -> bytes:
        """The recording (24 kHz mono WAV) of `speaker`, as the catalog answered it to the caller whose
        headers are `on_behalf`; CatalogUnavailable when it has to be asked and cannot."""
        entry = self._entries.get(speaker.id)
        if entry is not None and entry.updated_at is not None and entry.updated_at == speaker.updated_at:
            self._entries.move_to_end(speaker.id)
            LOOKUPS.labels("hit").inc()
            return entry.wav
        fetched = await self._catalog.reference_recording(speaker.id, on_behalf, entry.etag if entry else None)
        if fetched is not None:
            LOOKUPS.labels("fetched").inc()
            entry = Entry(fetched.wav, fetched.etag, speaker.updated_at)
        elif entry is not None:  # 304, answered only to the entry's own ETag: the same recording
            LOOKUPS.labels("revalidated").inc()
            entry = Entry(entry.wav, entry.etag, speaker.updated_at)
        self._keep(speaker.id, entry)
        return entry.wav

    def _keep(self, speaker_id: str, entry: Entry) -> None:
        old = self._entries.pop(speaker_id, None)
        if old is not None:
            self._bytes -= len(old.wav)
        if len(entry.wav) <= self._max_bytes:
            self._entries[speaker_id] = entry
            self._bytes += len(entry.wav)
        while self._bytes > self._max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= len(dropped.wav)
        CACHED_BYTES.set(self._bytes)
