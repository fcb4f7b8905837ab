"""Time-limited TURN credentials (the TURN REST scheme): the HMAC a TURN server checks, and GET /ice-servers
of the webrtc app in process with and without TURN_SECRET; the secret shows in no log line."""

import base64
import hashlib
import hmac
import json
import logging
import time

import pytest

from services.webrtc.settings import WebrtcSettings
from services.webrtc.turn import turn_credential
from tests.in_process import ServiceApp

SECRET = "turn-shared-s3cret-9c1d"
TURN_URLS = ["turn:turn.example.org:3478", "turns:turn.example.org:5349"]
STUN = {"urls": "stun:stun.example.org:3478"}


def test_the_credential_is_the_rest_scheme_hmac() -> None:
    # `echo -n 1700000000:alice | openssl dgst -sha1 -hmac s3cret -binary | base64`
    assert turn_credential("s3cret", "1700000000:alice") == "TtElzSjT0GdnTQ9xdcRNxx96yQs="


def coturn_accepts(username: str, credential: str, now: float) -> bool:
    """What coturn does with use-auth-secret: the same HMAC over the username, and an expiry not past."""
    digest = hmac.new(SECRET.encode(), username.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), credential) and int(username.split(":")[0]) > now


def test_ice_servers_hand_out_fresh_expiring_turn_credentials(service_app: ServiceApp, tmp_path, caplog, capfd) -> None:
    caplog.set_level(logging.DEBUG)
    env = {"TURN_SECRET": SECRET, "TURN_URLS": json.dumps(TURN_URLS), "TURN_TTL_S": "600", "LOG_LEVEL": "DEBUG"}
    with service_app("webrtc", tmp_path, ICE_SERVERS=json.dumps([STUN]), **env) as client:
        before = time.time()
        answers = [client.get("/ice-servers") for _ in range(2)]
        after = time.time()
        readiness = client.get("/readyz").text
    assert all(answer.headers["cache-control"] == "no-store" for answer in answers)  # each is its own credential
    first, second = (answer.json()["iceServers"] for answer in answers)
    assert first[0] == STUN and second[0] == STUN  # static entries pass through
    turns = [first[1], second[1]]
    for turn in turns:
        assert turn["urls"] == TURN_URLS
        expiry = int(turn["username"].split(":")[0])
        assert before + 600 - 1 <= expiry <= after + 600
        assert coturn_accepts(turn["username"], turn["credential"], now=after)
        assert not coturn_accepts(turn["username"], turn["credential"], now=expiry)  # expired after the TTL
    assert turns[0]["username"] != turns[1]["username"]
    out, err = capfd.readouterr()
    assert caplog.records or err  # the app logged, and
    assert SECRET not in caplog.text + out + err + readiness  # never the secret


def test_without_a_secret_ice_servers_are_handed_out_as_configured(service_app: ServiceApp, tmp_path) -> None:
    static = [STUN, {"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}]
    with service_app("webrtc", tmp_path, ICE_SERVERS=json.dumps(static)) as client:
        assert client.get("/ice-servers").json() == {
            "iceServers": static,
            "bundlePolicy": "max-bundle",
            "rtcpMuxPolicy": "require",
        }


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"turn_secret": SECRET}, "go together"),
        ({"turn_urls": TURN_URLS}, "go together"),
        ({"turn_secret": SECRET, "turn_urls": ["stun:stun.example.org:3478"]}, "turn: or turns:"),
        ({"turn_secret": SECRET, "turn_urls": TURN_URLS, "turn_ttl_s": 10}, "greater than or equal"),
    ],
)
def test_turn_settings_are_checked_at_start_without_echoing_the_secret(env: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle) as refused:
        WebrtcSettings(_env_file=None, **env)
    assert SECRET not in str(refused.value)
