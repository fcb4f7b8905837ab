"""The /webrtc-demo page in a real headless Chromium, through the gateway: a fake microphone plays real
speech, the page shows the transcription and the agent's text and hears its voice; closing the page
hangs up at once, and a browser killed outright is noticed when its media stops."""

import os
import shutil
import signal
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import psutil
import pytest
from playwright.async_api import BrowserContext, Page, async_playwright

from tests.audio_files import read_mono
from tests.conftest import DATA
from tests.webrtc_peer import FLEET_WEBRTC, assert_heard, peers, until_peers

pytestmark = pytest.mark.fleet

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CLIP = "asr/sb_spk1_snt1.wav"
OFFLINE_FLAGS = [
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]


def fake_microphone(path: Path) -> Path:
    """1 s of silence, the clip, then 15 s of silence, as 16-bit PCM (Chromium plays 24-bit as silence)."""
    speech = read_mono((DATA / CLIP).read_bytes(), rate=48_000)
    pcm = np.concatenate([np.zeros(48_000), speech, np.zeros(48_000 * 15)])
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48_000)
        out.writeframes((np.clip(pcm, -1, 1) * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture
async def browser(fleet: str, tmp_path: Path) -> AsyncIterator[BrowserContext]:
    assert shutil.which(CHROMIUM), f"Chromium not found at {CHROMIUM}: apt-get install chromium (or set CHROMIUM)"
    mic = fake_microphone(tmp_path / "mic.wav")
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={mic}",
                "--autoplay-policy=no-user-gesture-required",
                "--allow-loopback-in-peer-connection",
                *OFFLINE_FLAGS,
            ],
        )
        yield context
        await context.close()


async def open_demo(context: BrowserContext, fleet: str) -> Page:
    page = context.pages[0] if context.pages else await context.new_page()
    await page.goto(f"{fleet}/webrtc-demo?language=en&autostart=1")
    await page.wait_for_function("document.getElementById('status').textContent === 'connected'", timeout=20_000)
    return page


async def test_the_demo_page_talks_with_the_agent(browser: BrowserContext, fleet: str) -> None:
    page = await open_demo(browser, fleet)
    await page.wait_for_selector(".transcription", timeout=30_000)
    assert_heard({"text": await page.inner_text(".transcription")}, CLIP)
    await page.wait_for_function("window.chatEvents.some(e => e.type === 'agent_end')", timeout=60_000)
    assert (await page.inner_text(".agent-text")).strip()
    await page.wait_for_function("window.agentVoicePeak > 0.02", timeout=10_000)  # the voice was heard
    assert peers(FLEET_WEBRTC) == 1

    await page.goto("about:blank")  # pagehide: the page hangs up
    assert await until_peers(FLEET_WEBRTC, 0, within_s=5) < 2


async def test_a_killed_browser_is_noticed_when_its_media_stops(browser: BrowserContext, fleet: str) -> None:
    await open_demo(browser, fleet)
    assert peers(FLEET_WEBRTC) == 1
    chromium = [
        p
        for p in psutil.process_iter(["exe", "cmdline"])
        if "--use-file-for-fake-audio-capture" in " ".join(p.info["cmdline"] or [])
    ]
    assert chromium
    for process in chromium:
        os.kill(process.pid, signal.SIGKILL)
    # No goodbye reaches the server; PEER_MEDIA_TIMEOUT_S is 3 s in the test fleet (ICE consent takes 30 s).
    waited = await until_peers(FLEET_WEBRTC, 0, within_s=10)
    assert waited >= 2
