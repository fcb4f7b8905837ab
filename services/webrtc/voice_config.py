"""The session configuration an offer asks for, checked against the speaker catalog.

The agent's voice is always a catalog speaker: `reference_audio` may only name the selected speaker's own
recording (a client's file name never becomes a path here or anywhere), and `reference_text` must be its
transcript. The conversation language defaults to the speaker's.
"""

import httpx

from services.common.catalog_client import CatalogClient, CatalogSpeaker, Headers, UnknownReference
from services.common.errors import InvalidInput
from services.webrtc.signalling import Offer


async def session_config(
    offer: Offer, catalog: httpx.AsyncClient, default_language: str | None, on_behalf: Headers
) -> dict[str, object]:
    """The orchestrator's config message (without its `type`) for this offer; `catalog` is the HTTP client
    whose base URL is the catalog's (each offer asks it afresh: nothing is cached), asked with the
    caller's headers `on_behalf` (another user's speaker is unknown)."""
    config: dict[str, object] = {}
    language = offer.language
    if (offer.reference_audio is not None or offer.reference_text is not None) and offer.speaker_id is None:
        raise InvalidInput("reference_audio and reference_text select a recording of a speaker: send speaker_id")
    if offer.speaker_id is not None:
        try:
            speaker = await CatalogClient(catalog).speaker(offer.speaker_id, on_behalf)
        except UnknownReference as exc:
            raise InvalidInput(str(exc)) from exc
        _check_reference(offer, speaker)
        config["speaker_id"] = speaker.id
        language = language or speaker.language
    if offer.collection_id is not None:
        config["collection_id"] = offer.collection_id
    if offer.user_system_prompt:
        config["user_system_prompt"] = offer.user_system_prompt
    language = language or default_language
    if language is not None:
        config["language"] = language
    return config


def _check_reference(offer: Offer, speaker: CatalogSpeaker) -> None:
    if offer.reference_audio is not None and offer.reference_audio != speaker.reference_audio:
        if speaker.reference_audio is None:
            raise InvalidInput(f"speaker {speaker.id} is not a voice-cloning speaker; it has no reference_audio")
        raise InvalidInput(f"reference_audio {offer.reference_audio!r} is not speaker {speaker.id}'s recording")
    expected_text = (speaker.reference_text or "").strip()
    if offer.reference_text is not None and offer.reference_text.strip() != expected_text:
        raise InvalidInput(f"reference_text does not match speaker {speaker.id}'s reference recording")
