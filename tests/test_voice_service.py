"""The voice service's app in process: voice prints that survive a restart (SQLite and PostgreSQL),
verification on the LibriSpeech trials, and clear errors for bad input."""

import wave
from pathlib import Path

import httpx
import numpy as np
import pytest
import sqlalchemy

from tests.audio_files import read_mono, wav_bytes
from tests.conftest import DATA
from tests.in_process import ServiceApp
from tests.voice import clip, speaker_of, trials

SPEAKERS = sorted({speaker_of(t["enroll"]) for t in trials()})


def enroll_clip(speaker: str) -> str:
    return next(
        t["enroll"] for t in trials() if speaker_of(t["enroll"]) == speaker and t["enroll"].endswith("0000.flac")
    )


def probe_clip(speaker: str) -> str:
    return next(t["test"] for t in trials() if speaker_of(t["test"]) == speaker and t["test"].endswith("0001.flac"))


def register(client: httpx.Client, relative: str, name: str = "Speaker") -> dict:
    response = client.post(
        "/voice/register",
        files={"file": clip(relative)},
        data={"name": name, "description": f"enrolled from {relative}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_register_verify_and_restart(service_app: ServiceApp, tmp_path: Path, database_env: dict[str, str]) -> None:
    """Every speaker of the trials registered; each verified against a second clip of all five speakers:
    same speaker ACCEPT, another speaker REJECT. After a restart the prints and the scores are the same."""
    scores: dict[tuple[str, str], float] = {}
    with service_app("voice", tmp_path, **database_env) as client:
        ids = {}
        for speaker in SPEAKERS:
            body = register(client, enroll_clip(speaker), name=f"LibriSpeech {speaker}")
            assert body["status"] == "success"
            assert body["file_path"] == f"speakers/{body['speaker_id']}.wav"
            with wave.open(str(tmp_path / "voice" / body["file_path"])) as stored:
                assert (stored.getframerate(), stored.getnchannels(), stored.getsampwidth()) == (16000, 1, 2)
            ids[speaker] = body["speaker_id"]
            assert bool(body["warnings"]) == (body["speech_seconds"] < 3.0), body
        for speaker, speaker_id in ids.items():
            files = [("files", clip(probe_clip(other))) for other in SPEAKERS]
            response = client.post(f"/voice/verify/{speaker_id}", files=files)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["speaker_id"] == speaker_id and body["reference"] == f"speakers/{speaker_id}.wav"
            for other, result in zip(SPEAKERS, body["results"], strict=True):
                assert result["file"] == Path(probe_clip(other)).name
                assert result["verdict"] == ("ACCEPT" if other == speaker else "REJECT"), (speaker, other, result)
                assert (result["score"] > 3.5) == (result["verdict"] == "ACCEPT")
                assert (tmp_path / "voice" / result["path"]).is_file()
                scores[speaker, other] = result["score"]

    with service_app("voice", tmp_path, **database_env) as client:  # a new service object on the same data
        listed = client.get("/voice/speakers").json()["speakers"]
        assert {s["speaker_id"] for s in listed} == set(ids.values())
        assert {s["name"] for s in listed} == {f"LibriSpeech {s}" for s in SPEAKERS}
        speaker = SPEAKERS[0]
        response = client.post(f"/voice/verify/{ids[speaker]}", files=[("files", clip(probe_clip(speaker)))])
        assert response.json()["results"][0]["score"] == pytest.approx(scores[speaker, speaker], abs=1e-3)

        assert client.delete(f"/voice/speakers/{ids[speaker]}").status_code == 204
        assert not (tmp_path / "voice" / f"speakers/{ids[speaker]}.wav").exists()
        gone = client.post(f"/voice/verify/{ids[speaker]}", files=[("files", clip(probe_clip(speaker)))])
        assert gone.status_code == 404


def test_verify_with_reference_follows_the_trials(service_app: ServiceApp, tmp_path: Path) -> None:
    with service_app("voice", tmp_path, KEEP_VERIFY_AUDIO="false") as client:
        for trial in trials():
            response = client.post(
                "/voice/verify_with_reference",
                files=[("reference", clip(trial["enroll"])), ("files", clip(trial["test"]))],
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["reference_file"] == Path(trial["enroll"]).name
            (result,) = body["results"]
            assert result["verdict"] == ("ACCEPT" if trial["label"] == "target" else "REJECT"), (trial, result)
            assert result["path"] is None
        assert not any((tmp_path / "voice" / "verifications").iterdir())


def test_bad_input_gets_clear_errors(service_app: ServiceApp, tmp_path: Path) -> None:
    good = clip(enroll_clip(SPEAKERS[0]))
    audio = read_mono(good[1])
    short = ("short.wav", wav_bytes(audio[:3200]))  # 0.2 s
    one_second = ("one.wav", wav_bytes(audio[16000:32000]))
    with service_app("voice", tmp_path) as client:
        speaker_id = register(client, enroll_clip(SPEAKERS[0]))["speaker_id"]
        cases = {
            "no name": client.post("/voice/register", files={"file": good}, data={"description": "d"}),
            "no description": client.post("/voice/register", files={"file": good}, data={"name": "n"}),
            "blank name": client.post("/voice/register", files={"file": good}, data={"name": " ", "description": "d"}),
            "no file": client.post("/voice/register", data={"name": "n", "description": "d"}),
            "short reference": client.post(
                "/voice/register", files={"file": one_second}, data={"name": "n", "description": "d"}
            ),
            "no files": client.post(f"/voice/verify/{speaker_id}", data={"x": "1"}),
            "empty file": client.post(f"/voice/verify/{speaker_id}", files=[("files", ("empty.wav", b""))]),
            "corrupt": client.post(
                f"/voice/verify/{speaker_id}", files=[("files", ("bad.wav", b"RIFF" + b"\0" * 500))]
            ),
            "0.2 s clip": client.post(f"/voice/verify/{speaker_id}", files=[("files", short)]),
            "too many": client.post(f"/voice/verify/{speaker_id}", files=[("files", good)] * 21),
            "no reference": client.post("/voice/verify_with_reference", files=[("files", good)]),
            "bad mode": client.post("/voice/anti-spoof", files=[("files", good)], data={"mode": "paranoid"}),
        }
        for case, response in cases.items():
            assert response.status_code == 422, (case, response.status_code, response.text)
            assert response.json()["code"] == "invalid_input" and response.json()["detail"], case
        assert "1.5 s needed" in cases["short reference"].json()["detail"]
        assert "short.wav" in cases["0.2 s clip"].json()["detail"]
        assert "bad.wav" in cases["corrupt"].json()["detail"]
        for unknown in ("00000000-0000-4000-8000-000000000000", "not-a-uuid"):
            response = client.post(f"/voice/verify/{unknown}", files=[("files", good)])
            assert response.status_code == 404 and response.json()["code"] == "not_found"
        assert client.get("/voice/speakers/not-a-uuid").status_code == 404
        # Nothing half-registered: only the one good registration is stored.
        assert len(client.get("/voice/speakers").json()["speakers"]) == 1
        assert len(list((tmp_path / "voice" / "speakers").iterdir())) == 1


def test_anti_spoof_without_a_model_says_so(service_app: ServiceApp, tmp_path: Path) -> None:
    with service_app("voice", tmp_path, ANTISPOOF_MODEL="") as client:
        ready = client.get("/readyz").json()
        assert "ANTISPOOF_MODEL is not set" in ready["antispoof"]["error"]
        response = client.post("/voice/anti-spoof", files=[("files", clip("spoof/en_stp_human_next.wav"))])
        assert response.status_code == 503
        body = response.json()
        assert "ANTISPOOF_MODEL is not set" in body["detail"] and body["retryable"] is False
        # Verification does not depend on it.
        reference = clip(enroll_clip(SPEAKERS[0]))
        ok = client.post("/voice/verify_with_reference", files=[("reference", reference), ("files", reference)])
        assert ok.status_code == 200 and ok.json()["results"][0]["verdict"] == "ACCEPT"


def test_stored_reference_is_the_decoded_upload(service_app: ServiceApp, tmp_path: Path) -> None:
    relative = enroll_clip(SPEAKERS[1])
    with service_app("voice", tmp_path) as client:
        path = register(client, relative)["file_path"]
    stored = read_mono((tmp_path / "voice" / path).read_bytes())
    original = read_mono((DATA / relative).read_bytes())
    assert stored.size == original.size
    assert np.max(np.abs(stored - original)) < 2e-4  # 16-bit PCM of the same samples


@pytest.mark.parametrize("offset", ["9223372036854775808", "-1", "abc"])
def test_a_listing_offset_out_of_range_is_a_422_not_a_500(service_app: ServiceApp, tmp_path: Path, offset: str) -> None:
    with service_app("voice", tmp_path) as client:
        response = client.get("/voice/speakers", params={"offset": offset})
    assert response.status_code == 422, response.text
    assert response.json()["request_id"] != "-"


def test_a_print_that_needs_its_lost_recording_is_a_409_that_says_what_to_do(
    service_app: ServiceApp, tmp_path: Path
) -> None:
    """A print made by another speaker model is moved to the current one from its stored recording; when
    that recording is gone (a lost volume), verifying says so instead of failing with a 500."""
    speaker = SPEAKERS[0]
    with service_app("voice", tmp_path) as client:
        made = register(client, enroll_clip(speaker))
        engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'voice' / 'voice.db'}")
        with engine.begin() as connection:
            path = connection.execute(
                sqlalchemy.text(
                    "UPDATE voice_prints SET model_id = 'an-older-model' WHERE id = :id RETURNING reference_path"
                ),
                {"id": made["speaker_id"]},
            ).scalar_one()
        engine.dispose()
        (tmp_path / "voice" / path).unlink()
        response = client.post(f"/voice/verify/{made['speaker_id']}", files=[("files", clip(probe_clip(speaker)))])
        assert response.status_code == 409, response.text
        assert "register the speaker again" in response.json()["detail"]
