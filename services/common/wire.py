"""Parsing shared by the WebSocket protocols: JSON objects and base64 int16 PCM, checked once."""

import base64
import binascii
import json


class ProtocolError(ValueError):
    """A bad client message: answered with an `error` event; the connection stays usable."""


def parse_json_object(text: str) -> dict:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"message is not valid JSON ({exc.msg})") from None
    if not isinstance(raw, dict):
        raise ProtocolError("message must be a JSON object")
    return raw


def decode_pcm(data: str) -> bytes:
    """int16 PCM bytes from base64; an odd byte count is refused."""
    try:
        pcm = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("audio_base_64 is not valid base64") from None
    if len(pcm) % 2:
        raise ProtocolError(f"audio must be int16 PCM: {len(pcm)} bytes is an odd byte count")
    return pcm
